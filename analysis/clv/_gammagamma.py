"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; Fader & Hardie 2013 note).

A customer's transaction values are Gamma(p, ν) around their mean p/ν, and ν
varies across customers as Gamma(q, γ). Fitted on repeat buyers only, using
their mean spend per repeat transaction; it assumes that spend is independent
of purchase frequency, which is checked by their correlation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from analysis.clv._mle import MleFit, maximize

__all__ = [
    "NAMES",
    "fit_gammagamma",
    "conditional_expected_spend",
    "conditional_spend_moments",
    "population_mean_spend",
]

NAMES = ("p", "q", "gamma")


def fit_gammagamma(frequency: np.ndarray, monetary: np.ndarray) -> MleFit:
    """Fit the Gamma-Gamma model on repeat buyers.

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
    log_m, log_x = np.log(m), np.log(x)

    def nll(z: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = np.exp(z)
        px = p * x
        log_xmg = np.log(x * m + g)
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
        grad = np.array([g_p.sum() * p, g_q.sum() * q, g_g.sum() * g])
        return -float(ll.sum()), -grad

    mean = float(np.mean(m))
    starts = [(1.0, 1.0, 1.0), (2.0, 3.0, 2.0 * mean)]
    return maximize(nll, names=NAMES, starts=starts)


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
