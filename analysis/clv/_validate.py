"""Holdout validation: predicted vs actual repeat purchase occasions after the calibration period."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv._schema import HoldoutRow

__all__ = ["holdout_rows"]


def _row(label: str, actual: np.ndarray, predicted: np.ndarray, **extra) -> HoldoutRow:
    n = int(actual.size)
    act, pred = float(actual.sum()), float(predicted.sum())
    diff = predicted - actual
    return HoldoutRow(
        label=label,
        customers=n,
        actual=act,
        predicted=pred,
        actual_per_customer=act / n if n else 0.0,
        predicted_per_customer=pred / n if n else 0.0,
        error=pred - act,
        relative_error=(pred - act) / act if act > 0 else None,
        mae=float(np.abs(diff).mean()) if n else 0.0,
        rmse=float(np.sqrt((diff**2).mean())) if n else 0.0,
        **extra,
    )


def holdout_rows(
    table: pd.DataFrame, *, segment_names: dict[int, str], frequency_bins: int
) -> tuple[HoldoutRow, list[HoldoutRow], list[HoldoutRow]]:
    """Compare predicted and actual holdout purchases overall, per segment and by frequency.

    Parameters
    ----------
    table
        One row per calibration-cohort customer with columns ``frequency``
        (calibration repeat occasions), ``segment`` (int or missing), ``actual``
        and ``predicted`` (holdout purchase occasions).
    segment_names
        ``{segment id: name}``; every segment gets a row, empty ones included.
    frequency_bins
        Frequencies ``0 .. frequency_bins - 1`` get a row each; the rest share ``"n+"``.

    Returns
    -------
    tuple
        ``(overall, per_segment, by_frequency)``.
    """
    actual = table["actual"].to_numpy(float)
    predicted = table["predicted"].to_numpy(float)
    overall = _row("All customers", actual, predicted)
    seg = table["segment"]
    per_segment = []
    for sid in sorted(segment_names):
        mask = (seg == sid).to_numpy(dtype=bool)
        per_segment.append(_row(segment_names[sid], actual[mask], predicted[mask], segment=int(sid)))
    freq = table["frequency"].to_numpy(float)
    by_frequency = []
    for k in range(frequency_bins):
        last = k == frequency_bins - 1
        mask = freq >= k if last else freq == k
        by_frequency.append(
            _row(
                f"{k}+" if last else str(k),
                actual[mask],
                predicted[mask],
                frequency_min=k,
                frequency_max=None if last else k,
            )
        )
    return overall, per_segment, by_frequency
