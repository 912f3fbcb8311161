"""The ``clv`` section of the bundle: everything a page needs, no arithmetic left to templates.

Money is in the data's currency; times are in ``time_unit`` unless a field
says days. Numbers are ``None`` (never NaN) where they do not exist, and every
model number is ``None`` when ``reliable`` is false.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClvSegmentValue", "HoldoutRow", "HoldoutValidation", "ClvSection"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClvSegmentValue(_Model):
    """Predicted future value of one segment (or of all customers)."""

    segment: int | None = Field(description="segment id; None for the all-customers row")
    name: str = Field(description="segment name, or 'All customers'")
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

    label: str = Field(
        description="row label: 'All customers', a segment name, or a calibration frequency such as '3' or '7+'"
    )
    segment: int | None = Field(default=None, description="segment id for per-segment rows")
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
    segments: list[HoldoutRow] = Field(description="one row per segment, in segment id order")
    by_frequency: list[HoldoutRow] = Field(
        description="rows by calibration-period repeat frequency, the last open-ended"
    )
    note: str = Field(description="what is compared, in one sentence")


class ClvSection(_Model):
    """Customer lifetime value from BG/NBD (repeat purchases) and Gamma-Gamma (spend)."""

    reliable: bool = Field(
        description="false when the data is too thin or a fit failed; then no model numbers are given"
    )
    reason: str | None = Field(description="why the model is not reliable, in words; None when reliable")
    warnings: list[str] = Field(
        default_factory=list, description="caveats that do not stop the model, e.g. spend correlated with frequency"
    )
    time_unit: str = Field(description="day, week or month: the unit of frequency, recency, T and the horizon")
    time_unit_days: float = Field(description="days in one time_unit (a month is 365.25 / 12 days)")
    horizon: float = Field(description="forecast horizon, in time_unit, counted from the end of observation")
    horizon_days: float = Field(description="forecast horizon in days")
    annual_discount_rate: float = Field(description="annual rate used to discount future spend, e.g. 0.1 = 10%")
    discounting: str = Field(description="how discounting is applied, in words")
    interval_level: float = Field(description="two-sided level of every *_low / *_high bound, e.g. 0.9")
    interval_method: str = Field(description="what the intervals mean, in words")
    observation_start: str = Field(description="ISO date of the first purchase in the data")
    observation_end: str = Field(description="ISO date of the last day observed (forecasts start the day after)")
    definitions: dict[str, str] = Field(
        description="{term: meaning} for purchase occasion, frequency, recency, T, monetary value"
    )
    assumptions: list[str] = Field(description="the models' assumptions, one short sentence each")
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
        description="the estimates the per-customer forecasts use "
        "(refit on the whole observation period, or the calibration fit)"
    )
    forecast_standard_errors: dict[str, float] | None
    forecast_fitted_on: str | None = Field(description="the period forecast_params were fitted on, in words")
    spend_frequency_correlation: float | None = Field(
        description="Pearson correlation of repeat frequency and mean repeat spend among repeat buyers "
        "(the Gamma-Gamma independence check)"
    )
    independence_check: str | None = Field(description="the correlation read in words")
    population_mean_spend: float | None = Field(
        description="mean spend per purchase across customers implied by Gamma-Gamma, p*gamma/(q-1)"
    )
    segments: list[ClvSegmentValue] | None = Field(description="one row per segment, in segment id order")
    total: ClvSegmentValue | None = Field(description="the all-customers row")
    validation: HoldoutValidation | None
