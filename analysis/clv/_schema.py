"""The ``clv`` section of the bundle: everything a page needs, no arithmetic left to templates.

Money is in the data's currency; times are in ``time_unit`` unless a field
says days. Numbers are ``None`` (never NaN) where they do not exist, and every
model number is ``None`` when ``reliable`` is false.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClvSegmentValue", "HoldoutRow", "HoldoutValidation", "Withheld", "ClvSection"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClvSegmentValue(_Model):
    """Predicted future value of one segment (or of all customers)."""

    segment: int | None = Field(description="segment id; None for the all-customers row")
    customers: int = Field(description="customers in the segment with at least one order")
    share_customers: float = Field(description="customers / all customers, 0..1")
    expected_purchases: float = Field(description="expected purchase occasions over the horizon, summed")
    expected_purchases_low: float = Field(description="lower interval bound of expected_purchases")
    expected_purchases_high: float = Field(description="upper interval bound of expected_purchases")
    expected_purchases_per_customer: float = Field(description="expected_purchases / customers")
    p_alive: float = Field(description="mean probability that a member is still an active customer now, 0..1")
    p_alive_low: float = Field(description="lower interval bound of p_alive")
    p_alive_high: float = Field(description="upper interval bound of p_alive")
    expected_spend: float = Field(description="mean expected spend per purchase occasion (Gamma-Gamma)")
    clv: float = Field(description="discounted expected spend over the horizon, summed over members")
    clv_low: float = Field(description="lower interval bound of clv")
    clv_high: float = Field(description="upper interval bound of clv")
    clv_per_customer: float = Field(description="clv / customers")
    share_of_value: float = Field(description="this row's clv / all customers' clv, 0..1")


class HoldoutRow(_Model):
    """Predicted vs actual repeat purchase occasions in the holdout period for one group."""

    segment: int | None = Field(
        default=None, description="per-segment rows: the run's segment the group is, or resembles; None if none"
    )
    group: int | None = Field(
        default=None, description="per-segment rows on calibration-time segments: that segment's number"
    )
    name: str | None = Field(
        default=None, description="per-segment rows on calibration-time segments: its name from the playbook"
    )
    frequency_min: int | None = Field(
        default=None, description="lowest calibration frequency in the row (frequency rows)"
    )
    frequency_max: int | None = Field(
        default=None, description="highest calibration frequency in the row; None = open-ended"
    )
    customers: int = Field(description="customers of the calibration cohort in the group")
    actual: float = Field(description="actual purchase occasions in the holdout, summed")
    predicted: float = Field(description="model-predicted purchase occasions in the holdout, summed")
    actual_per_customer: float
    predicted_per_customer: float
    error: float = Field(description="predicted - actual (summed); positive = over-prediction")
    relative_error: float | None = Field(description="error / actual; None when actual is 0")
    mae: float = Field(description="mean absolute error per customer")
    rmse: float = Field(description="root mean squared error per customer")


class HoldoutValidation(_Model):
    """Calibration/holdout check of the repeat-purchase model."""

    calibration_start: str = Field(description="ISO date of the first purchase in the data")
    calibration_end: str = Field(description="ISO date, last day of the calibration period (inclusive)")
    holdout_start: str = Field(description="ISO date, first day of the holdout period")
    holdout_end: str = Field(description="ISO date, last day of the holdout period (end of observation)")
    calibration_length: float = Field(description="calibration period length, in time_unit")
    holdout_length: float = Field(description="holdout period length, in time_unit")
    customers: int = Field(
        description="calibration cohort: customers whose first purchase is in the calibration period"
    )
    new_in_holdout: int = Field(description="customers first seen in the holdout; not part of the check")
    overall: HoldoutRow
    segments_basis: Literal["calibration", "final"] = Field(
        description="'calibration': per-segment rows group customers by segments drawn on the calibration period "
        "only (no leak); 'final': by the run's own segments, drawn on the whole log (when the former cannot be formed)"
    )
    segments: list[HoldoutRow] = Field(description="one row per segment (or calibration-time segment), in order")
    by_frequency: list[HoldoutRow] = Field(
        description="rows by calibration-period repeat frequency, the last open-ended"
    )


class Withheld(_Model):
    """One reason the model is not shown, with its numbers (the pages word it)."""

    code: Literal[
        "calibration_end_outside",
        "calibration_too_short",
        "too_few_repeat_buyers",
        "fit_failed",
        "spend_not_identified",
    ]
    model: Literal["bgnbd", "gammagamma", "bgnbd_refit", "gammagamma_refit"] | None = None
    detail: Literal["parameter_at_bound", "hessian_not_positive_definite", "not_evaluable"] | None = None
    value: float | None = Field(default=None, description="what the data gave (a length, a count, a q)")
    needed: float | None = Field(default=None, description="what the model needs")


class ClvSection(_Model):
    """Customer lifetime value from BG/NBD (repeat purchases) and Gamma-Gamma (spend)."""

    reliable: bool = Field(
        description="false when the data is too thin or a fit failed; then no model numbers are given"
    )
    headline: Literal["history_too_short", "too_few_repeat_buyers", "model_did_not_fit"] | None = Field(
        description="why the model is withheld, for a manager; None when reliable (details in 'withheld')"
    )
    withheld: list[Withheld] = Field(default_factory=list, description="every reason, with its numbers")
    time_unit: str = Field(description="day, week or month: the unit of frequency, recency, T and the horizon")
    time_unit_days: float = Field(description="days in one time_unit (a month is 365.25 / 12 days)")
    horizon: float = Field(description="forecast horizon, in time_unit, counted from the end of observation")
    horizon_days: float = Field(description="forecast horizon in days")
    annual_discount_rate: float = Field(description="annual rate used to discount future spend, e.g. 0.1 = 10%")
    interval_level: float = Field(description="two-sided level of every *_low / *_high bound, e.g. 0.9")
    observation_start: str = Field(description="ISO date of the first purchase in the data")
    observation_end: str = Field(description="ISO date of the last day observed (forecasts start the day after)")
    calibration_end: str = Field(description="ISO date, last day of the calibration period")
    customers: int = Field(description="customers with at least one order")
    repeat_buyers: int = Field(description="customers with at least one repeat purchase occasion (whole observation)")
    calibration_repeat_buyers: int = Field(
        description="repeat buyers in the calibration period (what the fit relies on)"
    )
    customers_without_segment: int = Field(
        description="customers with orders but no segment; counted in the total only"
    )
    zero_spend_repeat_buyers: int = Field(
        description="calibration repeat buyers with zero mean repeat spend, left out of the Gamma-Gamma fit"
    )
    params: dict[str, float] | None = Field(
        description="calibration-period estimates: BG/NBD r, alpha, a, b; Gamma-Gamma p, q, gamma"
    )
    standard_errors: dict[str, float] | None = Field(
        description="standard errors of params, from the Hessian of the log-likelihood"
    )
    log_likelihood: dict[str, float] | None = Field(
        description="maximised log-likelihood of each calibration fit: {'bgnbd': .., 'gammagamma': ..}"
    )
    forecast_params: dict[str, float] | None = Field(
        description="the estimates the per-customer forecasts use (refit on the whole period, or the calibration fit)"
    )
    forecast_standard_errors: dict[str, float] | None
    forecast_period: Literal["calibration", "observation"] | None = Field(
        description="the period forecast_params were fitted on"
    )
    spend_frequency_correlation: float | None = Field(
        description="Pearson correlation of repeat frequency and mean repeat spend among repeat buyers "
        "(the Gamma-Gamma independence check)"
    )
    max_spend_frequency_correlation: float = Field(description="above this |correlation| the check fails")
    population_mean_spend: float | None = Field(
        description="mean spend per purchase across customers implied by Gamma-Gamma, p*gamma/(q-1)"
    )
    segments: list[ClvSegmentValue] | None = Field(description="one row per segment, in segment id order")
    total: ClvSegmentValue | None = Field(description="the all-customers row")
    validation: HoldoutValidation | None
