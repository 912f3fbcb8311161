"""Segments for the lifetime-value holdout check, formed from the calibration period only.

The per-segment holdout error compares what the model predicted for each
group after the calibration period with what the group then bought. Grouping
customers by the run's own segments would leak the answer: those segments were
drawn on the whole log, holdout included (a "Hibernating" segment is defined by
not buying in the holdout). So the check uses segments a run could have drawn on
the calibration date: the same features, k and clustering on the customer table
cut at the calibration end (:func:`analysis.customers.customer_table` with
``until``), named from the same playbook, and each paired with the run's segment
it resembles (optimal assignment on centre distance in the run's feature space,
or the same persona: :func:`analysis.identity.match_segments`), so the page can
say "customers who looked like Champions on the calibration date".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analysis.clean import CleanedData
from analysis.config import Config
from analysis.customers import customer_table
from analysis.errors import SegmentationError
from analysis.features import FeatureMatrix, build_features
from analysis.identity import match_segments
from analysis.naming import name_segments
from analysis.profiles import profile_segments
from analysis.segmentation import Segmentation, segment_customers

__all__ = ["ValidationGroup", "ValidationSegments", "calibration_segments"]


@dataclass(frozen=True)
class ValidationGroup:
    """One calibration-time segment: its number, the run's segment it resembles (or None), and its name."""

    number: int
    segment: int | None
    persona: str
    name: str


@dataclass(frozen=True)
class ValidationSegments:
    """``of``: customer id -> calibration-time segment number; ``groups``: one entry per number."""

    of: pd.Series
    groups: tuple[ValidationGroup, ...]


def calibration_segments(
    cleaned: CleanedData,
    *,
    calibration_end: dt.date,
    k: int,
    final: Segmentation,
    final_features: FeatureMatrix,
    final_personas: dict[int, str],
    config: Config,
) -> ValidationSegments | None:
    """Segment the customers as they were on ``calibration_end``; ``None`` when that cannot be done.

    It cannot when too few customers had bought by then to form ``k`` segments,
    or when a feature the run clusters on is missing on that date.
    """
    try:
        unfixed = config.customers.model_copy(update={"snapshot_date": None})
        table = customer_table(cleaned, config=unfixed, until=calibration_end)
        customers = table.customers
        if len(customers) <= k:
            return None
        features = build_features(customers, config=config.features)
        if features.columns != final_features.columns:
            return None
        spend = customers["monetary"].to_numpy()
        cal = segment_customers(features.values, k, config=config.cluster, spend=spend, order=features.canonical_order)
    except SegmentationError:
        return None
    profiles = profile_segments(customers, cal.labels, features=features.columns, config=config.cluster)
    named = {s.id: s for s in name_segments(profiles, playbook_path=config.naming.playbook)}
    X_ref = final_features.transform.apply(customers[list(final_features.columns)].to_numpy(dtype="float64"))
    pairs, _ = match_segments(
        X_ref,
        cal.labels,
        list(cal.ids),
        final.clusters,
        reference_personas=final_personas,
        personas={i: s.persona for i, s in named.items()},
        limit=config.history.max_match_distance,
    )
    groups = tuple(
        ValidationGroup(
            number=i, segment=pairs[i][0] if i in pairs else None, persona=named[i].persona, name=named[i].name
        )
        for i in cal.ids
    )
    return ValidationSegments(of=pd.Series(cal.labels, index=customers["customer_id"].to_numpy()), groups=groups)
