"""Size one test: from a baseline and the arms' sizes to the verdict and its numbers.

One function, :func:`size_test`, shared by the segment designs, the options
that would make a small segment testable, and the control-share choices, so
every number on the experiments page is sized the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.config import ExperimentsConfig
from analysis.experiments._baselines import NEAR_ZERO, Baseline
from analysis.experiments._power import required_sizes, smallest_difference, smallest_effect

__all__ = ["Sizing", "size_test"]


@dataclass(frozen=True)
class Sizing:
    """A sized test; ``None`` marks a number that does not exist for this verdict."""

    metric: str
    metric_switch: str | None
    baseline_issue: str | None
    absolute: bool
    verdict: str
    conversion_baseline: float | None = None
    baseline: float | None = None
    baseline_sd: float | None = None
    target: float | None = None
    effect_size: float | None = None
    required_treatment: int | None = None
    required_control: int | None = None
    min_detectable_effect: float | None = None
    min_detectable_target: float | None = None
    min_detectable_difference: float | None = None

    @property
    def testable(self) -> bool:
        return self.verdict == "testable"

    @property
    def required_total(self) -> int | None:
        if self.required_treatment is None or self.required_control is None:
            return None
        return self.required_treatment + self.required_control


def _usable(metric: str, value: float | None, sd: float | None, mde: float) -> bool:
    if value is None:
        return False
    if metric == "conversion":
        return NEAR_ZERO <= value and value * (1.0 + mde) < 1.0
    return value > 0.0 and sd is not None and sd > 0.0


def _metric(base: Baseline, config: ExperimentsConfig):
    """(metric, value, sd, switch, issue, absolute) after the degenerate-baseline rules."""
    metric = config.metric
    value, sd = base.of(metric)
    switch = issue = None
    absolute = False
    if metric == "conversion" and not _usable(metric, value, sd, config.mde):
        ceiling = value is not None and value * (1.0 + config.mde) >= 1.0
        issue = "rate_at_ceiling" if ceiling else "rate_at_zero"
        rev, rev_sd = base.of("revenue")
        if ceiling and _usable("revenue", rev, rev_sd, config.mde):
            metric, value, sd, switch, issue = "revenue", rev, rev_sd, "ceiling_to_revenue", None
        else:
            absolute = True
    return metric, value, sd, switch, issue, absolute


def size_test(
    base: Baseline | None, *, n_treatment: int, n_control: int, config: ExperimentsConfig, control_share: float
) -> Sizing:
    """Size a test of ``config.mde`` on ``base`` with the given arms (see the module docstring)."""
    if base is None or base.customers < config.min_baseline_customers:
        return Sizing(config.metric, None, None, False, "no_history")
    metric, value, sd, switch, issue, absolute = _metric(base, config)
    power = dict(n_treatment=n_treatment, n_control=n_control, alpha=config.alpha, power=config.power)
    diff = smallest_difference(metric, baseline=value, sd=sd, **power) if sd or metric == "conversion" else None
    common = dict(
        metric=metric,
        metric_switch=switch,
        baseline_issue=issue,
        absolute=absolute,
        baseline=value,
        conversion_baseline=base.conversion,
    )
    if absolute:
        relative = None if diff is None or value < NEAR_ZERO else diff / value
        return Sizing(
            **common,
            verdict="absolute_only",
            min_detectable_difference=diff,
            min_detectable_target=None if diff is None else value + diff,
            min_detectable_effect=relative,
        )
    if not _usable(metric, value, sd, config.mde):
        return Sizing(**common, verdict="no_spread", baseline_sd=sd)
    req_t, req_c, es = required_sizes(
        metric,
        baseline=value,
        sd=sd,
        relative_effect=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=control_share,
    )
    return Sizing(
        **common,
        verdict="testable" if n_treatment >= req_t and n_control >= req_c else "too_small",
        baseline_sd=sd,
        target=value * (1.0 + config.mde),
        effect_size=es,
        required_treatment=req_t,
        required_control=req_c,
        min_detectable_effect=smallest_effect(metric, baseline=value, sd=sd, **power),
        min_detectable_target=None if diff is None else value + diff,
        min_detectable_difference=diff,
    )
