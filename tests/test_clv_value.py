"""Discounted value: the monthly grid, monotonicity in the horizon, interval sanity, and per-history evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import block_diag

from analysis.clv._bgnbd import conditional_expected_purchases, p_alive
from analysis.clv._gammagamma import conditional_expected_spend
from analysis.clv._mle import MleFit
from analysis.clv._value import QUANTITIES, _variance, customer_value, discount_grid


def _fit(names, params, se_log):
    return MleFit(
        names=names,
        params=np.array(params, float),
        log_cov=np.diag(np.square(se_log)),
        log_likelihood=0.0,
        converged=True,
        message=None,
    )


# CDNOW sample estimates (FHL 2005; Fader & Hardie Gamma-Gamma note), with modest uncertainty.
BG = _fit(("r", "alpha", "a", "b"), [0.243, 4.414, 0.793, 2.426], [0.05, 0.09, 0.2, 0.3])
GG = _fit(("p", "q", "gamma"), [6.25, 3.74, 15.44], [0.2, 0.08, 0.27])
CUSTOMERS = {
    "frequency": np.array([0.0, 1.0, 4.0, 12.0]),
    "recency": np.array([0.0, 10.0, 30.0, 70.0]),
    "T": np.array([20.0, 40.0, 60.0, 75.0]),
    "monetary": np.array([np.nan, 25.0, 40.0, 60.0]),
}


def _value(horizon, rate=0.1, unit_days=7.0):
    return customer_value(BG, GG, **CUSTOMERS, horizon=horizon, unit_days=unit_days, annual_rate=rate, level=0.9)


def test_grid_is_monthly_and_ends_on_the_horizon():
    ends, factors = discount_grid(52.0, 7.0, 0.10)
    month = 365.25 / 12 / 7
    assert ends.size == 12 and ends[-1] == 52.0
    assert ends[0] == pytest.approx(month)
    assert factors[0] == pytest.approx(1.1 ** (-1 / 12))
    assert np.all(np.diff(factors) < 0)


def test_without_discounting_clv_is_spend_times_purchases():
    val = _value(52.0, rate=0.0)
    ep = conditional_expected_purchases(BG.params, 52.0, CUSTOMERS["frequency"], CUSTOMERS["recency"], CUSTOMERS["T"])
    np.testing.assert_allclose(val.values[0], ep)
    np.testing.assert_allclose(val.values[3], val.values[0] * val.values[2])


def test_discounting_lowers_value():
    assert np.all(_value(52.0, rate=0.2).values[3] < _value(52.0, rate=0.0).values[3])


@settings(max_examples=40, deadline=None)
@given(
    h1=st.floats(0.5, 300),
    extra=st.floats(0.01, 300),
    rate=st.floats(0, 0.99),
    unit=st.sampled_from([1.0, 7.0, 365.25 / 12]),
)
def test_clv_is_non_decreasing_in_the_horizon(h1, extra, rate, unit):
    short = _value(h1, rate=rate, unit_days=unit).values[3]
    long = _value(h1 + extra, rate=rate, unit_days=unit).values[3]
    assert np.all(long >= short * (1 - 1e-12))


def test_intervals_bracket_the_estimate_and_stay_in_range():
    val = _value(52.0)
    for row, name in enumerate(QUANTITIES):
        est, low, high = val.interval(row)
        assert np.all(low <= est) and np.all(est <= high), name
        assert np.all(low >= 0), name
        if name == "p_alive":
            assert np.all(high <= 1)
            # No repeat purchase: alive for sure under BG/NBD, so no uncertainty.
            assert low[0] == high[0] == 1.0
    # A group interval is narrower, relative to its size, than the sum of the members' widths.
    total, low, high = val.interval(3, np.ones((1, 4)))
    _, each_low, each_high = val.interval(3)
    assert high[0] - low[0] <= (each_high - each_low).sum() + 1e-9
    assert total[0] == pytest.approx(val.values[3].sum())


def _per_customer_reference(z, x, tx, T, m, ends, factors):
    # The outputs evaluated for every customer (equation 10 on a (steps, customers) grid), as
    # customer_value computed them before it worked on distinct histories; factors @ increments
    # there was a BLAS product, whose last bits depend on its threads, so CLV is compared to rounding.
    bg, gg = np.exp(z[:4]), np.exp(z[4:])
    cum = conditional_expected_purchases(bg, ends[:, None], x, tx, T)
    increments = np.diff(np.vstack([np.zeros((1, x.size)), cum]), axis=0)
    spend = conditional_expected_spend(gg, x, m)
    return np.vstack([cum[-1], p_alive(bg, x, tx, T), spend, spend * (factors @ increments)])


@pytest.fixture(scope="module")
def crowd():
    # Many customers sharing few histories, in no particular order.
    rng = np.random.default_rng(11)
    pick = rng.integers(0, 4, 400)
    cols = {k: v[pick] for k, v in CUSTOMERS.items()}
    cols["monetary"] = np.where(cols["frequency"] > 0, cols["monetary"] * rng.uniform(0.5, 2.0, pick.size), np.nan)
    return cols


def test_value_on_distinct_histories_is_the_per_customer_evaluation(crowd):
    val = customer_value(BG, GG, **crowd, horizon=52.0, unit_days=7.0, annual_rate=0.1, level=0.9)
    ends, factors = discount_grid(52.0, 7.0, 0.1)
    z0 = np.log(np.concatenate([BG.params, GG.params]))
    args = (crowd["frequency"], crowd["recency"], crowd["T"], crowd["monetary"], ends, factors)
    ref = _per_customer_reference(z0, *args)
    np.testing.assert_array_equal(val.values[:3], ref[:3])
    np.testing.assert_allclose(val.values[3], ref[3], rtol=1e-15)
    step = 1e-4
    for j in range(7):
        dz = np.zeros(7)
        dz[j] = step
        grad = (_per_customer_reference(z0 + dz, *args) - _per_customer_reference(z0 - dz, *args)) / (2 * step)
        for row in range(4):
            got = val.gradient(row, slice(None))[:, j]
            if row < 3:
                np.testing.assert_array_equal(got, grad[row])
            else:
                np.testing.assert_allclose(got, grad[row], rtol=1e-9, atol=1e-12)


def test_table_gives_every_interval_and_the_group_totals(crowd):
    val = customer_value(BG, GG, **crowd, horizon=52.0, unit_days=7.0, annual_rate=0.1, level=0.9)
    n = crowd["frequency"].size
    groups = np.arange(n) % 3
    per_customer, grouped = val.table(groups, 3)
    members = np.vstack([groups == g for g in range(3)] + [np.ones(n, dtype=bool)]).astype(float)
    means = members / members.sum(axis=1, keepdims=True)
    for row in range(4):
        for got, want in zip(per_customer[3 * row : 3 * row + 3], val.interval(row), strict=True):
            np.testing.assert_array_equal(got, want)
    for row, weights in ((0, members), (1, means), (3, members)):
        for got, want in zip(grouped[row], val.interval(row, weights), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_variance_skipping_zero_blocks_is_the_einsum_to_the_last_bit():
    rng = np.random.default_rng(3)
    cov = block_diag(*(np.cov(rng.normal(size=(k, 30))) for k in (4, 3)))
    bg, gg = rng.normal(size=(1000, 4)) * rng.gamma(1.0, 1.0, (1000, 1)), rng.normal(size=(1000, 3))
    zeros = np.zeros_like
    for part_bg, part_gg in ((bg, None), (None, gg), (bg, gg)):
        full = np.hstack([zeros(bg) if part_bg is None else part_bg, zeros(gg) if part_gg is None else part_gg])
        np.testing.assert_array_equal(_variance(cov, part_bg, part_gg), np.einsum("ij,jk,ik->i", full, cov, full))
