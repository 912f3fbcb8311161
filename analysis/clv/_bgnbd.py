"""BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005, "Counting Your Customers" the Easy Way).

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
after each purchase they drop out with probability p ~ Beta(a, b). Equation
numbers refer to the 2005 Marketing Science paper.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, digamma, gammaln, hyp2f1

from analysis.clv._large import BgnbdObjective, coarsen
from analysis.clv._mle import MleFit, maximize, maximize_large
from analysis.clv._rows import Rows, distinct_rows

__all__ = [
    "EXACT_ROWS",
    "NAMES",
    "fit_bgnbd",
    "expected_purchases_table",
    "conditional_expected_purchases",
    "conditional_probability_purchase",
    "conditional_purchase_moments",
    "active_purchase_moments",
    "p_alive",
]

NAMES = ("r", "alpha", "a", "b")
_NEAR_ONE = 1e-4
# Up to this many distinct (x, t_x, T) rows the fit runs exactly as it always has; beyond, the
# coarse-start Newton fit takes over (see analysis.clv._mle). CDNOW master has 8,685 in its
# 39-week calibration period and 11,104 over all 78 weeks.
EXACT_ROWS = 20_000
COARSE_ROWS = 4_000


def _compress(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> Rows:
    # Many customers share (x, t_x, T); the likelihood only needs each triple once. The
    # triples come sorted by x, then t_x, then T, as np.unique(axis=0) gives them.
    return distinct_rows(x, tx, T)


class _NegLogLik:
    """Weighted negative log-likelihood and its gradient in log-parameter space.

    Every floating-point operation is the one the straightforward per-row
    formula performs, in the same order, so the value and gradient are the same
    to the last bit (the quasi-Newton fit that uses them then is too); only
    work that depends on ``x`` or ``T`` alone (gamma functions, logarithms) is
    done once per distinct value and gathered. Rows come sorted by ``x``
    (:func:`_compress`), so the repeat buyers are the rows from ``self.k`` on.
    """

    def __init__(self, x, tx, T, w):
        self.ux, self.inv = np.unique(x, return_inverse=True)
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(tx, return_inverse=True)
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self.k = int(np.searchsorted(x, 0.0, side="right"))
        self.xr = x[self.k :]
        self.uxr, self.invr = np.unique(self.xr, return_inverse=True)

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(z)
        ux, inv, x, w, k = self.ux, self.inv, self.x, self.w, self.k
        lg = (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))[inv]
        dg_ab = digamma(a + b + ux)
        log_aT = np.log(alpha + self.uT)[self.iT]
        log_atx = np.log(alpha + self.utx)[self.itx]
        rx = (r + ux)[inv]
        a3 = -rx * log_aT
        a4 = np.full_like(x, -np.inf)
        a4[k:] = np.log(a) - np.log(b + self.uxr - 1.0)[self.invr] - rx[k:] * log_atx[k:]
        # Without a repeat purchase a4 = -inf, and logaddexp(a3, -inf) is a3 + log1p(0).
        lse = np.empty_like(x)
        lse[:k] = a3[:k] + 0.0
        lse[k:] = np.logaddexp(a3[k:], a4[k:])
        w3 = np.ones_like(x)
        w3[k:] = np.exp(a3[k:] - lse[k:])
        w4 = np.zeros_like(x)
        w4[k:] = np.exp(a4[k:] - lse[k:])
        const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        ll = float(np.dot(w, lg + lse)) + const * w.sum()
        inv_bx1 = np.zeros_like(x)
        inv_bx1[k:] = (1.0 / (b + self.uxr - 1.0))[self.invr]
        g_r = (digamma(r + ux) - digamma(r) + np.log(alpha))[inv] - w3 * log_aT - w4 * log_atx
        g_alpha = r / alpha - w3 * rx / (alpha + self.T) - w4 * rx / (alpha + self.tx)
        g_a = (digamma(a + b) - dg_ab)[inv] + w4 / a
        g_b = (digamma(a + b) + digamma(b + ux) - digamma(b) - dg_ab)[inv] - w4 * inv_bx1
        grad = np.array([w @ g_r * r, w @ g_alpha * alpha, w @ g_a * a, w @ g_b * b])
        return -ll, -grad


def _starts(x, T, w) -> list[tuple[float, ...]]:
    rate = max(float(np.average(x, weights=w) / max(np.average(T, weights=w), 1e-9)), 1e-3)
    return [(1.0, 1.0, 1.0, 1.0), (0.5, 0.5 / rate, 1.0, 3.0)]


def fit_bgnbd(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, *, rows: Rows | None = None) -> MleFit:
    """Fit the BG/NBD model by maximum likelihood.

    Up to :data:`EXACT_ROWS` distinct ``(x, t_x, T)`` rows the quasi-Newton
    :func:`~analysis.clv._mle.maximize` is used; beyond, Newton's method from a
    fit to a coarse summary of the rows (:func:`~analysis.clv._mle.maximize_large`).

    Parameters
    ----------
    frequency, recency, T
        Per-customer repeat occasions ``x``, time of last purchase ``t_x`` and age
        ``T``, all in the same time unit.
    rows
        Their distinct rows, when already known (:func:`~analysis.clv._rows.distinct_rows`).

    Returns
    -------
    MleFit
        Parameters ``r, alpha, a, b``.
    """
    if rows is None:
        rows = _compress(np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float))
    (x, tx, T_), w = rows.values, rows.counts
    starts = _starts(x, T_, w)
    if x.size <= EXACT_ROWS:
        return maximize(_NegLogLik(x, tx, T_, w), names=NAMES, starts=starts)
    objective = BgnbdObjective(x, tx, T_, w, coded=(rows.levels, rows.codes))
    coarse = BgnbdObjective(*coarsen(x, (tx, T_), w, COARSE_ROWS))
    return maximize_large(objective, coarse=coarse, names=NAMES, starts=starts)


def _log_odds_dead(params: np.ndarray, x, tx, T, start: int | None = None) -> np.ndarray:
    # log(P(dead) / P(alive)); -inf without a repeat purchase. `start`: rows are sorted by x and
    # the repeat buyers are those from `start` on (slices instead of masks, same numbers).
    r, alpha, a, b = params
    out = np.full(np.shape(x), -np.inf)
    rep = slice(start, None) if start is not None else x > 0
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
    numer = _numerator(np.asarray(params, float), t, x, T)
    denom = 1.0 + np.exp(_log_odds_dead(np.asarray(params, float), x, tx, T))
    out = numer / denom
    return np.where(t > 0, out, 0.0)


def _numerator(params: np.ndarray, t, x, T) -> np.ndarray:
    # Equation (10) without its P(alive) denominator: a function of (x, T) and t only.
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + T + t))
    core = 1.0 - np.exp(log_ratio) * hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    return (a + b + x - 1.0) / (a - 1.0) * core


def expected_purchases_table(params: np.ndarray, ends: np.ndarray, rows: Rows, pairs: Rows):
    """Equation (10) at each horizon of ``ends`` for the distinct histories of ``rows``.

    The same numbers as :func:`conditional_expected_purchases` (operation for
    operation), computed once per distinct history, with the hypergeometric
    numerator once per distinct ``(x, T)``.

    Parameters
    ----------
    params
        BG/NBD ``r, alpha, a, b``.
    ends
        Horizons, ascending.
    rows
        Distinct ``(x, t_x, T)`` histories (:func:`~analysis.clv._rows.distinct_rows`).
    pairs
        Distinct ``(x, T)`` codes of those histories: ``distinct_rows(rows.codes[0], rows.codes[2])``.

    Yields
    ------
    tuple of numpy.ndarray
        ``(expected purchases, p_alive)`` per history, one pair for each horizon.
    """
    params = np.asarray(params, float)
    r, alpha, a, b = params
    x, tx, T = rows.values
    denom = 1.0 + np.exp(_log_odds_dead(params, x, tx, T, start=int(np.searchsorted(x, 0.0, side="right"))))
    alive = 1.0 / denom  # p_alive, operation for operation
    if abs(a - 1.0) < _NEAR_ONE:
        lo = expected_purchases_table(np.array([r, alpha, 1.0 - 2 * _NEAR_ONE, b]), ends, rows, pairs)
        hi = expected_purchases_table(np.array([r, alpha, 1.0 + 2 * _NEAR_ONE, b]), ends, rows, pairs)
        w = (a - (1.0 - 2 * _NEAR_ONE)) / (4.0 * _NEAR_ONE)
        for (low, _), (high, _) in zip(lo, hi, strict=True):
            yield (1.0 - w) * low + w * high, alive
        return
    numer = _numerator(
        params, np.asarray(ends, float)[:, None], rows.levels[0][pairs.values[0]], rows.levels[2][pairs.values[1]]
    )
    for j, t in enumerate(ends):
        out = numer[j][pairs.inverse] / denom
        yield (out if t > 0 else np.zeros_like(out)), alive


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

    Both depend on ``(x, T)`` only, so the sums are done once per distinct
    ``(x, T)``; each runs until its own next term is below ``tol`` times its
    running total (at most ``max_terms`` terms). ``E[X]`` equals
    :func:`conditional_expected_purchases` (equation 10) up to that tolerance.

    Returns
    -------
    tuple of numpy.ndarray
        ``(E[X], E[X^2])`` per customer.
    """
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    x, tx, T = np.broadcast_arrays(x, tx, T)
    alive = p_alive(params, x, tx, T)
    if float(t) <= 0 or x.size == 0:
        return np.zeros(x.shape), np.zeros(x.shape)
    pairs = distinct_rows(x.ravel(), T.ravel())
    first, second = active_purchase_moments(params, t, *pairs.values, tol=tol, max_terms=max_terms)
    inv = pairs.inverse.reshape(x.shape)
    return alive * first[inv], alive * second[inv]


