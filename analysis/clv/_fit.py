"""``fit_clv``: orders in, the bundle's ``clv`` section and a private per-customer table out."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis._rounding import round_tree
from analysis.clv._bgnbd import expected_purchases_table, fit_bgnbd
from analysis.clv._data import (
    UNIT_DAYS,
    Occasions,
    counts_between,
    day_number,
    occasions,
    summary_arrays,
)
from analysis.clv._gammagamma import fit_gammagamma, population_mean_spend
from analysis.clv._mle import MleFit
from analysis.clv._rows import Rows, distinct_rows, history_rows
from analysis.clv._schema import ClvSection, HoldoutValidation, Withheld
from analysis.clv._tables import PER_CUSTOMER_COLUMNS, customer_tables
from analysis.clv._validate import holdout_validation
from analysis.clv._value import customer_value
from analysis.config import ClvConfig

if TYPE_CHECKING:
    from analysis.validation_segments import ValidationSegments

__all__ = ["ClvResult", "fit_clv", "calibration_end_for", "PER_CUSTOMER_COLUMNS"]

_TWO_YEARS = 730  # below this span a dropout rate that cannot be estimated reads as "history too short"


@dataclass(frozen=True)
class ClvResult:
    """What :func:`fit_clv` returns.

    Attributes
    ----------
    section
        The bundle's ``clv`` section.
    per_customer
        Private export, one row per customer (columns :data:`PER_CUSTOMER_COLUMNS`):
        ``customer_id`` (raw), ``segment`` (Int64, missing when unsegmented),
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (forecast-origin
        summaries in ``time_unit``), and ``expected_purchases``, ``p_alive``,
        ``expected_spend``, ``clv`` each with ``_low`` / ``_high`` bounds.
        Empty (same columns) when the section is not reliable.
    """

    section: ClvSection
    per_customer: pd.DataFrame


@dataclass(frozen=True)
class _Period:
    """Summaries of the customers first seen by the end of a period, in customer id order."""

    ids: pd.Index
    cols: dict[str, np.ndarray]  # frequency, recency, T, monetary_value
    rows: Rows
    seen: np.ndarray  # which of all customers these are

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]


def _period(occ: Occasions, end: dt.date, time_unit: str) -> _Period:
    seen, cols = summary_arrays(occ, end=end, time_unit=time_unit)
    rows = history_rows(cols, unit_days=UNIT_DAYS[time_unit])
    cols = {c: cols[c] for c in ("frequency", "recency", "T", "monetary_value")}
    return _Period(ids=occ.customer_ids[seen], cols=cols, rows=rows, seen=seen)


def _merge(bg: MleFit, gg: MleFit) -> tuple[dict[str, float], dict[str, float] | None]:
    params = bg.as_dict() | gg.as_dict()
    se_bg, se_gg = bg.standard_errors(), gg.standard_errors()
    se = None if se_bg is None or se_gg is None else se_bg | se_gg
    return params, se


def calibration_end_for(start: dt.date, end: dt.date, config: ClvConfig) -> dt.date:
    """The last calibration day: configured, or the end minus ``holdout_share`` of the span."""
    if config.calibration_end is not None:
        return config.calibration_end
    span = (end - start).days
    return end - dt.timedelta(days=int(round(config.holdout_share * span)))


def _empty_per_customer() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in PER_CUSTOMER_COLUMNS})
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["segment"] = frame["segment"].astype("Int64")
    return frame


def fit_clv(
    orders: pd.DataFrame | Occasions,
    *,
    config: ClvConfig,
    segment_of: pd.Series,
    segment_ids: Sequence[int],
    observation_end: dt.date,
    validation: ValidationSegments | None = None,
) -> ClvResult:
    """Fit BG/NBD and Gamma-Gamma, validate on a holdout, and value every customer.

    Parameters
    ----------
    orders
        One row per order: ``customer_id`` (str), ``order_id``, ``timestamp``
        (datetime64), ``amount`` (>= 0); or their purchase occasions, already
        grouped (:func:`~analysis.clv._data.occasions`). Orders after
        ``observation_end`` are ignored.
    config
        The ``[clv]`` section (time unit, calibration end, horizon, discount rate,
        reliability thresholds, interval level).
    segment_of
        ``customer_id -> segment id``.
    segment_ids
        Every segment id (each gets a value row, empty ones included).
    observation_end
        Last day observed (inclusive); forecasts start the day after.
    validation
        Segments drawn on the calibration period only (:mod:`analysis.validation_segments`),
        for the per-segment holdout rows; without them the rows use ``segment_of``
        and say so (``segments_basis = "final"``).

    Returns
    -------
    ClvResult
        The bundle section and the private per-customer table.

    Raises
    ------
    DataError
        When the orders do not follow the input contract.
    """
    occ = orders if isinstance(orders, Occasions) else occasions(orders)
    observed = occ.day[occ.day <= day_number(observation_end)]
    start = _from_day_number(int(observed.min())) if observed.size else observation_end
    cal_end = calibration_end_for(start, observation_end, config)
    periods = {"start": start, "cal_end": cal_end, "end": observation_end}
    full = _period(occ, observation_end, config.time_unit)
    cal = _period(occ, cal_end, config.time_unit)
    seg = pd.Series(segment_of).reindex(full.ids)
    gg_cal = (cal["frequency"] > 0) & (cal["monetary_value"] > 0)
    counts = {
        "customers": len(full),
        "repeat_buyers": int((full["frequency"] > 0).sum()),
        "calibration_repeat_buyers": int((cal["frequency"] > 0).sum()),
        "customers_without_segment": int(seg.isna().sum()),
        "zero_spend_repeat_buyers": int((cal["frequency"] > 0).sum() - gg_cal.sum()),
    }
    reasons = _data_reasons(config, periods, int(gg_cal.sum()))
    fits = None if reasons else _fit_models(config, periods, full, cal, gg_cal)
    if fits is not None:
        reasons = fits.pop("reasons")
    results: dict = {}
    if not reasons:
        corr = float(np.corrcoef(cal["frequency"][gg_cal], cal["monetary_value"][gg_cal])[0, 1])
        results["spend_frequency_correlation"] = corr if math.isfinite(corr) else None
        groups, basis, group_of = _holdout_groups(seg, cal, full, segment_ids, validation)
        results["validation"] = _validation(config, periods, full, cal, group_of, fits["bg_cal"], occ, groups, basis)
        del occ, cal  # their last use: the value tables below are the memory peak
        results |= _results(config, full, seg, fits, list(segment_ids))
    per_customer = results.pop("per_customer", None)
    section = _section(config, periods, counts, reasons, results)
    return ClvResult(section=section, per_customer=_empty_per_customer() if per_customer is None else per_customer)


def _from_day_number(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


def _data_reasons(config: ClvConfig, periods: dict, gg_buyers: int) -> list[Withheld]:
    # Why the data cannot support a fit, before fitting anything.
    unit_days = UNIT_DAYS[config.time_unit]
    start, cal_end, end = periods["start"], periods["cal_end"], periods["end"]
    cal_length = (cal_end - start).days / unit_days
    reasons = []
    if cal_end < start or cal_end >= end:
        reasons.append(Withheld(code="calibration_end_outside"))
    elif cal_length < config.min_calibration_units:
        reasons.append(Withheld(code="calibration_too_short", value=cal_length, needed=config.min_calibration_units))
    if gg_buyers < config.min_repeat_buyers:
        reasons.append(Withheld(code="too_few_repeat_buyers", value=gg_buyers, needed=config.min_repeat_buyers))
    return reasons


def _fit_models(config: ClvConfig, periods: dict, full: _Period, cal: _Period, gg_cal: np.ndarray) -> dict:
    bg_cal = fit_bgnbd(cal["frequency"], cal["recency"], cal["T"], rows=cal.rows)
    gg_fit = fit_gammagamma(cal["frequency"][gg_cal], cal["monetary_value"][gg_cal])
    bg, gg, period = bg_cal, gg_fit, "calibration"
    if config.refit_on_full:
        repeat = (full["frequency"] > 0) & (full["monetary_value"] > 0)
        bg = fit_bgnbd(full["frequency"], full["recency"], full["T"], rows=full.rows)
        gg = fit_gammagamma(full["frequency"][repeat], full["monetary_value"][repeat])
        period = "observation"
    reasons = []
    fitted = (("bgnbd", bg_cal), ("gammagamma", gg_fit), ("bgnbd_refit", bg), ("gammagamma_refit", gg))
    for name, fit in fitted[: 4 if config.refit_on_full else 2]:
        if not fit.converged:
            reasons.append(Withheld(code="fit_failed", model=name, detail=fit.message))
    for name, fit in (("gammagamma", gg_fit), ("gammagamma_refit", gg))[: 2 if config.refit_on_full else 1]:
        if fit.params[1] <= 1.0:
            reasons.append(Withheld(code="spend_not_identified", model=name, value=float(fit.params[1]), needed=1.0))
    return {"bg_cal": bg_cal, "gg_cal": gg_fit, "bg": bg, "gg": gg, "forecast_period": period, "reasons": reasons}


def _headline(reasons: list[Withheld], periods: dict) -> str | None:
    """The one reason a manager reads: short history, too few repeat buyers, or a fit that failed."""
    if not reasons:
        return None
    codes = {r.code for r in reasons}
    span_days = (periods["end"] - periods["start"]).days
    dropout_unidentified = any(r.code == "fit_failed" and r.model.startswith("bgnbd") for r in reasons)
    if "calibration_too_short" in codes or (dropout_unidentified and span_days < _TWO_YEARS):
        return "history_too_short"
    if "too_few_repeat_buyers" in codes:
        return "too_few_repeat_buyers"
    return "model_did_not_fit"


def _holdout_groups(seg: pd.Series, cal: _Period, full: _Period, segment_ids, validation):
    """The per-segment holdout groups: calibration-time segments when given, else the run's segments."""
    cal_ids = full.ids[cal.seen[full.seen]] if len(cal) else full.ids[:0]
    if validation is not None:
        groups = [
            {"number": g.number, "segment": g.segment, "group": g.number, "name": g.name} for g in validation.groups
        ]
        return groups, "calibration", validation.of.reindex(cal_ids).to_numpy()
    groups = [{"number": sid, "segment": sid} for sid in sorted(segment_ids)]
    return groups, "final", seg.to_numpy()[cal.seen[full.seen]]


