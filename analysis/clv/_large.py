"""Likelihoods with analytic Hessians, for Newton's method on large data.

The BG/NBD (Fader, Hardie & Lee 2005, equation 6) and Gamma-Gamma (Fader &
Hardie 2013) log-likelihoods of weighted rows, with their gradients and
Hessians in log-parameter space (see :func:`analysis.clv._mle.maximize_large`).
Terms that depend on one column only are summed per distinct value of that
column first (the BG/NBD terms in ``x`` or ``T`` alone, the Gamma-Gamma terms
in ``x`` alone), so a pass over the rows costs one exponential and one
logarithm per BG/NBD repeat-buyer row and one logarithm per Gamma-Gamma row.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from analysis.clv._rows import levels_and_codes

__all__ = ["BgnbdObjective", "GammaGammaObjective", "coarsen"]


def coarsen(key: np.ndarray, others: tuple[np.ndarray, ...], w: np.ndarray, rows: int) -> tuple[np.ndarray, ...]:
    """A summary of about ``rows`` weighted rows of sorted data, for a starting point.

    Consecutive rows with the same ``key`` are pooled in blocks: each block keeps
    its ``key``, the weighted means of the ``others`` columns and the summed weight.

    Returns
    -------
    tuple of numpy.ndarray
        ``(key, *others, w)`` of the pooled rows.
    """
    n = key.size
    step = max(1, -(-n // rows))
    starts = np.union1d(np.arange(0, n, step), np.flatnonzero(np.r_[True, key[1:] != key[:-1]]))
    weight = np.add.reduceat(w, starts)
    means = [np.add.reduceat(w * col, starts) / weight for col in others]
    return (key[starts], *means, weight)


def _to_log_space(theta: np.ndarray, ll: float, grad: np.ndarray, hess: np.ndarray | None):
    # Negative log-likelihood of z = log(theta): dF/dz = theta F', d2F/dz2 = theta theta' F'' + diag(theta F').
    g = -theta * grad
    if hess is None:
        return -ll, g
    return -ll, g, -np.outer(theta, theta) * hess + np.diag(g)


class BgnbdObjective:
    """BG/NBD negative log-likelihood of weighted ``(x, t_x, T)`` rows.

    Per row the log-likelihood is ``A(x) + C + log(exp(a3) + exp(a4))`` with
    ``a3 = -(r + x) log(alpha + T)`` and, for repeat buyers, ``a4 = a3 + d``,
    ``d = log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x))``:
    so it is ``A(x) + C + a3 + softplus(d)``. Everything but ``softplus(d)`` is
    summed per distinct ``x`` or ``T``; the rows are visited for ``d`` only.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray, coded=None):
        """``coded``: ``(levels, codes)`` of ``x``, ``t_x`` and ``T`` when known (:class:`~analysis.clv._rows.Rows`)."""
        if coded is None:
            coded = tuple(zip(*(levels_and_codes(c) for c in (x, tx, T)), strict=True))
        (self.ux, utx, self.uT), (ix, itx, iT) = coded
        self.wx = np.bincount(ix, weights=w, minlength=self.ux.size)
        self.W = float(w.sum())
        self.wT = np.bincount(iT, weights=w, minlength=self.uT.size)
        self.wxT = np.bincount(iT, weights=w * x, minlength=self.uT.size)
        rep = x > 0
        self.xr, self.wr, self.iTr = x[rep], w[rep], iT[rep]
        self.utx, self.itx = utx, itx[rep]
        # Repeat buyers' x levels: all of them but a leading 0.
        skip = int(self.ux.size > 0 and self.ux[0] == 0.0)
        self.uxr, self.ixr = self.ux[skip:], ix[rep] - skip

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-likelihood and gradient at log-parameters ``z``."""
        return self._evaluate(z, hessian=False)

    def with_hessian(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log-likelihood, gradient and Hessian at ``z``."""
        return self._evaluate(z, hessian=True)

    def _per_x(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.ixr, weights=values, minlength=self.uxr.size)

    def _evaluate(self, z, *, hessian: bool):
        theta = np.exp(np.asarray(z, float))
        r, alpha, a, b = theta
        ux, wx, W = self.ux, self.wx, self.W
        LT, IT = np.log(alpha + self.uT), 1.0 / (alpha + self.uT)
        Ltx, Itx = np.log(alpha + self.utx), 1.0 / (alpha + self.utx)
        cT = r * self.wT + self.wxT  # sum of w (r + x) per distinct T
        u = LT[self.iTr] - Ltx[self.itx]
        rx = r + self.xr
        ib = 1.0 / (b + self.uxr - 1.0)
        d = (np.log(a) + np.log(ib))[self.ixr] + rx * u
        e = np.exp(-np.abs(d))
        s = 1.0 / (1.0 + e)
        pi = np.where(d >= 0, s, e * s)  # posterior share of the "dropped out after t_x" branch
        wp = self.wr * pi
        du = IT[self.iTr] - Itx[self.itx]
        rdu = rx * du  # d(d)/d(alpha)
        pb = self._per_x(wp)
        const = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        A = gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux)
        ll = wx @ A + W * const - cT @ LT + self.wr @ (np.maximum(d, 0.0) + np.log1p(e))
        dab, dabx = digamma(a + b), digamma(a + b + ux)
        sum_wp = pb.sum()
        grad = np.array(
            [
                wx @ digamma(r + ux) + W * (np.log(alpha) - digamma(r)) - self.wT @ LT + wp @ u,
                W * r / alpha - cT @ IT + wp @ rdu,
                W * dab - wx @ dabx + sum_wp / a,
                wx @ (digamma(b + ux) - dabx) + W * (dab - digamma(b)) - pb @ ib,
            ]
        )
        if not hessian:
            return _to_log_space(theta, ll, grad, None)
        tab, tabx = polygamma(1, a + b), polygamma(1, a + b + ux)
        v = wp * (1.0 - pi)  # curvature of softplus(d) is pi (1 - pi)
        vu, vr = v * u, v * rdu
        per_x = np.vstack([self._per_x(v), self._per_x(vu), self._per_x(vr)])  # for the columns in x alone
        h = np.zeros((4, 4))
        h[0, 0] = wx @ polygamma(1, r + ux) - W * polygamma(1, r) + vu @ u
        h[0, 1] = W / alpha - self.wT @ IT + wp @ du + vu @ rdu
        h[1, 1] = -W * r / alpha**2 + cT @ IT**2 - wp @ (rdu * (IT[self.iTr] + Itx[self.itx])) + vr @ rdu
        h[2, 2] = W * tab - wx @ tabx - sum_wp / a**2 + per_x[0].sum() / a**2
        h[2, 3] = W * tab - wx @ tabx - (per_x[0] @ ib) / a
        h[3, 3] = wx @ (polygamma(1, b + ux) - tabx) + W * (tab - polygamma(1, b)) + (pb + per_x[0]) @ ib**2
        h[0, 2], h[1, 2] = per_x[1].sum() / a, per_x[2].sum() / a
        h[0, 3], h[1, 3] = -(per_x[1] @ ib), -(per_x[2] @ ib)
        return _to_log_space(theta, ll, grad, h + np.triu(h, 1).T)


