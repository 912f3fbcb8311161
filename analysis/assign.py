"""Assign any customer table with a saved model: segment and classic RFM cell, without refitting.

One public verb, :func:`assign_customers`. On the customers a run was fitted
on it reproduces that run's segments and RFM scores exactly (tested); on other
customers (a later month, one customer in a stream) it applies the same
transforms, centroids and score edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import DataError
from analysis.features import FeatureTransform
from analysis.model import SegmentModel
from analysis.rfm_edges import score_with_edges
from analysis.segmentation import assign_to_clusters

__all__ = ["ASSIGNMENT_COLUMNS", "assign_customers", "transform_of"]

ASSIGNMENT_COLUMNS = ("customer_id", "segment", "r_score", "f_score", "m_score", "rfm_cell", "rfm_segment")


def transform_of(model: SegmentModel) -> FeatureTransform:
    """The model's feature transform as the object :func:`analysis.features.build_features` fits."""
    specs = model.features.transforms
    clipped = any(s.winsorize is not None for s in specs)
    return FeatureTransform(
        columns=tuple(s.name for s in specs),
        bounds=tuple(tuple(s.winsorize) if s.winsorize is not None else (-np.inf, np.inf) for s in specs)
        if clipped
        else None,
        log1p=tuple(s.log1p for s in specs),
        scaler=model.features.scaler,
        center=tuple(s.center for s in specs),
        scale=tuple(s.scale for s in specs),
    )


def _matrix(customers: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    missing = [c for c in columns if c not in customers.columns]
    if missing:
        raise DataError(f"the model needs customer column(s) {missing!r}; the table has {list(customers.columns)!r}.")
    raw = customers[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(raw)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{int(bad.any(axis=1).sum())} customer(s) lack a finite value the model needs.",
            column=columns[col],
            value=str(customers["customer_id"].iloc[row]) if "customer_id" in customers else None,
        )
    return raw


def assign_customers(customers: pd.DataFrame, model: SegmentModel, *, tiebreak: Sequence[str]) -> pd.DataFrame:
    """Give every customer the model's segment and RFM scores.

    Parameters
    ----------
    customers
        One row per customer with ``customer_id`` and the model's feature
        columns plus ``recency``, ``frequency`` and ``monetary`` (as in
        :class:`analysis.customers.CustomerSchema`, recency measured to the
        date the caller chooses).
    model
        A loaded ``model.json``.
    tiebreak
        The customers' keyed pseudonyms (the RFM tie-break the model's score
        edges were fitted with), in row order.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`, one row per customer in input order:
        ``segment`` (the model's segment id), ``r_score``/``f_score``/``m_score``
        (1..bins), ``rfm_cell`` (e.g. ``"545"``) and ``rfm_segment`` (its name).

    Raises
    ------
    DataError
        A needed column is missing or not finite, or ``tiebreak`` has the wrong length.
    """
    if len(tiebreak) != len(customers):
        raise DataError(f"'tiebreak' must hold one pseudonym per customer ({len(customers)}); got {len(tiebreak)}.")
    transform = transform_of(model)
    X = transform.apply(_matrix(customers, transform.columns))
    segment = assign_to_clusters(X, model.clusters)
    rfm = _matrix(customers, ("recency", "frequency", "monetary"))
    scores = score_with_edges(rfm[:, 0], rfm[:, 1], rfm[:, 2], tiebreak, model.rfm.edges)
    cells = [f"{r}{f}{m}" for r, f, m in zip(scores["r"], scores["f"], scores["m"], strict=True)]
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "segment": segment,
            "r_score": scores["r"],
            "f_score": scores["f"],
            "m_score": scores["m"],
            "rfm_cell": cells,
            "rfm_segment": [model.rfm.cells[c] for c in cells],
        },
        columns=list(ASSIGNMENT_COLUMNS),
    )
