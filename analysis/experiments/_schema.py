"""The ``experiments`` bundle section (test designs) and the results read-out section.

Numbers and codes only: the pages write every sentence. Rates and shares are
fractions in 0..1; relative effects are fractions too (0.1 = +10%). Numbers
that do not exist are ``None``, never NaN.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SizingOption",
    "ControlChoice",
    "ControlOption",
    "ExperimentDesign",
    "Backtest",
    "HoldoutCheck",
    "ExperimentsSection",
    "LiftRow",
    "LiftTable",
    "ResultProblem",
    "ExperimentResults",
]

Metric = Literal["conversion", "revenue"]
Verdict = Literal["testable", "too_small", "no_history", "no_spread", "absolute_only"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SizingOption(_Model):
    """A way to make a segment that is too small testable, with its numbers."""

    kind: Literal["longer_window", "pooled"] = Field(
        description="'longer_window': measure over more days; 'pooled': test together with the most similar segments"
    )
    window_days: int
    pooled_with: list[int] = Field(default_factory=list, description="other segment ids in a pooled test")
    customers: int = Field(description="customers the option's test would include")
    metric: Metric
    baseline: float | None
    required_treatment: int | None
    required_control: int | None
    assigned_treatment: int
    assigned_control: int
    testable: bool


class ControlChoice(_Model):
    """One segment at one control share."""

    segment: int
    assigned_treatment: int
    assigned_control: int = Field(description="customers held back (not given the action)")
    required_treatment: int | None
    required_control: int | None
    testable: bool


class ControlOption(_Model):
    """What one control share costs in customers held back, and what it buys in testable segments."""

    control_share: float
    held_back: int = Field(description="customers in control over all segments")
    testable_segments: int
    segments: list[ControlChoice]


class ExperimentDesign(_Model):
    """The test of one segment's recommended action."""

    segment: int
    persona: str | None
    action: str | None = Field(description="the recommended action under test (the playbook's text)")
    customers: int = Field(description="segment members")
    baseline_customers: int = Field(
        description="members the baseline is estimated on: those with a model forecast (baseline_source 'bgnbd') "
        "or with orders before the back-test window (baseline_source 'history')"
    )
    baseline_source: Literal["bgnbd", "history"] | None = Field(
        description="'bgnbd' = the lifetime-value models' forecast for the window after the data; "
        "'history' = the back-test on an earlier window; None when there is no baseline"
    )
    metric: Metric = Field(description="the metric this segment's test is sized on")
    metric_switch: Literal["ceiling_to_revenue"] | None = Field(
        description="'ceiling_to_revenue': sized on revenue because the conversion baseline leaves no room for the lift"
    )
    baseline_issue: Literal["rate_at_zero", "rate_at_ceiling"] | None = Field(
        description="why a relative lift of the conversion rate means nothing here (then 'absolute' is true)"
    )
    absolute: bool = Field(description="the detectable effect is an absolute rise (rate points), not a relative lift")
    verdict: Verdict = Field(
        description="testable | too_small (arms under the required sizes) | no_history (too few members with a "
        "baseline) | no_spread (revenue does not vary) | absolute_only (see baseline_issue)"
    )
    testable: bool
    conversion_baseline: float | None = Field(
        description="expected share of members buying in the window without the action (whatever the metric)"
    )
    baseline: float | None = Field(description="expected value of the metric without the action over the window")
    baseline_sd: float | None = Field(description="standard deviation of revenue per customer (revenue metric only)")
    target: float | None = Field(description="baseline raised by the minimum detectable effect")
    effect_size: float | None = Field(description="standardised effect: Cohen's h (conversion) or d (revenue)")
    required_treatment: int | None
    required_control: int | None
    required_total: int | None
    assigned_treatment: int
    assigned_control: int
    min_detectable_effect: float | None = Field(description="smallest relative lift the assigned arms can detect")
    min_detectable_target: float | None = Field(description="baseline + min_detectable_difference")
    min_detectable_difference: float | None = Field(
        description="smallest absolute rise the arms can detect: rate points as a fraction for conversion, money "
        "per customer for revenue"
    )
    options: list[SizingOption] = Field(
        default_factory=list, description="for a segment that is too small: what would make it testable"
    )


class Backtest(_Model):
    start: str = Field(description="ISO date, first day of the back-test outcome window")
    end: str = Field(description="ISO date, last day of it")


class HoldoutCheck(_Model):
    """The lifetime-value holdout the forecast baselines rest on."""

    start: str
    end: str
    predicted: float
    actual: float
    relative_error: float | None


class ExperimentsSection(_Model):
    """Per-segment A/B test designs."""

    metric: Metric = Field(description="the primary metric: repurchase within the window, or revenue in it")
    window_days: int
    mde: float = Field(description="relative minimum detectable effect the designs are sized for")
    alpha: float = Field(description="two-sided significance level")
    power: float
    control_share: float = Field(description="share of each segment held out as control")
    min_baseline_customers: int = Field(description="fewest members with a baseline for a segment to be sized")
    baseline_source: Literal["bgnbd", "history"] | None
    baseline_problem: Literal["no_model", "model_unreliable", "no_forecasts", "revenue_spread_undefined"] | None = (
        Field(description="why the model forecast could not give the baselines (then the back-test did)")
    )
    backtest: Backtest | None
    holdout: HoldoutCheck | None
    designs: list[ExperimentDesign] = Field(description="one per segment, in segment id order")
    customers: int
    assigned_treatment: int
    assigned_control: int
    testable_segments: int
    control_options: list[ControlOption] = Field(description="the same plan at other control shares")


class LiftRow(_Model):
    """Treatment vs control for one segment (or all) on one metric."""

    segment: int | None = Field(description="segment id; None for the all-segments row")
    treatment_customers: int
    control_customers: int
    treatment_value: float | None = Field(description="conversion rate or mean revenue per customer in treatment")
    control_value: float | None
    difference: float | None = Field(description="treatment_value - control_value")
    difference_low: float | None
    difference_high: float | None
    lift: float | None = Field(description="relative lift, difference / control_value")
    lift_low: float | None
    lift_high: float | None
    p_value: float | None
    significant: bool | None = Field(description="p_value < alpha")
    note: Literal["arm_too_small", "no_control_conversions", "no_variation", "zero_mean_revenue"] | None = Field(
        description="why a figure is missing, if one is"
    )


class LiftTable(_Model):
    metric: Metric
    segments: list[LiftRow]
    overall: LiftRow


class ResultProblem(_Model):
    row: int = Field(description="line of the results file (the header is line 1)")
    column: str
    value: str | None = Field(description="the unreadable value; None for customer columns, never echoed")


class ExperimentResults(_Model):
    """Read-out of a results file against the assignment."""

    file: str = Field(description="results file name (no directory)")
    rows: int = Field(description="data rows in the file")
    used: int = Field(description="rows analysed")
    unparseable: int = Field(description="rows with an arm, converted or revenue value that cannot be read")
    unknown_customers: int = Field(description="rows whose customer is not in the assignment")
    duplicates: int = Field(description="repeated rows of a customer already read (first kept)")
    arm_mismatches: int = Field(description="rows whose arm differs from the assigned arm (left out)")
    problems: list[ResultProblem] = Field(description="the first few unreadable values")
    alpha: float
    confidence_level: float = Field(description="1 - alpha, the level of every interval")
    primary: LiftTable = Field(description="the configured metric")
    secondary: LiftTable = Field(description="the other metric from the same file")
