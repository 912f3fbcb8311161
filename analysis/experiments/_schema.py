"""The ``experiments`` bundle section (test designs) and the results read-out section.

Rates and shares are fractions in 0..1; relative effects are fractions too
(0.1 = +10%). Numbers that do not exist are ``None``, never NaN.
"""

from __future__ import annotations

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
        description="members with history before the baseline window (what the baseline is estimated on)"
    )
    baseline: float | None = Field(
        description="the metric's current value: conversion rate (0..1) or revenue per customer"
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
    min_detectable_target: float | None = Field(description="baseline raised by min_detectable_effect")


class ExperimentsSection(_Model):
    """Per-segment A/B test designs."""

    metric: str = Field(description="'conversion' or 'revenue'")
    metric_label: str = Field(description="the primary metric in words, e.g. 'repurchase within 90 days'")
    window_days: int = Field(description="days after the start of the test over which the metric is measured")
    mde: float = Field(description="relative minimum detectable effect the designs are sized for")
    alpha: float = Field(description="two-sided significance level")
    power: float = Field(description="probability of detecting the minimum effect when it is real")
    control_share: float = Field(description="share of each segment held out as control")
    baseline_method: str
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