def _results(config: ClvConfig, full: _Period, seg: pd.Series, fits: dict, segment_ids: list[int]) -> dict:
    # The fitted parameters, and every customer's value with the segment totals.
    params, se = _merge(fits["bg_cal"], fits["gg_cal"])
    f_params, f_se = _merge(fits["bg"], fits["gg"])
    value = customer_value(
        fits["bg"],
        fits["gg"],
        frequency=full["frequency"],
        recency=full["recency"],
        T=full["T"],
        monetary=full["monetary_value"],
        horizon=config.horizon,
        unit_days=UNIT_DAYS[config.time_unit],
        annual_rate=config.annual_discount_rate,
        level=config.interval_level,
        rows=full.rows,
    )
    per_customer, segments, total = customer_tables(full.ids, full.cols, seg, value, segment_ids)
    return {
        "params": params,
        "standard_errors": se,
        "log_likelihood": {"bgnbd": fits["bg_cal"].log_likelihood, "gammagamma": fits["gg_cal"].log_likelihood},
        "forecast_params": f_params,
        "forecast_standard_errors": f_se,
        "forecast_period": fits["forecast_period"],
        "population_mean_spend": population_mean_spend(fits["gg"].params),
        "segments": segments,
        "total": total,
        "per_customer": per_customer,
    }


