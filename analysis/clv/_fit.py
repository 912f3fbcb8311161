"""``fit_clv``: orders in, the bundle's ``clv`` section and a private per-customer table out."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
from analysis.clv._schema import ClvSection, HoldoutValidation
from analysis.clv._tables import PER_CUSTOMER_COLUMNS, customer_tables
from analysis.clv._validate import holdout_validation
from analysis.clv._value import customer_value
from analysis.config import ClvConfig

__all__ = ["ClvResult", "fit_clv", "PER_CUSTOMER_COLUMNS"]


DEFINITIONS = {
    "purchase occasion": "a calendar day on which the customer ordered; its spend is the sum of that day's orders",
    "frequency": "repeat purchase occasions: occasions after the first one",
    "recency": "time from the first to the last purchase occasion",
    "T": "customer age: time from the first purchase occasion to the end of the period",
    "monetary value": "mean spend per repeat purchase occasion (the first purchase is left out)",
}

ASSUMPTIONS = [
    "While active, a customer buys at a steady random (Poisson) rate.",
    "Purchase rates differ between customers following a gamma distribution.",
    "After any purchase a customer may become inactive for good, with a probability that differs "
    "between customers (beta distribution).",
    "Purchase rate and dropout probability are independent of each other.",
    "A customer's spend per purchase varies around their own mean; those means differ between customers (Gamma-Gamma).",
    "Spend per purchase is independent of how often the customer buys.",
    "The market does not change over the forecast horizon (no seasonality or campaigns in the model).",
]

DISCOUNTING = (
    "Purchases expected in each month of the horizon are valued at the expected spend and discounted "
    "to the end of observation at the annual rate, (1 + rate) ** -(months / 12)."
)
INTERVALS = (
    "Delta-method intervals from the standard errors of the seven parameters: the uncertainty of the "
    "expected value caused by estimating the models, not the range of what a customer will spend."
)


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


def _sig(value: float, digits: int = 6) -> float | None:
    # Round to significant digits so the bundle's bytes do not depend on the last
    # bits of an optimiser run; non-finite numbers become None.
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def _round_tree(obj):
    if isinstance(obj, float):
        return _sig(obj)
    if isinstance(obj, dict):
        return {k: _round_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round_tree(v) for v in obj]
    return obj


def _merge(bg: MleFit, gg: MleFit) -> tuple[dict[str, float], dict[str, float] | None]:
    params = bg.as_dict() | gg.as_dict()
    se_bg, se_gg = bg.standard_errors(), gg.standard_errors()
    se = None if se_bg is None or se_gg is None else se_bg | se_gg
    return params, se


def _default_calibration_end(start: dt.date, end: dt.date, share: float) -> dt.date:
    span = (end - start).days
    return end - dt.timedelta(days=int(round(share * span)))


def _empty_per_customer() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in PER_CUSTOMER_COLUMNS})
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["segment"] = frame["segment"].astype("Int64")
    return frame


def _correlation_text(corr: float | None, limit: float) -> tuple[str | None, str | None]:
    if corr is None:
        return None, None
    size = abs(corr)
    text = f"Frequency and spend per purchase correlate at {corr:.2f} among repeat buyers; " + (
        "weak enough for the Gamma-Gamma independence assumption."
        if size <= limit
        else f"above the {limit:.2f} limit, so the independence assumption is doubtful."
    )
    warning = None if size <= limit else f"Gamma-Gamma independence check failed: {text}"
    return text, warning


def fit_clv(
    orders: pd.DataFrame | Occasions,
    *,
    config: ClvConfig,
    segment_of: pd.Series,
    segment_names: dict[int, str],
    observation_end: dt.date,
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
    segment_names
        ``{segment id: name}``.
    observation_end
        Last day observed (inclusive); forecasts start the day after.

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
    cal_end = config.calibration_end or _default_calibration_end(start, observation_end, config.holdout_share)
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
        cal_seg = seg.to_numpy()[cal.seen[full.seen]]
        results["validation"] = _validation(config, periods, full, cal, cal_seg, fits["bg_cal"], occ, segment_names)
        del occ, cal  # their last use: the value tables below are the memory peak
        results |= _results(config, full, seg, fits, segment_names)
    per_customer = results.pop("per_customer", None)
    section = _section(config, periods, counts, reasons, results)
    return ClvResult(section=section, per_customer=_empty_per_customer() if per_customer is None else per_customer)


def _from_day_number(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


def _data_reasons(config: ClvConfig, periods: dict, gg_buyers: int) -> list[str]:
    # Why the data cannot support a fit, before fitting anything.
    unit_days = UNIT_DAYS[config.time_unit]
    start, cal_end, end = periods["start"], periods["cal_end"], periods["end"]
    cal_length = (cal_end - start).days / unit_days
    reasons = []
    if cal_end < start or cal_end >= end:
        reasons.append(
            f"the calibration end {cal_end.isoformat()} must fall between the first purchase "
            f"{start.isoformat()} and the end of observation {end.isoformat()}"
        )
    elif cal_length < config.min_calibration_units:
        reasons.append(
            f"the calibration period is {cal_length:.1f} {config.time_unit}s long; "
            f"at least {config.min_calibration_units:g} are needed"
        )
    if gg_buyers < config.min_repeat_buyers:
        reasons.append(
            f"only {gg_buyers} customers bought again in the calibration period; "
            f"at least {config.min_repeat_buyers} are needed"
        )
    return reasons


def _fit_models(config: ClvConfig, periods: dict, full: _Period, cal: _Period, gg_cal: np.ndarray) -> dict:
    bg_cal = fit_bgnbd(cal["frequency"], cal["recency"], cal["T"], rows=cal.rows)
    gg_fit = fit_gammagamma(cal["frequency"][gg_cal], cal["monetary_value"][gg_cal])
    bg, gg = bg_cal, gg_fit
    fitted_on = f"calibration period {periods['start'].isoformat()} to {periods['cal_end'].isoformat()}"
    if config.refit_on_full:
        repeat = (full["frequency"] > 0) & (full["monetary_value"] > 0)
        bg = fit_bgnbd(full["frequency"], full["recency"], full["T"], rows=full.rows)
        gg = fit_gammagamma(full["frequency"][repeat], full["monetary_value"][repeat])
        fitted_on = f"whole observation period {periods['start'].isoformat()} to {periods['end'].isoformat()}"
    reasons = []
    for name, fit in (("BG/NBD", bg_cal), ("Gamma-Gamma", gg_fit), ("BG/NBD refit", bg), ("Gamma-Gamma refit", gg)):
        if not fit.converged:
            reasons.append(f"the {name} fit is not trustworthy: {fit.message}")
    for name, fit in (("calibration", gg_fit), ("forecast", gg)):
        if fit.params[1] <= 1.0:
            reasons.append(f"the {name} Gamma-Gamma q is {fit.params[1]:.3g}; it must exceed 1 for mean spend to exist")
    return {"bg_cal": bg_cal, "gg_cal": gg_fit, "bg": bg, "gg": gg, "fitted_on": fitted_on, "reasons": reasons}


def _results(config: ClvConfig, full: _Period, seg: pd.Series, fits: dict, segment_names: dict[int, str]) -> dict:
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
    per_customer, segments, total = customer_tables(full.ids, full.cols, seg, value, segment_names)
    return {
        "params": params,
        "standard_errors": se,
        "log_likelihood": {"bgnbd": fits["bg_cal"].log_likelihood, "gammagamma": fits["gg_cal"].log_likelihood},
        "forecast_params": f_params,
        "forecast_standard_errors": f_se,
        "forecast_fitted_on": fits["fitted_on"],
        "population_mean_spend": population_mean_spend(fits["gg"].params),
        "segments": segments,
        "total": total,
        "per_customer": per_customer,
    }


def _validation(config, periods, full, cal, cal_seg, bg_cal, occ, segment_names) -> HoldoutValidation:
    # Holdout: the calibration fit predicts the calibration cohort's purchases after cal_end.
    hold_length = (periods["end"] - periods["cal_end"]).days / UNIT_DAYS[config.time_unit]
    pairs = distinct_rows(cal.rows.codes[0], cal.rows.codes[2])
    ((predicted, _),) = expected_purchases_table(bg_cal.params, np.array([hold_length]), cal.rows, pairs)
    table = pd.DataFrame(
        {
            "frequency": cal["frequency"],
            "segment": cal_seg,
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
        segment_names=segment_names,
        frequency_bins=config.frequency_bins,
    )


def _section(config: ClvConfig, periods: dict, counts: dict, reasons: list[str], results: dict) -> ClvSection:
    unit_days = UNIT_DAYS[config.time_unit]
    reliable = not reasons
    text, warning = _correlation_text(
        results.get("spend_frequency_correlation"), config.max_spend_frequency_correlation
    )
    model = {
        k: results.get(k)
        for k in (
            "params",
            "standard_errors",
            "log_likelihood",
            "forecast_params",
            "forecast_standard_errors",
            "forecast_fitted_on",
            "spend_frequency_correlation",
            "population_mean_spend",
            "segments",
            "total",
            "validation",
        )
    }
    section = ClvSection(
        reliable=reliable,
        reason=None if reliable else "The lifetime-value model is not shown: " + "; ".join(reasons) + ".",
        warnings=[warning] if warning else [],
        time_unit=config.time_unit,
        time_unit_days=unit_days,
        horizon=config.horizon,
        horizon_days=config.horizon * unit_days,
        annual_discount_rate=config.annual_discount_rate,
        discounting=DISCOUNTING,
        interval_level=config.interval_level,
        interval_method=INTERVALS,
        observation_start=periods["start"].isoformat(),
        observation_end=periods["end"].isoformat(),
        definitions=DEFINITIONS,
        assumptions=ASSUMPTIONS,
        independence_check=text,
        **counts,
        **model,
    )
    return ClvSection.model_validate(_round_tree(section.model_dump()))
