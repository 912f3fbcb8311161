"""Who moved where since the previous refresh: per customer, previous segment -> current segment.

One public verb, :func:`migrate`. Customers are joined on their keyed
pseudonym, which is why a real ``SEGMENTATION_KEY`` is required (checked by
the caller): with a key derived from the data file, the same customer gets a
different pseudonym in every refresh.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.history_schema import MigrationSection, Transition

__all__ = ["migrate"]


def _fsum(values: pd.Series) -> float:
    return round(math.fsum(values.tolist()), 2)


def migrate(
    previous: pd.Series,
    *,
    pseudonyms: np.ndarray,
    labels: np.ndarray,
    revenue: np.ndarray,
    predicted_value: np.ndarray | None,
    previous_snapshot: str,
    current_snapshot: str,
) -> MigrationSection:
    """Count transitions between the previous and the current segments.

    Parameters
    ----------
    previous
        ``pseudonym -> segment id`` at the previous refresh.
    pseudonyms, labels, revenue
        This refresh's customers: pseudonym, segment id and spend, aligned.
    predicted_value
        Their predicted lifetime value (aligned), or ``None`` without a CLV model.
    previous_snapshot, current_snapshot
        ISO snapshot dates of the two refreshes.

    Returns
    -------
    MigrationSection
        Transitions for every non-empty ``(from, to)`` pair: ``from = None`` for
        customers new since the previous refresh, ``to = None`` for previous
        customers absent now (their revenue and value are 0 here). The counts
        of the ``from`` side sum to ``in_both + gone``; of the ``to`` side to
        ``current_customers``.
    """
    current = pd.DataFrame(
        {
            "pseudonym": np.asarray(pseudonyms, dtype=object),
            "to": np.asarray(labels, dtype=np.int64),
            "revenue": np.asarray(revenue, dtype="float64"),
            "value": np.nan if predicted_value is None else np.asarray(predicted_value, dtype="float64"),
        }
    )
    current["from"] = current["pseudonym"].map(previous).astype("Int64")
    gone = previous[~previous.index.isin(current["pseudonym"])]
    rows = []
    for (src, dst), group in current.groupby(["from", "to"], dropna=False, sort=True):
        src = None if pd.isna(src) else int(src)
        values = group["value"].dropna()
        rows.append(
            Transition(
                **{"from": src},
                to=int(dst),
                customers=len(group),
                revenue=_fsum(group["revenue"]),
                predicted_value=None if predicted_value is None else _fsum(values),
            )
        )
    lost_value = None if predicted_value is None else 0.0
    for src, count in gone.value_counts().sort_index().items():
        rows.append(
            Transition(**{"from": int(src)}, to=None, customers=int(count), revenue=0.0, predicted_value=lost_value)
        )
    in_both = int(current["from"].notna().sum())
    moved = int((current["from"].notna() & (current["from"] != current["to"])).sum())
    return MigrationSection(
        previous_snapshot=previous_snapshot,
        current_snapshot=current_snapshot,
        previous_customers=len(previous),
        current_customers=len(current),
        in_both=in_both,
        new=len(current) - in_both,
        gone=len(gone),
        moved=moved,
        transitions=sorted(rows, key=lambda r: (r.from_ is None, r.from_ or 0, r.to is None, r.to or 0)),
    )