class GammaGammaObjective:
    """Gamma-Gamma negative log-likelihood of weighted ``(x, m)`` rows (repeat buyers)."""

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray):
        self.ux, ix = levels_and_codes(x)
        self.wx = np.bincount(ix, weights=w, minlength=self.ux.size)
        self.W = float(w.sum())
        self.x, self.m, self.w, self.wxr = x, m, w, w * x
        log_m = np.log(m)
        # The parameter-free parts of (p x - 1) log m + p x log x.
        self.xlogs = float(self.wxr @ log_m + self.wx @ (self.ux * np.log(self.ux)))
        self.logm = float(w @ log_m)

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-likelihood and gradient at log-parameters ``z``."""
        return self._evaluate(z, hessian=False)

    def with_hessian(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log-likelihood, gradient and Hessian at ``z``."""
        return self._evaluate(z, hessian=True)

    def _evaluate(self, z, *, hessian: bool):
        theta = np.exp(np.asarray(z, float))
        p, q, g = theta
        ux, wx, W = self.ux, self.wx, self.W
        pu = p * ux
        xmg = self.x * self.m + g
        L, inv = np.log(xmg), 1.0 / xmg
        wL, wxL = self.w @ L, self.wxr @ L
        wI, wxI = self.w @ inv, self.wxr @ inv
        ll = (
            wx @ (gammaln(pu + q) - gammaln(pu))
            + W * (q * np.log(g) - gammaln(q))
            + p * self.xlogs
            - self.logm
            - p * wxL
            - q * wL
        )
        dq = digamma(pu + q)
        grad = np.array(
            [
                wx @ (ux * (dq - digamma(pu))) + self.xlogs - wxL,
                wx @ dq - W * digamma(q) + W * np.log(g) - wL,
                W * q / g - p * wxI - q * wI,
            ]
        )
        if not hessian:
            return _to_log_space(theta, ll, grad, None)
        t = polygamma(1, pu + q)
        wI2, wxI2 = self.w @ inv**2, self.wxr @ inv**2
        h = np.empty((3, 3))
        h[0, 0] = wx @ (ux**2 * (t - polygamma(1, pu)))
        h[0, 1] = h[1, 0] = wx @ (ux * t)
        h[0, 2] = h[2, 0] = -wxI
        h[1, 1] = wx @ t - W * polygamma(1, q)
        h[1, 2] = h[2, 1] = W / g - wI
        h[2, 2] = -W * q / g**2 + p * wxI2 + q * wI2
        return _to_log_space(theta, ll, grad, h)
