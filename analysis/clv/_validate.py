"""Holdout validation: predicted vs actual repeat purchase occasions after the calibration period."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.clv._schema import HoldoutRow, HoldoutValidation

__all__ = ["holdout_rows", "holdout_validation"]


def _row(actual: np.ndarray, predicted: np.ndarray, **extra) -> HoldoutRow:
    n = int(actual.size)
    act, pred = float(actual.sum()), float(predicted.sum())
    diff = predicted - actual
    return HoldoutRow(
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


def _groups(codes: np.ndarray, size: int, actual: np.ndarray, predicted: np.ndarray):
    """Each group's ``(actual, predicted)``, for group codes ``0 .. size - 1`` (others are left out).

    One stable sort instead of a mask per group; every group keeps its rows in
    table order, copied out as a masked selection would be.
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(size + 1), side="left")
    act, pred = actual[order], predicted[order]
    for g in range(size):
        sl = slice(bounds[g], bounds[g + 1])
        yield act[sl].copy(), pred[sl].copy()


def holdout_rows(
    table: pd.DataFrame, *, groups: list[dict], frequency_bins: int
) -> tuple[HoldoutRow, list[HoldoutRow], list[HoldoutRow]]:
    """Compare predicted and actual holdout purchases overall, per group and by frequency.

    Parameters
    ----------
    table
        One row per calibration-cohort customer with columns ``frequency``
        (calibration repeat occasions), ``group`` (the customer's group number,
        or missing), ``actual`` and ``predicted`` (holdout purchase occasions).
    groups
        One dict per group, in row order: ``number`` (what ``table["group"]``
        holds) and the row's ``segment`` / ``group`` / ``name`` fields. Every
        group gets a row, empty ones included.
    frequency_bins
        Frequencies ``0 .. frequency_bins - 1`` get a row each; the rest share the last.

    Returns
    -------
    tuple
        ``(overall, per_group, by_frequency)``.
    """
    actual = table["actual"].to_numpy(float)
    predicted = table["predicted"].to_numpy(float)
    overall = _row(actual, predicted)
    numbers = [g["number"] for g in groups]
    codes = pd.Index(numbers).get_indexer(table["group"].to_numpy()) if numbers else np.full(len(table), -1)
    per_group = [
        _row(act, pred, **{k: v for k, v in g.items() if k != "number"})
        for g, (act, pred) in zip(groups, _groups(codes, len(numbers), actual, predicted), strict=True)
    ]
    freq = table["frequency"].to_numpy(float)
    last = frequency_bins - 1
    with np.errstate(invalid="ignore"):
        whole = (freq == np.floor(freq)) & (freq >= 0)
    freq_codes = np.where(freq >= last, last, np.where(whole, freq, -1)).astype(np.int64)
    by_frequency = [
        _row(act, pred, frequency_min=k, frequency_max=None if k == last else k)
        for k, (act, pred) in enumerate(_groups(freq_codes, frequency_bins, actual, predicted))
    ]
    return overall, per_group, by_frequency


def holdout_validation(
    table: pd.DataFrame,
    *,
    start: dt.date,
    calibration_end: dt.date,
    end: dt.date,
    unit_days: float,
    new_in_holdout: int,
    groups: list[dict],
    basis: str,
    frequency_bins: int,
) -> HoldoutValidation:
    """The bundle's holdout check from a :func:`holdout_rows` table of the calibration cohort.

    Parameters
    ----------
    table
        As for :func:`holdout_rows`, one row per calibration-cohort customer.
    start, calibration_end, end
        First purchase, last calibration day and last holdout day.
    unit_days
        Days per model time unit.
    new_in_holdout
        Customers first seen after ``calibration_end``.
    groups, frequency_bins
        As for :func:`holdout_rows`.
    basis
        ``"calibration"`` (groups are calibration-time segments) or ``"final"`` (the run's segments).
    """
    overall, per_seg, by_freq = holdout_rows(table, groups=groups, frequency_bins=frequency_bins)
    return HoldoutValidation(
        calibration_start=start.isoformat(),
        calibration_end=calibration_end.isoformat(),
        holdout_start=(calibration_end + dt.timedelta(days=1)).isoformat(),
        holdout_end=end.isoformat(),
        calibration_length=(calibration_end - start).days / unit_days,
        holdout_length=(end - calibration_end).days / unit_days,
        customers=len(table),
        new_in_holdout=new_in_holdout,
        overall=overall,
        segments_basis=basis,
        segments=per_seg,
        by_frequency=by_freq,
    )