def _validation(config, periods, full, cal, group_of, bg_cal, occ, groups, basis) -> HoldoutValidation:
    # Holdout: the calibration fit predicts the calibration cohort's purchases after cal_end.
    hold_length = (periods["end"] - periods["cal_end"]).days / UNIT_DAYS[config.time_unit]
    pairs = distinct_rows(cal.rows.codes[0], cal.rows.codes[2])
    ((predicted, _),) = expected_purchases_table(bg_cal.params, np.array([hold_length]), cal.rows, pairs)
    table = pd.DataFrame(
        {
            "frequency": cal["frequency"],
            "group": group_of,
            "actual": counts_between(occ, after=periods["cal_end"], end=periods["end"])[cal.seen],
            "predicted": predicted[cal.rows.inverse],
        }
    )
    return holdout_validation(
        table,
        start=periods["start"],
        calibration_end=periods["cal_end"],
        end=periods["end"],
        unit_days=UNIT_DAYS[config.time_unit],
        new_in_holdout=int(len(full) - len(cal)),
        groups=groups,
        basis=basis,
        frequency_bins=config.frequency_bins,
    )


_MODEL_FIELDS = (
    "params",
    "standard_errors",
    "log_likelihood",
    "forecast_params",
    "forecast_standard_errors",
    "forecast_period",
    "spend_frequency_correlation",
    "population_mean_spend",
    "segments",
    "total",
    "validation",
)


def _section(config: ClvConfig, periods: dict, counts: dict, reasons: list[Withheld], results: dict) -> ClvSection:
    unit_days = UNIT_DAYS[config.time_unit]
    section = ClvSection(
        reliable=not reasons,
        headline=_headline(reasons, periods),
        withheld=reasons,
        time_unit=config.time_unit,
        time_unit_days=unit_days,
        horizon=config.horizon,
        horizon_days=config.horizon * unit_days,
        annual_discount_rate=config.annual_discount_rate,
        interval_level=config.interval_level,
        observation_start=periods["start"].isoformat(),
        observation_end=periods["end"].isoformat(),
        calibration_end=periods["cal_end"].isoformat(),
        max_spend_frequency_correlation=config.max_spend_frequency_correlation,
        **counts,
        **{k: results.get(k) for k in _MODEL_FIELDS},
    )
    return ClvSection.model_validate(round_tree(section.model_dump()))