def active_purchase_moments(
    params: np.ndarray, t: float, x: np.ndarray, T: np.ndarray, *, tol: float = 1e-12, max_terms: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """The two sums of :func:`conditional_purchase_moments` for customers active at ``T``.

    Functions of ``(x, T)`` alone, so give each distinct pair once; each row's
    series stops at its own first term below ``tol`` times its running total,
    so one long series costs only its own work.

    Returns
    -------
    tuple of numpy.ndarray
        ``(E[X | active], E[X^2 | active])`` per row.
    """
    r, alpha, a, b = np.asarray(params, float)
    t = float(t)
    q = t / (alpha + T + t)  # the negative binomial's per-trial "success" share
    shape = r + x
    log_beta0 = gammaln(a + b + x) - gammaln(b + x)
    first, second = np.zeros(x.shape), np.zeros(x.shape)
    todo = np.arange(x.size)
    for n in range(1, max_terms + 1):
        xs = x[todo]
        log_survive = log_beta0[todo] + gammaln(b + xs + n - 1) - gammaln(a + b + xs + n - 1)
        term = betainc(float(n), shape[todo], q[todo]) * np.exp(log_survive)
        first[todo] += term
        second[todo] += (2 * n - 1) * term
        todo = todo[(2 * n - 1) * term > tol * np.maximum(second[todo], 1e-300)]
        if todo.size == 0:
            break
    return first, second
