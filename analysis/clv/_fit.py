"""``fit_clv``: orders in, the bundle's ``clv`` section and a private per-customer table out."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.clv._bgnbd import conditional_expected_purchases, fit_bgnbd
from analysis.clv._data import UNIT_DAYS, purchase_days, repeat_counts_between, summarize
from analysis.clv._gammagamma import fit_gammagamma, population_mean_spend
from analysis.clv._mle import MleFit
from analysis.clv._schema import ClvSection, ClvSegmentValue, HoldoutValidation
from analysis.clv._validate import holdout_rows
from analysis.clv._value import QUANTITIES, customer_value
from analysis.config import ClvConfig

__all__ = ["ClvResult", "fit_clv", "PER_CUSTOMER_COLUMNS"]

PER_CUSTOMER_COLUMNS = (
    "customer_id",
    "segment",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    *(f"{q}{s}" for q in QUANTITIES for s in ("", "_low", "_high")),
)

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
    orders: pd.DataFrame,
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
        (datetime64), ``amount`` (>= 0). Orders after ``observation_end`` are ignored.
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
    unit_days = UNIT_DAYS[config.time_unit]
    days = purchase_days(orders)
    days = days[days["day"] <= pd.Timestamp(observation_end)]
    start = days["day"].min().date() if len(days) else observation_end
    cal_end = config.calibration_end or _default_calibration_end(start, observation_end, config.holdout_share)

    full = summarize(days, end=observation_end, time_unit=config.time_unit)
    cal = (
        summarize(days, end=cal_end, time_unit=config.time_unit)
        if cal_end >= start
        else summarize(days.iloc[0:0], end=cal_end, time_unit=config.time_unit)
    )
    seg = pd.Series(segment_of).reindex(full.index)
    cal_repeat = cal[cal["frequency"] > 0]
    gg_rows = cal_repeat[cal_repeat["monetary_value"] > 0]
    cal_length = (cal_end - start).days / unit_days
    hold_length = (observation_end - cal_end).days / unit_days

    reasons: list[str] = []
    warnings: list[str] = []
    if cal_end < start or cal_end >= observation_end:
        reasons.append(
            f"the calibration end {cal_end.isoformat()} must fall between the first purchase "
            f"{start.isoformat()} and the end of observation {observation_end.isoformat()}"
        )
    elif cal_length < config.min_calibration_units:
        reasons.append(
            f"the calibration period is {cal_length:.1f} {config.time_unit}s long; "
            f"at least {config.min_calibration_units:g} are needed"
        )
    if len(gg_rows) < config.min_repeat_buyers:
        reasons.append(
            f"only {len(gg_rows)} customers bought again in the calibration period; "
            f"at least {config.min_repeat_buyers} are needed"
        )

    params = se = loglik = f_params = f_se = fitted_on = None
    corr = pop_spend = None
    validation = segments = total = None
    per_customer = _empty_per_customer()

    if not reasons:
        bg_cal = fit_bgnbd(cal["frequency"], cal["recency"], cal["T"])
        gg_cal = fit_gammagamma(gg_rows["frequency"], gg_rows["monetary_value"])
        bg, gg = bg_cal, gg_cal
        fitted_on = f"calibration period {start.isoformat()} to {cal_end.isoformat()}"
        if config.refit_on_full:
            full_repeat = full[(full["frequency"] > 0) & (full["monetary_value"] > 0)]
            bg = fit_bgnbd(full["frequency"], full["recency"], full["T"])
            gg = fit_gammagamma(full_repeat["frequency"], full_repeat["monetary_value"])
            fitted_on = f"whole observation period {start.isoformat()} to {observation_end.isoformat()}"
        for name, fit in (("BG/NBD", bg_cal), ("Gamma-Gamma", gg_cal), ("BG/NBD refit", bg), ("Gamma-Gamma refit", gg)):
            if not fit.converged:
                reasons.append(f"the {name} fit is not trustworthy: {fit.message}")
        for name, fit in (("calibration", gg_cal), ("forecast", gg)):
            if fit.params[1] <= 1.0:
                reasons.append(
                    f"the {name} Gamma-Gamma q is {fit.params[1]:.3g}; it must exceed 1 for mean spend to exist"
                )
        reasons = list(dict.fromkeys(reasons))

    if not reasons:
        params, se = _merge(bg_cal, gg_cal)
        loglik = {"bgnbd": bg_cal.log_likelihood, "gammagamma": gg_cal.log_likelihood}
        f_params, f_se = _merge(bg, gg)
        corr_val = float(np.corrcoef(gg_rows["frequency"], gg_rows["monetary_value"])[0, 1])
        corr = corr_val if math.isfinite(corr_val) else None
        pop_spend = population_mean_spend(gg.params)

        # Holdout: the calibration fit predicts the calibration cohort's purchases after cal_end.
        actual = repeat_counts_between(days, after=cal_end, end=observation_end).reindex(cal.index).fillna(0.0)
        predicted = conditional_expected_purchases(
            bg_cal.params, hold_length, cal["frequency"].to_numpy(), cal["recency"].to_numpy(), cal["T"].to_numpy()
        )
        table = pd.DataFrame(
            {
                "frequency": cal["frequency"].to_numpy(),
                "segment": pd.Series(segment_of).reindex(cal.index).to_numpy(),
                "actual": actual.to_numpy(),
                "predicted": predicted,
            }
        )
        overall, per_seg, by_freq = holdout_rows(
            table, segment_names=segment_names, frequency_bins=config.frequency_bins
        )
        validation = HoldoutValidation(
            calibration_start=start.isoformat(),
            calibration_end=cal_end.isoformat(),
            holdout_start=(cal_end + dt.timedelta(days=1)).isoformat(),
            holdout_end=observation_end.isoformat(),
            calibration_length=cal_length,
            holdout_length=hold_length,
            customers=len(cal),
            new_in_holdout=int(len(full) - len(cal)),
            overall=overall,
            segments=per_seg,
            by_frequency=by_freq,
            note=(
                "Purchase occasions each calibration-cohort customer made in the holdout, against the "
                "calibration fit's conditional expectation given their calibration-period history. "
                "Segments come from the whole observation period, holdout included, so per-segment "
                "errors also show how much the segmentation itself already knew about the holdout."
            ),
        )

        value = customer_value(
            bg,
            gg,
            frequency=full["frequency"].to_numpy(),
            recency=full["recency"].to_numpy(),
            T=full["T"].to_numpy(),
            monetary=full["monetary_value"].to_numpy(),
            horizon=config.horizon,
            unit_days=unit_days,
            annual_rate=config.annual_discount_rate,
            level=config.interval_level,
        )
        per_customer = _per_customer_frame(full, seg, value)
        segments, total = _segment_rows(value, seg, segment_names)

    text, warning = _correlation_text(corr, config.max_spend_frequency_correlation)
    if warning:
        warnings.append(warning)
    reliable = not reasons
    section = ClvSection(
        reliable=reliable,
        reason=None if reliable else "The lifetime-value model is not shown: " + "; ".join(reasons) + ".",
        warnings=warnings,
        time_unit=config.time_unit,
        time_unit_days=unit_days,
        horizon=config.horizon,
        horizon_days=config.horizon * unit_days,
        annual_discount_rate=config.annual_discount_rate,
        discounting=DISCOUNTING,
        interval_level=config.interval_level,
        interval_method=INTERVALS,
        observation_start=start.isoformat(),
        observation_end=observation_end.isoformat(),
        definitions=DEFINITIONS,
        assumptions=ASSUMPTIONS,
        customers=len(full),
        repeat_buyers=int((full["frequency"] > 0).sum()),
        calibration_repeat_buyers=len(cal_repeat),
        customers_without_segment=int(seg.isna().sum()),
        zero_spend_repeat_buyers=int(len(cal_repeat) - len(gg_rows)),
        params=params,
        standard_errors=se,
        log_likelihood=loglik,
        forecast_params=f_params,
        forecast_standard_errors=f_se,
        forecast_fitted_on=fitted_on if reliable else None,
        spend_frequency_correlation=corr,
        independence_check=text,
        population_mean_spend=pop_spend,
        segments=segments,
        total=total,
        validation=validation,
    )
    section = ClvSection.model_validate(_round_tree(section.model_dump()))
    return ClvResult(section=section, per_customer=per_customer)


def _per_customer_frame(full: pd.DataFrame, seg: pd.Series, value) -> pd.DataFrame:
    cols: dict[str, object] = {
        "customer_id": full.index.astype(str).to_numpy(),
        "segment": pd.array(seg.to_numpy(), dtype="Int64"),
        "frequency": full["frequency"].to_numpy(),
        "recency": full["recency"].to_numpy(),
        "T": full["T"].to_numpy(),
        "monetary_value": full["monetary_value"].to_numpy(),
    }
    for row, name in enumerate(QUANTITIES):
        est, low, high = value.interval(row)
        cols[name], cols[f"{name}_low"], cols[f"{name}_high"] = est, low, high
    return pd.DataFrame(cols, columns=list(PER_CUSTOMER_COLUMNS)).reset_index(drop=True)


def _segment_rows(value, seg: pd.Series, names: dict[int, str]):
    ids = sorted(names)
    seg_arr = seg.to_numpy()
    n = seg_arr.size
    member = np.vstack([(seg_arr == sid) for sid in ids] + [np.ones(n, dtype=bool)]).astype(float)
    counts = member.sum(axis=1)
    means = member / np.clip(counts, 1.0, None)[:, None]
    ep, ep_lo, ep_hi = value.interval(0, member)
    pa, pa_lo, pa_hi = value.interval(1, means)
    es = means @ value.values[2]
    clv, clv_lo, clv_hi = value.interval(3, member)
    grand = clv[-1]
    rows = []
    for i, sid in enumerate([*ids, None]):
        c = int(counts[i])
        rows.append(
            ClvSegmentValue(
                segment=sid,
                name="All customers" if sid is None else names[sid],
                customers=c,
                share_customers=c / n if n else 0.0,
                expected_purchases=float(ep[i]),
                expected_purchases_low=float(ep_lo[i]),
                expected_purchases_high=float(ep_hi[i]),
                expected_purchases_per_customer=float(ep[i] / c) if c else 0.0,
                p_alive=float(pa[i]) if c else 0.0,
                p_alive_low=float(pa_lo[i]) if c else 0.0,
                p_alive_high=float(pa_hi[i]) if c else 0.0,
                expected_spend=float(es[i]) if c else 0.0,
                clv=float(clv[i]),
                clv_low=float(clv_lo[i]),
                clv_high=float(clv_hi[i]),
                clv_per_customer=float(clv[i] / c) if c else 0.0,
                share_of_value=float(clv[i] / grand) if grand > 0 else 0.0,
            )
        )
    return rows[:-1], rows[-1]
