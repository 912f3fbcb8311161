"""The ``experiments`` bundle section (test designs) and the results read-out section.

Rates and shares are fractions in 0..1; relative effects are fractions too
(0.1 = +10%). Numbers that do not exist are ``None``, never NaN.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExperimentDesign", "ExperimentsSection", "LiftRow", "LiftTable", "ExperimentResults"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentDesign(_Model):
    """The test of one segment's recommended action."""

    segment: int
    name: str
    persona: str | None
    action: str | None = Field(description="the recommended action under test (treatment)")
    hypothesis: str = Field(description="the test in one sentence")
    customers: int = Field(description="segment members")
    baseline_customers: int = Field(
        description="members the baseline is estimated on: those with a model forecast (baseline_source 'bgnbd') "
        "or with orders before the back-test window (baseline_source 'history')"
    )
    baseline_source: Literal["bgnbd", "history"] | None = Field(
        default=None,
        description="what produced the baseline: 'bgnbd' = the lifetime-value models' forecast for the window "
        "after the data; 'history' = the fallback back-test on an earlier window; None when there is no baseline",
    )
    metric: Literal["conversion", "revenue"] | None = Field(
        default=None,
        description="the metric this segment's test is sized on; it differs from the section's metric "
        "when metric_note says why",
    )
    metric_label: str | None = Field(default=None, description="this segment's metric in words")
    metric_note: str | None = Field(
        default=None,
        description="why this segment's test uses another metric or an absolute effect; None when it does not",
    )
    baseline: float | None = Field(
        description="the metric's expected value without the action, over the window: "
        "conversion rate (0..1) or revenue per customer (see metric)"
    )
    baseline_sd: float | None = Field(description="standard deviation of revenue per customer (revenue metric only)")
    target: float | None = Field(description="baseline raised by the minimum detectable effect")
    effect_size: float | None = Field(description="standardised effect: Cohen's h (conversion) or d (revenue)")
    required_treatment: int | None = Field(description="customers needed in the treatment arm")
    required_control: int | None = Field(description="customers needed in the control arm")
    required_total: int | None
    assigned_treatment: int = Field(description="members the hash assigns to treatment")
    assigned_control: int = Field(description="members the hash assigns to control")
    testable: bool = Field(description="true when the assigned arms reach the required sizes")
    reason: str | None = Field(description="why the segment cannot be tested as designed; None when testable")
    min_detectable_effect: float | None = Field(
        description="smallest relative lift the assigned arms can detect at the set alpha and power; None when none can"
    )
    min_detectable_target: float | None = Field(
        description="the metric's value the assigned arms can detect: baseline + min_detectable_difference"
    )
    min_detectable_difference: float | None = Field(
        default=None,
        description="smallest absolute rise the assigned arms can detect: rate points as a fraction "
        "(0.05 = 5 points) for conversion, money per customer for revenue; given also when the baseline is 0",
    )


class ExperimentsSection(_Model):
    """Per-segment A/B test designs."""

    metric: str = Field(description="'conversion' or 'revenue'")
    metric_label: str = Field(description="the primary metric in words, e.g. 'repurchase within 90 days'")
    window_days: int = Field(description="days after the start of the test over which the metric is measured")
    mde: float = Field(description="relative minimum detectable effect the designs are sized for")
    alpha: float = Field(description="two-sided significance level")
    power: float = Field(description="probability of detecting the minimum effect when it is real")
    control_share: float = Field(description="share of each segment held out as control")
    baseline_source: Literal["bgnbd", "history"] | None = Field(
        default=None, description="what produced the baselines: 'bgnbd' (model forecast) or 'history' (back-test)"
    )
    baseline_method: str = Field(description="how the baselines were obtained, and their known biases, in words")
    power_method: str
    assignment_method: str
    designs: list[ExperimentDesign] = Field(description="one per segment, in segment id order")
    customers: int
    assigned_treatment: int
    assigned_control: int
    testable_segments: int


class LiftRow(_Model):
    """Treatment vs control for one segment (or all) on one metric."""

    segment: int | None = Field(description="segment id; None for the all-segments row")
    name: str
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
    note: str | None = Field(description="why a figure is missing, if one is")


class LiftTable(_Model):
    metric: str = Field(description="'conversion' or 'revenue'")
    metric_label: str
    test: str = Field(description="the statistical test and interval method, in words")
    segments: list[LiftRow]
    overall: LiftRow


class ExperimentResults(_Model):
    """Read-out of a results file against the assignment."""

    file: str = Field(description="results file name (no directory)")
    rows: int = Field(description="data rows in the file")
    used: int = Field(description="rows analysed")
    unparseable: int = Field(description="rows with an arm, converted or revenue value that cannot be read")
    unknown_customers: int = Field(description="rows whose customer is not in the assignment")
    duplicates: int = Field(description="repeated rows of a customer already read (first kept)")
    arm_mismatches: int = Field(description="rows whose arm differs from the assigned arm (left out)")
    problems: list[str] = Field(description="the first few unreadable values, as 'row N, column C: value'")
    alpha: float
    confidence_level: float = Field(description="1 - alpha, the level of every interval")
    primary: LiftTable = Field(description="the configured metric")
    secondary: LiftTable = Field(description="the other metric from the same file")
