"""BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005, "Counting Your Customers" the Easy Way).

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
after each purchase they drop out with probability p ~ Beta(a, b). Equation
numbers refer to the 2005 Marketing Science paper.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, digamma, gammaln, hyp2f1

from analysis.clv._mle import MleFit, maximize

__all__ = [
    "NAMES",
    "fit_bgnbd",
    "conditional_expected_purchases",
    "conditional_probability_purchase",
    "conditional_purchase_moments",
    "p_alive",
]

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


def conditional_probability_purchase(
    params: np.ndarray, t: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Probability of at least one purchase in ``(T, T + t]`` given ``(x, t_x, T)``.

    ``P(X(t) >= 1 | r, alpha, a, b, x, t_x, T) = 1 - P(X(t) = 0 | ...)``. A
    customer makes no purchase in the window when they are already inactive, or
    when they are active and their Poisson clock does not tick within ``t``.
    Given that they are active at ``T`` the posterior of the purchase rate is
    ``Gamma(r + x, alpha + T)`` (the "alive" branch of equation 6 of Fader,
    Hardie & Lee 2005), so

    ``P(X(t) >= 1 | ...) = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``,

    the ``n = 0`` case of the BG/NBD conditional PMF. For a customer seen at
    ``x = t_x = T = 0`` it is ``1 - P(X(t) = 0)`` of equation (8) (lifetimes'
    ``probability_of_n_purchases_up_to_time(t, 0)``). Computed in log space.

    Parameters
    ----------
    params
        BG/NBD ``r, alpha, a, b``.
    t
        Window length, in the model's time unit (>= 0).
    x, tx, T
        Per-customer frequency, recency and age at the forecast origin.

    Returns
    -------
    numpy.ndarray
        One probability per customer, in ``[0, 1]``.
    """
    r, alpha, _, _ = np.asarray(params, float)
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    t = float(t)
    if t <= 0:
        return np.zeros(np.broadcast(x, tx, T).shape)
    log_alive = -np.logaddexp(0.0, _log_odds_dead(np.asarray(params, float), x, tx, T))
    # log P(no tick in t | alive) = -(r + x) log(1 + t / (alpha + T)); -expm1 keeps small windows exact.
    log_silent = -(r + x) * np.log1p(t / (alpha + T))
    return np.exp(log_alive + np.log(-np.expm1(log_silent)))


def conditional_purchase_moments(
    params: np.ndarray,
    t: float,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    *,
    tol: float = 1e-12,
    max_terms: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    """First two moments of the number of purchases in ``(T, T + t]`` given ``(x, t_x, T)``.

    Given that the customer is active at ``T``, their rate and dropout
    probability are independent with posteriors ``Gamma(r + x, alpha + T)`` and
    ``Beta(a, b + x)``. Write ``K`` for the purchases a Poisson clock would
    produce in ``t`` (negative binomial once the rate is integrated out) and
    note that the ``n``-th purchase happens only if the customer survived the
    ``n - 1`` before it; so ``P(X >= n | active) = P(K >= n) E[(1 - p)^(n - 1)]``
    and

    ``E[X] = P(alive) sum_n P(X >= n | active)``,
    ``E[X^2] = P(alive) sum_n (2n - 1) P(X >= n | active)``.

    The sums run until every customer's next term is below ``tol`` times its
    running total. ``E[X]`` equals :func:`conditional_expected_purchases`
    (equation 10) up to that tolerance.

    Returns
    -------
    tuple of numpy.ndarray
        ``(E[X], E[X^2])`` per customer.
    """
    r, alpha, a, b = np.asarray(params, float)
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    x, tx, T = np.broadcast_arrays(x, tx, T)
    alive = p_alive(params, x, tx, T)
    first = np.zeros(x.shape)
    second = np.zeros(x.shape)
    if float(t) <= 0 or x.size == 0:
        return first, second
    q = float(t) / (alpha + T + float(t))  # the negative binomial's per-trial "success" share
    shape = r + x
    log_beta0 = gammaln(a + b + x) - gammaln(b + x)
    for n in range(1, max_terms + 1):
        log_survive = log_beta0 + gammaln(b + x + n - 1) - gammaln(a + b + x + n - 1)
        term = betainc(float(n), shape, q) * np.exp(log_survive)
        first += term
        second += (2 * n - 1) * term
        if np.all((2 * n - 1) * term <= tol * np.maximum(second, 1e-300)):
            break
    return alive * first, alive * second
