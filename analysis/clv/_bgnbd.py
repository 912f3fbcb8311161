"""BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005, "Counting Your Customers" the Easy Way).

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
after each purchase they drop out with probability p ~ Beta(a, b). Equation
numbers refer to the 2005 Marketing Science paper.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from analysis.clv._mle import MleFit, maximize

__all__ = ["NAMES", "fit_bgnbd", "conditional_expected_purchases", "p_alive"]

NAMES = ("r", "alpha", "a", "b")
_NEAR_ONE = 1e-4


def _compress(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, ...]:
    # Many customers share (x, t_x, T); the likelihood only needs each triple once.
    triples = np.column_stack([x, tx, T])
    uniq, counts = np.unique(triples, axis=0, return_counts=True)
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(float)


def _loglik_terms(log_params: np.ndarray, x, tx, T) -> np.ndarray:
    """Per-row log-likelihood, equation (6), with the two-branch sum in log-sum-exp form."""
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1.0) - (r + x[repeat]) * np.log(alpha + tx[repeat])
    return a1 + a2 + np.logaddexp(a3, a4)


class _NegLogLik:
    """Weighted negative log-likelihood and its gradient in log-parameter space.

    Terms that depend on ``x`` only (gamma and digamma functions) are evaluated
    once per distinct ``x`` and gathered, which is most of the speed-up.
    """

    def __init__(self, x, tx, T, w):
        self.ux, self.inv = np.unique(x, return_inverse=True)
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self.rep = x > 0
        self.xr = x[self.rep]

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(z)
        ux, inv, x, w, rep = self.ux, self.inv, self.x, self.w, self.rep
        lg = (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))[inv]
        dg_r = digamma(r + ux)[inv]
        dg_b = digamma(b + ux)[inv]
        dg_ab = digamma(a + b + ux)[inv]
        log_aT = np.log(alpha + self.T)
        log_atx = np.log(alpha + self.tx)
        a3 = -(r + x) * log_aT
        a4 = np.full_like(x, -np.inf)
        a4[rep] = np.log(a) - np.log(b + self.xr - 1.0) - (r + self.xr) * log_atx[rep]
        lse = np.logaddexp(a3, a4)
        w3 = np.exp(a3 - lse)
        w4 = np.exp(a4 - lse)
        const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        ll = float(np.dot(w, lg + lse)) + const * w.sum()
        inv_bx1 = np.zeros_like(x)
        inv_bx1[rep] = 1.0 / (b + self.xr - 1.0)
        g_r = dg_r - digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_atx
        g_alpha = r / alpha - w3 * (r + x) / (alpha + self.T) - w4 * (r + x) / (alpha + self.tx)
        g_a = digamma(a + b) - dg_ab + w4 / a
        g_b = digamma(a + b) + dg_b - digamma(b) - dg_ab - w4 * inv_bx1
        grad = np.array([w @ g_r * r, w @ g_alpha * alpha, w @ g_a * a, w @ g_b * b])
        return -ll, -grad


def fit_bgnbd(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> MleFit:
    """Fit the BG/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency, recency, T
        Per-customer repeat occasions ``x``, time of last purchase ``t_x`` and age
        ``T``, all in the same time unit.

    Returns
    -------
    MleFit
        Parameters ``r, alpha, a, b``.
    """
    x, tx, T_, w = _compress(np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float))
    rate = max(float(np.average(x, weights=w) / max(np.average(T_, weights=w), 1e-9)), 1e-3)
    starts = [(1.0, 1.0, 1.0, 1.0), (0.5, 0.5 / rate, 1.0, 3.0)]
    return maximize(_NegLogLik(x, tx, T_, w), names=NAMES, starts=starts)


def _log_odds_dead(params: np.ndarray, x, tx, T) -> np.ndarray:
    r, alpha, a, b = params
    out = np.full(np.shape(x), -np.inf)
    rep = x > 0
    out[rep] = np.log(a) - np.log(b + x[rep] - 1.0) + (r + x[rep]) * (np.log(alpha + T[rep]) - np.log(alpha + tx[rep]))
    return out


def p_alive(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability that each customer is still alive at ``T`` (equation 13 of the technical note).

    Customers without a repeat purchase are alive with probability 1 under the
    model (dropout happens only right after a purchase).
    """
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    return 1.0 / (1.0 + np.exp(_log_odds_dead(np.asarray(params, float), x, tx, T)))


def conditional_expected_purchases(
    params: np.ndarray, t: float | np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` given ``(x, t_x, T)`` (equation 10).

    ``t`` may be a scalar or a column vector (shape ``(k, 1)``) for several horizons
    at once; the result then has shape ``(k, n)``.
    """
    r, alpha, a, b = np.asarray(params, float)
    if abs(a - 1.0) < _NEAR_ONE:
        # Equation (10) divides by a - 1 but is continuous there: interpolate.
        lo = conditional_expected_purchases((r, alpha, 1.0 - 2 * _NEAR_ONE, b), t, x, tx, T)
        hi = conditional_expected_purchases((r, alpha, 1.0 + 2 * _NEAR_ONE, b), t, x, tx, T)
        w = (a - (1.0 - 2 * _NEAR_ONE)) / (4.0 * _NEAR_ONE)
        return (1.0 - w) * lo + w * hi
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    t = np.asarray(t, float)
    z = t / (alpha + T + t)
    log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + T + t))
    core = 1.0 - np.exp(log_ratio) * hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    numer = (a + b + x - 1.0) / (a - 1.0) * core
    denom = 1.0 + np.exp(_log_odds_dead(np.asarray(params, float), x, tx, T))
    out = numer / denom
    return np.where(t > 0, out, 0.0)
