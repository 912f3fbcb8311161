"""Sample sizes and detectable effects, from statsmodels' power solvers.

Conversion metrics use the normal approximation on Cohen's h
(``proportion_effectsize``, ``NormalIndPower``); revenue per customer uses the
two-sample t-test on Cohen's d (``TTestIndPower``). Treatment is the first
sample, and ``ratio`` is control size / treatment size.
"""

from __future__ import annotations

import math

import numpy as np
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

__all__ = ["effect_size", "required_sizes", "smallest_difference", "smallest_effect"]


def effect_size(metric: str, baseline: float, sd: float | None, relative_effect: float) -> float:
    """Standardised effect of a relative lift: Cohen's h (conversion) or d (revenue)."""
    target = baseline * (1.0 + relative_effect)
    if metric == "conversion":
        return float(proportion_effectsize(min(target, 1.0), baseline))
    return float(relative_effect * baseline / sd)


def _scalar(value) -> float:
    # The solvers return a float or a one-element array depending on the path taken.
    return float(np.ravel(value)[0])


def _solver(metric: str):
    return NormalIndPower() if metric == "conversion" else TTestIndPower()


def required_sizes(
    metric: str,
    *,
    baseline: float,
    sd: float | None,
    relative_effect: float,
    alpha: float,
    power: float,
    control_share: float,
) -> tuple[int, int, float]:
    """Customers needed in (treatment, control) to detect ``relative_effect``; also the effect size.

    Both counts are rounded up.
    """
    es = effect_size(metric, baseline, sd, relative_effect)
    ratio = control_share / (1.0 - control_share)
    n1 = _solver(metric).solve_power(
        effect_size=abs(es), nobs1=None, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
    )
    n1 = float(np.ravel(n1)[0])
    return math.ceil(n1), math.ceil(n1 * ratio), es


def _smallest_standardised(
    metric: str, *, n_treatment: int, n_control: int, alpha: float, power: float
) -> float | None:
    if n_treatment < 2 or n_control < 2:
        return None
    es = _scalar(
        _solver(metric).solve_power(
            effect_size=None,
            nobs1=n_treatment,
            alpha=alpha,
            power=power,
            ratio=n_control / n_treatment,
            alternative="two-sided",
        )
    )
    return es if math.isfinite(es) else None


def smallest_difference(
    metric: str,
    *,
    baseline: float,
    sd: float | None,
    n_treatment: int,
    n_control: int,
    alpha: float,
    power: float,
) -> float | None:
    """Smallest absolute rise detectable with the given arm sizes, or ``None`` when none is.

    In rate points for conversion (0.05 = 5 points; defined for a baseline of 0
    too, where a relative lift is not) and in money per customer for revenue.
    For conversion, ``None`` also means even a rise to 100% would not reach the
    requested power.
    """
    es = _smallest_standardised(metric, n_treatment=n_treatment, n_control=n_control, alpha=alpha, power=power)
    if es is None:
        return None
    if metric == "conversion":
        # Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)), solved for p1.
        angle = math.asin(math.sqrt(min(max(baseline, 0.0), 1.0))) + es / 2.0
        if angle >= math.pi / 2:
            return None
        return math.sin(angle) ** 2 - baseline
    return es * sd


def smallest_effect(
    metric: str,
    *,
    baseline: float,
    sd: float | None,
    n_treatment: int,
    n_control: int,
    alpha: float,
    power: float,
) -> float | None:
    """Smallest relative lift detectable with the given arm sizes, or ``None`` when none is.

    For conversion, ``None`` also means even a lift to 100% conversion would not
    reach the requested power. ``None`` too when the baseline is 0 (see
    :func:`smallest_difference`).
    """
    diff = smallest_difference(
        metric, baseline=baseline, sd=sd, n_treatment=n_treatment, n_control=n_control, alpha=alpha, power=power
    )
    if diff is None or not baseline > 0:
        return None
    return diff / baseline
