"""Gamma-Gamma: paper parameters on CDNOW and agreement with the `lifetimes` oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma, gammaln

from analysis.clv import _gammagamma as gammagamma
from analysis.clv._data import purchase_days, summarize
from analysis.clv._gammagamma import (
    _NegLogLik,
    conditional_expected_spend,
    conditional_spend_moments,
    fit_gammagamma,
    population_mean_spend,
)
from analysis.clv._large import GammaGammaObjective
from tests._data import shared_file

# Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013 note), fitted on
# the CDNOW 1/10 sample's 39-week calibration period, repeat buyers only.
PAPER = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def repeat_buyers() -> pd.DataFrame:
    raw = pd.read_csv(shared_file("cdnow_sample.csv.gz"), dtype={"customer_id": str, "date": str})
    orders = pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "order_id": raw.index.astype(str),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"],
        }
    )
    table = summarize(purchase_days(orders), end=dt.date(1997, 9, 30), time_unit="week")
    return table[table["frequency"] > 0]


@pytest.fixture(scope="module")
def fit(repeat_buyers):
    return fit_gammagamma(repeat_buyers["frequency"], repeat_buyers["monetary_value"])


def test_the_note_uses_946_repeat_buyers(repeat_buyers):
    # Fader & Hardie's note: 946 customers made at least one repeat purchase in weeks 1-39.
    assert len(repeat_buyers) == 946


@pytest.mark.parametrize("name", list(PAPER))
def test_parameters_match_fader_hardie(fit, name):
    got = fit.as_dict()[name]
    assert abs(got / PAPER[name] - 1) < 0.005, (name, got)


def test_expected_spend_matches_lifetimes(repeat_buyers, fit):
    lifetimes = pytest.importorskip("lifetimes")
    oracle = lifetimes.GammaGammaFitter()
    oracle.params_ = pd.Series(dict(zip(("p", "q", "v"), fit.params, strict=True)))
    x, m = repeat_buyers["frequency"].to_numpy(), repeat_buyers["monetary_value"].to_numpy()
    theirs = oracle.conditional_expected_average_profit(pd.Series(x), pd.Series(m))
    np.testing.assert_allclose(conditional_expected_spend(fit.params, x, m), np.asarray(theirs), rtol=1e-9)


def test_customers_without_repeat_get_the_population_mean(fit):
    got = conditional_expected_spend(fit.params, np.array([0.0]), np.array([np.nan]))
    p, q, g = fit.params
    assert got[0] == pytest.approx(p * g / (q - 1))
    assert population_mean_spend(fit.params) == pytest.approx(got[0])


def test_more_transactions_pull_towards_the_customer_mean(fit):
    m = np.array([100.0, 100.0])
    spend = conditional_expected_spend(fit.params, np.array([1.0, 20.0]), m)
    assert population_mean_spend(fit.params) < spend[0] < spend[1] < 100.0


def test_spend_moments_match_a_simulation_of_the_posterior():
    # Posterior of a customer's scale nu is Gamma(p x + q, gamma + x m); two transactions share nu.
    params = np.array([PAPER["p"], PAPER["q"], PAPER["gamma"]])
    x, m = np.array([0.0, 1.0, 5.0]), np.array([np.nan, 30.0, 12.0])
    mean, square, cross = conditional_spend_moments(params, x, m)
    np.testing.assert_allclose(mean, conditional_expected_spend(params, x, m), rtol=1e-12)
    rng = np.random.default_rng(2013)
    draws = 400_000
    p, q, g = params
    for i in range(x.size):
        nu = rng.gamma(p * x[i] + q, 1.0 / (g + x[i] * np.nan_to_num(m[i])), draws)
        z1, z2 = rng.gamma(p, 1.0 / nu), rng.gamma(p, 1.0 / nu)
        assert mean[i] == pytest.approx(z1.mean(), rel=0.01)
        assert square[i] == pytest.approx((z1**2).mean(), rel=0.05)
        assert cross[i] == pytest.approx((z1 * z2).mean(), rel=0.05)


def test_spend_second_moments_are_infinite_when_q_is_at_most_two():
    _, square, cross = conditional_spend_moments(np.array([2.0, 1.5, 10.0]), np.array([0.0, 1.0]), np.array([0, 20.0]))
    assert np.isinf(square[0]) and np.isinf(cross[0])  # k = q = 1.5
    assert np.isfinite(square[1]) and np.isfinite(cross[1])  # k = p + q = 3.5


def _per_row_negloglik(z, x, m):
    # The Gamma-Gamma log-likelihood and gradient row by row, as fit_gammagamma computed them before
    # the per-distinct-x gathers: the reference the exact path must match bit for bit.
    p, q, g = np.exp(z)
    px, log_m, log_x, log_xmg = p * x, np.log(m), np.log(x), np.log(x * m + g)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_xmg
    )
    dg_pxq = digamma(px + q)
    g_p = x * (dg_pxq - digamma(px) + log_m + log_x - log_xmg)
    g_q = dg_pxq - digamma(q) + np.log(g) - log_xmg
    g_g = q / g - (px + q) / (x * m + g)
    return -float(ll.sum()), -np.array([g_p.sum() * p, g_q.sum() * q, g_g.sum() * g])


@pytest.mark.parametrize(
    "point", [(6.25, 3.74, 15.44), (1.0, 1.0, 1.0), (0.3, 9.0, 200.0)], ids=["note", "start", "far"]
)
def test_likelihood_equals_the_per_row_formula_to_the_last_bit(repeat_buyers, point):
    x, m = repeat_buyers["frequency"].to_numpy(), repeat_buyers["monetary_value"].to_numpy()
    value, grad = _NegLogLik(x, m)(np.log(point))
    ref_value, ref_grad = _per_row_negloglik(np.log(point), x, m)
    assert value == ref_value
    np.testing.assert_array_equal(grad, ref_grad)


@pytest.mark.parametrize(
    "point", [(6.25, 3.74, 15.44), (1.0, 1.0, 1.0), (0.3, 9.0, 200.0)], ids=["note", "start", "far"]
)
def test_newton_objective_value_gradient_and_hessian(repeat_buyers, point):
    x, m = repeat_buyers["frequency"].to_numpy(), repeat_buyers["monetary_value"].to_numpy()
    z = np.log(point)
    value, grad, hess = GammaGammaObjective(x, m, np.ones_like(x)).with_hessian(z)
    ref_value, ref_grad = _per_row_negloglik(z, x, m)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-9 * np.abs(ref_grad).max())
    step = 1e-5
    numeric = np.array(
        [
            (_per_row_negloglik(z + step * e, x, m)[1] - _per_row_negloglik(z - step * e, x, m)[1]) / (2 * step)
            for e in np.eye(3)
        ]
    )
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


def test_newton_path_reaches_the_same_optimum(repeat_buyers, fit, monkeypatch):
    monkeypatch.setattr(gammagamma, "EXACT_ROWS", 0)
    large = fit_gammagamma(repeat_buyers["frequency"], repeat_buyers["monetary_value"])
    assert large.converged
    np.testing.assert_allclose(large.params, fit.params, rtol=1e-8)
    assert large.log_likelihood == pytest.approx(fit.log_likelihood, rel=1e-12)
    for name, se in fit.standard_errors().items():
        assert large.standard_errors()[name] == pytest.approx(se, rel=1e-6)
