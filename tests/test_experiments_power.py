"""Power figures equal statsmodels' own solvers over a grid of inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analysis.experiments._power import required_sizes, smallest_effect

GRID = [
    (baseline, mde, alpha, power, share)
    for baseline in (0.05, 0.2, 0.5)
    for mde in (0.05, 0.2)
    for alpha in (0.01, 0.05)
    for power in (0.8, 0.9)
    for share in (0.2, 0.5)
]


@pytest.mark.parametrize(("baseline", "mde", "alpha", "power", "share"), GRID)
def test_conversion_sizes_equal_statsmodels(baseline, mde, alpha, power, share):
    n_t, n_c, es = required_sizes(
        "conversion", baseline=baseline, sd=None, relative_effect=mde, alpha=alpha, power=power, control_share=share
    )
    ratio = share / (1 - share)
    h = proportion_effectsize(baseline * (1 + mde), baseline)
    expected = NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=ratio)
    assert es == pytest.approx(h)
    assert n_t == math.ceil(expected) and n_c == math.ceil(expected * ratio)
    achieved = NormalIndPower().power(effect_size=abs(h), nobs1=n_t, alpha=alpha, ratio=n_c / n_t)
    assert achieved >= power - 1e-9


@pytest.mark.parametrize(("mean", "sd"), [(20.0, 40.0), (100.0, 80.0)], ids=["skewed", "tight"])
@pytest.mark.parametrize("share", [0.3, 0.5])
def test_revenue_sizes_equal_statsmodels(mean, sd, share):
    n_t, n_c, es = required_sizes(
        "revenue", baseline=mean, sd=sd, relative_effect=0.1, alpha=0.05, power=0.8, control_share=share
    )
    ratio = share / (1 - share)
    expected = TTestIndPower().solve_power(effect_size=0.1 * mean / sd, alpha=0.05, power=0.8, ratio=ratio)
    assert es == pytest.approx(0.1 * mean / sd)
    assert n_t == math.ceil(float(np.ravel(expected)[0]))


@pytest.mark.parametrize("metric", ["conversion", "revenue"])
def test_smallest_effect_inverts_the_sample_size(metric):
    sd = 30.0 if metric == "revenue" else None
    baseline = 0.25 if metric == "conversion" else 50.0
    n_t, n_c, _ = required_sizes(
        metric, baseline=baseline, sd=sd, relative_effect=0.15, alpha=0.05, power=0.8, control_share=0.5
    )
    got = smallest_effect(metric, baseline=baseline, sd=sd, n_treatment=n_t, n_control=n_c, alpha=0.05, power=0.8)
    # Rounding the sizes up makes the detectable effect a touch smaller than asked.
    assert 0.14 < got <= 0.15


def test_tiny_groups_detect_nothing_or_only_huge_lifts():
    assert (
        smallest_effect("conversion", baseline=0.5, sd=None, n_treatment=1, n_control=5, alpha=0.05, power=0.8) is None
    )
    # 10 vs 10 customers at an 80% baseline cannot reach 80% power even for a lift to 100%.
    assert (
        smallest_effect("conversion", baseline=0.8, sd=None, n_treatment=10, n_control=10, alpha=0.05, power=0.8)
        is None
    )
    big = smallest_effect("conversion", baseline=0.1, sd=None, n_treatment=50, n_control=50, alpha=0.05, power=0.8)
    assert big is not None and big > 1.0
