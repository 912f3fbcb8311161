"""Optimisers: Newton's method and the large-data driver, on likelihoods whose optimum is known."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.clv._mle import maximize, maximize_large, newton

NAMES = ("a", "b")


class _Gaussian:
    """Negative log-likelihood of n draws from N(mu, sigma^2) in z = (log mu, log sigma).

    The maximum is known in closed form: mu = mean, sigma^2 = the biased variance.
    """

    def __init__(self, draws: np.ndarray):
        self.n, self.s1, self.s2 = draws.size, draws.sum(), (draws**2).sum()

    def _parts(self, z):
        mu, sigma = np.exp(z)
        ss = self.s2 - 2 * mu * self.s1 + self.n * mu**2  # sum of squared deviations from mu
        return mu, sigma, ss

    def __call__(self, z):
        mu, sigma, ss = self._parts(z)
        value = self.n * np.log(sigma) + ss / (2 * sigma**2)
        d_mu = -(self.s1 - self.n * mu) / sigma**2
        d_sigma = self.n / sigma - ss / sigma**3
        return float(value), np.array([d_mu * mu, d_sigma * sigma])

    def with_hessian(self, z):
        value, grad = self(z)
        mu, sigma, ss = self._parts(z)
        h_mumu = self.n / sigma**2
        h_musigma = 2 * (self.s1 - self.n * mu) / sigma**3
        h_ss = -self.n / sigma**2 + 3 * ss / sigma**4
        theta = np.array([mu, sigma])
        hess = np.outer(theta, theta) * np.array([[h_mumu, h_musigma], [h_musigma, h_ss]]) + np.diag(grad)
        return value, grad, hess


class _Saddle(_Gaussian):
    """The same value and gradient, with a Hessian that is not positive definite."""

    def with_hessian(self, z):
        value, grad = self(z)
        return value, grad, -np.eye(2)


@pytest.fixture(scope="module")
def draws():
    return np.random.default_rng(5).normal(7.0, 2.0, 5000)


def test_newton_finds_the_closed_form_optimum_and_its_curvature(draws):
    objective = _Gaussian(draws)
    fit = newton(objective, names=NAMES, start=np.log([6.5, 2.3]))  # near, as after a coarse fit
    assert fit is not None and fit.converged
    np.testing.assert_allclose(fit.params, [draws.mean(), draws.std()], rtol=1e-12)
    # Standard errors from the inverse Hessian: sigma / sqrt(n) for mu, sigma / sqrt(2n) for sigma.
    se = fit.standard_errors()
    assert se["a"] == pytest.approx(draws.std() / np.sqrt(draws.size), rel=1e-9)
    assert se["b"] == pytest.approx(draws.std() / np.sqrt(2 * draws.size), rel=1e-9)


def test_newton_gives_up_without_positive_curvature(draws):
    assert newton(_Saddle(draws), names=NAMES, start=np.log([5.0, 3.0])) is None


def test_large_fit_agrees_with_the_quasi_newton_fit(draws):
    coarse = _Gaussian(draws[::50])
    exact = maximize(_Gaussian(draws), names=NAMES, starts=[(1.0, 1.0)])
    large = maximize_large(_Gaussian(draws), coarse=coarse, names=NAMES, starts=[(1.0, 1.0)])
    np.testing.assert_allclose(large.params, exact.params, rtol=1e-7)
    np.testing.assert_allclose(large.params, [draws.mean(), draws.std()], rtol=1e-12)


def test_large_fit_falls_back_to_quasi_newton_when_newton_fails(draws):
    # Newton refuses the saddle Hessian; the quasi-Newton fit on all the data still finds the optimum.
    large = maximize_large(_Saddle(draws), coarse=_Gaussian(draws[::50]), names=NAMES, starts=[(1.0, 1.0)])
    assert large.converged
    np.testing.assert_allclose(large.params, [draws.mean(), draws.std()], rtol=1e-6)
