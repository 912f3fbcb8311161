"""Discounted value: the monthly grid, monotonicity in the horizon, and interval sanity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.clv._bgnbd import conditional_expected_purchases
from analysis.clv._mle import MleFit
from analysis.clv._value import QUANTITIES, customer_value, discount_grid


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
