"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; Fader & Hardie 2013 note).

A customer's transaction values are Gamma(p, ν) around their mean p/ν, and ν
varies across customers as Gamma(q, γ). Fitted on repeat buyers only, using
their mean spend per repeat transaction; it assumes that spend is independent
of purchase frequency, which is checked by their correlation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from analysis.clv._large import GammaGammaObjective
from analysis.clv._mle import MleFit, maximize, maximize_large

__all__ = [
    "NAMES",
    "fit_gammagamma",
    "conditional_expected_spend",
    "conditional_spend_moments",
    "population_mean_spend",
]

NAMES = ("p", "q", "gamma")


# As for BG/NBD: up to this many repeat buyers the quasi-Newton fit runs exactly as it always has.
EXACT_ROWS = 20_000
COARSE_ROWS = 4_000


class _NegLogLik:
    """Negative log-likelihood and gradient of one row per repeat buyer, in log-parameter space.

    The arithmetic is the per-row formula's, operation for operation, so results
    are the same to the last bit; the gamma functions, which depend on ``x``
    alone, are evaluated once per distinct ``x`` and gathered.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray):
        self.x, self.m = x, m
        self.log_m, self.log_x = np.log(m), np.log(x)
        self.ux, self.inv = np.unique(x, return_inverse=True)

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = np.exp(z)
        x, inv, pu = self.x, self.inv, p * self.ux
        px = pu[inv]
        xmg = x * self.m + g
        log_xmg = np.log(xmg)
        ll = (
            (gammaln(pu + q) - gammaln(pu) - gammaln(q) + q * np.log(g))[inv]
            + (px - 1.0) * self.log_m
            + px * self.log_x
            - (px + q) * log_xmg
        )
        dg_pxq = digamma(pu + q)
        g_p = x * ((dg_pxq - digamma(pu))[inv] + self.log_m + self.log_x - log_xmg)
        g_q = (dg_pxq - digamma(q) + np.log(g))[inv] - log_xmg
        g_g = q / g - (px + q) / xmg
        grad = np.array([g_p.sum() * p, g_q.sum() * q, g_g.sum() * g])
        return -float(ll.sum()), -grad


def fit_gammagamma(frequency: np.ndarray, monetary: np.ndarray) -> MleFit:
    """Fit the Gamma-Gamma model on repeat buyers.

    Up to :data:`EXACT_ROWS` buyers the quasi-Newton
    :func:`~analysis.clv._mle.maximize` is used; beyond, Newton's method from
    a fit to a regular sample of the buyers (:func:`~analysis.clv._mle.maximize_large`).

    Parameters
    ----------
    frequency
        Repeat transactions ``x`` (> 0) of each repeat buyer.
    monetary
        Their mean spend per repeat transaction ``m`` (> 0).

    Returns
    -------
    MleFit
        Parameters ``p, q, gamma``.
    """
    x = np.asarray(frequency, float)
    m = np.asarray(monetary, float)
    mean = float(np.mean(m))
    starts = [(1.0, 1.0, 1.0), (2.0, 3.0, 2.0 * mean)]
    if x.size <= EXACT_ROWS:
        return maximize(_NegLogLik(x, m), names=NAMES, starts=starts)
    # One logarithm per buyer is all a pass costs, less than finding identical (x, m) pairs would;
    # a regular sample of the buyers is the coarse problem.
    step = -(-x.size // COARSE_ROWS)
    coarse = GammaGammaObjective(x[::step], m[::step], np.full(x[::step].size, x.size / x[::step].size))
    return maximize_large(GammaGammaObjective(x, m, np.ones_like(x)), coarse=coarse, names=NAMES, starts=starts)


def population_mean_spend(params: np.ndarray) -> float:
    """Mean spend per transaction across customers, ``p γ / (q - 1)`` (needs ``q > 1``)."""
    p, q, g = np.asarray(params, float)
    return float(p * g / (q - 1.0)) if q > 1.0 else float("nan")


def conditional_expected_spend(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected spend per transaction given ``x`` repeat transactions of mean ``m``.

    ``(p (γ + x m)) / (p x + q - 1)``; for customers without a repeat purchase
    (``x = 0``) this is the population mean.
    """
    p, q, g = np.asarray(params, float)
    x = np.asarray(x, float)
    m = np.where(x > 0, np.nan_to_num(np.asarray(m, float)), 0.0)
    return p * (g + x * m) / (p * x + q - 1.0)


def conditional_spend_moments(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, ...]:
    """Moments of a customer's future spend per transaction given ``x`` repeat transactions of mean ``m``.

    Given the customer's scale ``ν`` each transaction is ``Gamma(p, ν)`` and the
    posterior of ``ν`` is ``Gamma(p x + q, γ + x m)``. Two future transactions of
    one customer share ``ν``, so they are correlated; with ``c = γ + x m`` and
    ``k = p x + q``:

    * ``E[z] = p c / (k - 1)`` (:func:`conditional_expected_spend`),
    * ``E[z^2] = p (p + 1) c^2 / ((k - 1)(k - 2))``,
    * ``E[z_i z_j] = p^2 c^2 / ((k - 1)(k - 2))`` for two different transactions.

    The second moments are infinite (``inf``) when ``k <= 2``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(E[z], E[z^2], E[z_i z_j])`` per customer.
    """
    p, q, g = np.asarray(params, float)
    x = np.asarray(x, float)
    m = np.where(x > 0, np.nan_to_num(np.asarray(m, float)), 0.0)
    c, k = g + x * m, p * x + q
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_sq = np.where(k > 2.0, c**2 / ((k - 1.0) * (k - 2.0)), np.inf)
    return p * c / (k - 1.0), p * (p + 1.0) * inv_sq, p**2 * inv_sq
