"""BG/NBD: paper parameters on CDNOW, agreement with the `lifetimes` oracle, and invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma, gammaln

from analysis.clv import _bgnbd as bgnbd
from analysis.clv._bgnbd import (
    _compress,
    _NegLogLik,
    conditional_expected_purchases,
    conditional_probability_purchase,
    conditional_purchase_moments,
    expected_purchases_table,
    fit_bgnbd,
    p_alive,
)
from analysis.clv._data import purchase_days, repeat_counts_between, summarize
from analysis.clv._large import BgnbdObjective
from analysis.clv._rows import distinct_rows
from tests._data import shared_file

# Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way",
# Marketing Science 24(2), Section 4: CDNOW 1/10 sample, 39-week calibration.
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _cdnow_orders(name: str) -> pd.DataFrame:
    raw = pd.read_csv(shared_file(name), dtype={"customer_id": str, "date": str})
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    orders = raw.groupby(["customer_id", "timestamp"], as_index=False)["dollar_value"].sum()
    orders = orders.rename(columns={"dollar_value": "amount"})
    orders["order_id"] = orders.index.astype(str)
    return orders


@pytest.fixture(scope="module")
def calibration() -> pd.DataFrame:
    days = purchase_days(_cdnow_orders("cdnow_sample.csv.gz"))
    return summarize(days, end=dt.date(1997, 9, 30), time_unit="week")


@pytest.fixture(scope="module")
def fit(calibration):
    return fit_bgnbd(calibration["frequency"], calibration["recency"], calibration["T"])


def test_calibration_summary_matches_the_paper_counts(calibration):
    # FHL 2005, Section 4: 2,357 customers, of whom 1,411 made no repeat purchase in weeks 1-39.
    assert len(calibration) == 2357
    assert int((calibration["frequency"] == 0).sum()) == 1411


@pytest.mark.parametrize("name", list(PAPER))
def test_parameters_match_fader_hardie_lee_2005(fit, name):
    got = fit.as_dict()[name]
    assert abs(got / PAPER[name] - 1) < 0.005, (name, got)


def test_fit_converges_with_finite_standard_errors(fit):
    assert fit.converged and fit.message is None
    se = fit.standard_errors()
    assert se is not None and all(np.isfinite(v) and v > 0 for v in se.values())
    # Log-likelihood reported by FHL 2005 (Section 4): -9582.4.
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_standard_errors_match_lifetimes(calibration, fit):
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.BetaGeoFitter().fit(calibration["frequency"], calibration["recency"], calibration["T"])
    se = fit.standard_errors()
    for ours, theirs in (("r", "r"), ("alpha", "alpha"), ("a", "a"), ("b", "b")):
        assert se[ours] == pytest.approx(oracle.summary.loc[theirs, "se(coef)"], rel=0.02)


def test_conditional_expectation_and_p_alive_match_lifetimes(calibration, fit):
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.BetaGeoFitter()
    oracle.params_ = pd.Series(dict(zip(("r", "alpha", "a", "b"), fit.params, strict=True)))
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = conditional_expected_purchases(fit.params, 39.0, x, tx, T)
    theirs = oracle.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6)
    np.testing.assert_allclose(
        p_alive(fit.params, x, tx, T), np.asarray(oracle.conditional_probability_alive(x, tx, T)), rtol=1e-9
    )


def _lifetimes_no_purchase(params, t: float, n_x: float, T: float) -> float:
    # lifetimes' unconditional P(X(t) = 0) (FHL 2005, equation 8) for a customer whose rate
    # has the posterior Gamma(r + x, alpha + T) of an active customer.
    from lifetimes import BetaGeoFitter

    r, alpha, a, b = params
    oracle = BetaGeoFitter()
    oracle.params_ = pd.Series({"r": r + n_x, "alpha": alpha + T, "a": a, "b": b})
    return float(oracle.probability_of_n_purchases_up_to_time(t, 0))


def test_probability_of_a_purchase_matches_lifetimes_on_cdnow(calibration, fit):
    # P(X(t) >= 1 | x, t_x, T) = P(alive) (1 - P(no tick in t | active)); both factors from lifetimes.
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.BetaGeoFitter()
    oracle.params_ = pd.Series(dict(zip(("r", "alpha", "a", "b"), fit.params, strict=True)))
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    alive = np.asarray(oracle.conditional_probability_alive(x, tx, T))
    silent = np.array([_lifetimes_no_purchase(fit.params, 39.0, n, age) for n, age in zip(x, T, strict=True)])
    ours = conditional_probability_purchase(fit.params, 39.0, x, tx, T)
    np.testing.assert_allclose(ours, alive * (1.0 - silent), rtol=1e-9, atol=1e-15)


def test_probability_of_a_purchase_for_a_new_customer_is_equation_8(fit):
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.BetaGeoFitter()
    oracle.params_ = pd.Series(dict(zip(("r", "alpha", "a", "b"), fit.params, strict=True)))
    zero = np.zeros(1)
    for t in (1.0, 13.0, 39.0, 78.0):
        expected = 1.0 - oracle.probability_of_n_purchases_up_to_time(t, 0)
        assert conditional_probability_purchase(fit.params, t, zero, zero, zero)[0] == pytest.approx(
            expected, rel=1e-12
        )


def test_probability_of_a_purchase_tracks_the_cdnow_holdout(calibration, fit):
    # Weeks 40-78 of the CDNOW sample: the share of the calibration cohort who bought again.
    # A model check rather than an identity, so the tolerance is loose (observed 29.0%, predicted 26.2%).
    days = purchase_days(_cdnow_orders("cdnow_sample.csv.gz"))
    bought = repeat_counts_between(days, after=dt.date(1997, 9, 30), end=dt.date(1998, 6, 30))
    actual = float(calibration.index.isin(bought.index).mean())
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    predicted = float(conditional_probability_purchase(fit.params, 39.0, x, tx, T).mean())
    assert abs(predicted - actual) < 0.05, (predicted, actual)


def test_purchase_moments_match_equation_10_and_a_simulation(calibration, fit):
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    first, second = conditional_purchase_moments(fit.params, 39.0, x, tx, T)
    np.testing.assert_allclose(first, conditional_expected_purchases(fit.params, 39.0, x, tx, T), rtol=1e-9)
    assert np.all(second >= first**2 * (1 - 1e-12))
    # Simulate three histories from the posterior: alive?, rate, dropout; count purchases until dropout.
    r, alpha, a, b = fit.params
    rng = np.random.default_rng(20050401)
    draws = 400_000
    for n, recent, age in ((0.0, 0.0, 30.0), (2.0, 20.0, 38.0), (9.0, 10.0, 39.0)):
        args = (np.array([n]), np.array([recent]), np.array([age]))
        alive = rng.random(draws) < p_alive(fit.params, *args)[0]
        lam = rng.gamma(r + n, 1.0 / (alpha + age), draws)
        drop = rng.beta(a, b + n, draws)
        ticks = rng.poisson(lam * 39.0)
        lives = rng.geometric(drop)  # purchases up to and including the one after which they drop out
        count = np.where(alive, np.minimum(ticks, lives), 0)
        m1, m2 = conditional_purchase_moments(fit.params, 39.0, *args)
        p1 = conditional_probability_purchase(fit.params, 39.0, *args)
        se1 = count.std() / np.sqrt(draws)
        se2 = (count.astype(float) ** 2).std() / np.sqrt(draws)
        assert abs(m1[0] - count.mean()) < 4 * se1
        assert abs(m2[0] - (count.astype(float) ** 2).mean()) < 4 * se2
        assert abs(p1[0] - (count > 0).mean()) < 4 * np.sqrt(p1[0] * (1 - p1[0]) / draws)


_params = st.tuples(st.floats(0.05, 5), st.floats(0.5, 50), st.floats(0.1, 5), st.floats(0.1, 10)).map(np.array)
_history = st.tuples(st.integers(0, 40), st.floats(0, 1), st.floats(0.5, 200))


@settings(max_examples=200, deadline=None)
@given(params=_params, hist=_history)
def test_p_alive_is_a_probability(params, hist):
    n, share, T = hist
    x = np.array([float(n)])
    tx = np.array([share * T if n else 0.0])
    prob = p_alive(params, x, tx, np.array([T]))
    assert np.all((prob >= 0) & (prob <= 1))
    if n == 0:
        assert prob[0] == 1.0


@settings(max_examples=100, deadline=None)
@given(params=_params, hist=_history, t=st.floats(0.1, 100))
def test_expected_purchases_grow_with_the_horizon(params, hist, t):
    n, share, T = hist
    args = (np.array([float(n)]), np.array([share * T if n else 0.0]), np.array([T]))
    short = conditional_expected_purchases(params, t, *args)
    long = conditional_expected_purchases(params, 2 * t, *args)
    assert np.all(np.isfinite(short)) and np.all(short >= 0)
    assert np.all(long >= short * (1 - 1e-9))


@settings(max_examples=100, deadline=None)
@given(params=_params, hist=_history, t=st.floats(0.01, 100))
def test_probability_of_a_purchase_is_a_probability_growing_with_the_window(params, hist, t):
    n, share, T = hist
    args = (np.array([float(n)]), np.array([share * T if n else 0.0]), np.array([T]))
    short = conditional_probability_purchase(params, t, *args)
    long = conditional_probability_purchase(params, 2 * t, *args)
    assert np.all((short >= 0) & (short <= p_alive(params, *args) * (1 + 1e-12)))
    assert np.all(long >= short * (1 - 1e-12))
    # P(X >= 1) <= E[X] (Markov).
    assert np.all(short <= conditional_expected_purchases(params, t, *args) * (1 + 1e-9) + 1e-300)


def _per_row_negloglik(z, x, tx, T, w):
    # Equation (6) and its gradient evaluated row by row, as _NegLogLik computed them before
    # the per-distinct-value gathers: the reference the exact path must match bit for bit.
    r, alpha, a, b = np.exp(z)
    ux, inv = np.unique(x, return_inverse=True)
    rep = x > 0
    xr = x[rep]
    lg = (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))[inv]
    dg_r, dg_b, dg_ab = digamma(r + ux)[inv], digamma(b + ux)[inv], digamma(a + b + ux)[inv]
    log_aT, log_atx = np.log(alpha + T), np.log(alpha + tx)
    a3 = -(r + x) * log_aT
    a4 = np.full_like(x, -np.inf)
    a4[rep] = np.log(a) - np.log(b + xr - 1.0) - (r + xr) * log_atx[rep]
    lse = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - lse), np.exp(a4 - lse)
    const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
    ll = float(np.dot(w, lg + lse)) + const * w.sum()
    inv_bx1 = np.zeros_like(x)
    inv_bx1[rep] = 1.0 / (b + xr - 1.0)
    g_r = dg_r - digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_atx
    g_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
    g_a = digamma(a + b) - dg_ab + w4 / a
    g_b = digamma(a + b) + dg_b - digamma(b) - dg_ab - w4 * inv_bx1
    return -ll, -np.array([w @ g_r * r, w @ g_alpha * alpha, w @ g_a * a, w @ g_b * b])


@pytest.fixture(scope="module")
def rows(calibration):
    return _compress(*(calibration[c].to_numpy() for c in ("frequency", "recency", "T")))


def test_compressed_rows_are_numpys_unique_triples(calibration, rows):
    triples = calibration[["frequency", "recency", "T"]].to_numpy()
    uniq, counts = np.unique(triples, axis=0, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(rows.values), uniq)
    np.testing.assert_array_equal(rows.counts, counts)


@pytest.mark.parametrize(
    "point", [(0.243, 4.414, 0.793, 2.426), (1.0, 1.0, 1.0, 1.0), (3.0, 0.5, 2.0, 0.7)], ids=["paper", "start", "far"]
)
def test_likelihood_equals_the_per_row_formula_to_the_last_bit(rows, point):
    # The exact path must reproduce the former arithmetic, so its fits keep their parameters bit for bit.
    z = np.log(point)
    value, grad = _NegLogLik(*rows.values, rows.counts)(z)
    ref_value, ref_grad = _per_row_negloglik(z, *rows.values, rows.counts)
    assert value == ref_value
    np.testing.assert_array_equal(grad, ref_grad)


def test_newton_path_reaches_the_same_optimum(calibration, fit, monkeypatch):
    # The large-data path on the CDNOW sample: coarse start, then Newton with the analytic Hessian.
    monkeypatch.setattr(bgnbd, "EXACT_ROWS", 0)
    large = fit_bgnbd(calibration["frequency"], calibration["recency"], calibration["T"])
    assert large.converged
    np.testing.assert_allclose(large.params, fit.params, rtol=1e-8)
    assert large.log_likelihood == pytest.approx(fit.log_likelihood, rel=1e-12)
    se_large, se_exact = large.standard_errors(), fit.standard_errors()
    for name in se_exact:
        assert se_large[name] == pytest.approx(se_exact[name], rel=1e-6)


@pytest.mark.parametrize(
    "point", [(0.243, 4.414, 0.793, 2.426), (1.0, 1.0, 1.0, 1.0), (3.0, 0.5, 2.0, 0.7)], ids=["paper", "start", "far"]
)
def test_newton_objective_value_gradient_and_hessian(rows, point):
    z = np.log(point)
    value, grad, hess = BgnbdObjective(*rows.values, rows.counts).with_hessian(z)
    ref_value, ref_grad = _per_row_negloglik(z, *rows.values, rows.counts)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-9 * np.abs(ref_grad).max())
    step = 1e-5
    numeric = np.array(
        [
            (
                _per_row_negloglik(z + step * e, *rows.values, rows.counts)[1]
                - _per_row_negloglik(z - step * e, *rows.values, rows.counts)[1]
            )
            / (2 * step)
            for e in np.eye(4)
        ]
    )
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


@pytest.mark.parametrize("a", [None, 1.0 + 5e-5], ids=["fitted", "a-near-one"])
def test_expected_purchases_table_is_equation_10_for_every_customer(calibration, fit, a):
    params = fit.params.copy()
    if a is not None:
        params[2] = a
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    rows = distinct_rows(x, tx, T)
    pairs = distinct_rows(rows.codes[0], rows.codes[2])
    ends = np.array([1.0, 13.0, 39.0, 78.0])
    for t, (cum, alive) in zip(ends, expected_purchases_table(params, ends, rows, pairs), strict=True):
        np.testing.assert_array_equal(cum[rows.inverse], conditional_expected_purchases(params, t, x, tx, T))
        np.testing.assert_array_equal(alive[rows.inverse], p_alive(params, x, tx, T))


def test_purchase_moments_of_a_customer_do_not_depend_on_the_others(calibration, fit):
    # Each distinct (x, T) series stops on its own, so a customer's moments are the same alone or in a crowd.
    x, tx, T = (calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    first, second = conditional_purchase_moments(fit.params, 39.0, x, tx, T)
    for i in (0, 17, int(np.argmax(x)), int(np.argmax(T - tx))):
        one = conditional_purchase_moments(fit.params, 39.0, x[i : i + 1], tx[i : i + 1], T[i : i + 1])
        assert (one[0][0], one[1][0]) == (first[i], second[i])
