"""Per-customer value over a horizon, discounted, with parameter-uncertainty intervals.

Discounting is done in monthly steps (a month is 365.25 / 12 days, whatever the
model's time unit): the purchases expected in each step are discounted at the
step's end with the annual rate, ``(1 + d) ** -(t / 1 year)``; the last step may
be shorter than a month so that the horizon is met exactly.

Intervals come from the delta method: the covariance of the seven
log-parameters (block-diagonal, the two models being fitted separately) is
propagated through numerical gradients of each output. They describe the
uncertainty of the *expected* value caused by estimating the parameters, not
the spread of what one customer will actually buy. Positive quantities get
their interval on the log scale and P(alive) on the logit scale, so bounds
stay in range.

The BG/NBD part of every output depends on a customer's ``(x, t_x, T)`` only,
and its hypergeometric core on ``(x, T)`` only, so the model is evaluated once
per distinct history (and the core once per distinct ``(x, T)``) and gathered
back to customers; the Gamma-Gamma part is a closed form per customer.
Gradients are kept in that factored form and assembled for a block of
customers at a time, so memory grows with the distinct histories, not with
customers times parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.linalg import block_diag
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from analysis.clv._bgnbd import expected_purchases_table
from analysis.clv._gammagamma import conditional_expected_spend
from analysis.clv._mle import MleFit
from analysis.clv._rows import Rows, distinct_rows

__all__ = ["MONTH_DAYS", "CustomerValue", "customer_value", "discount_grid"]

MONTH_DAYS = 365.25 / 12.0
YEAR_DAYS = 365.25
QUANTITIES = ("expected_purchases", "p_alive", "expected_spend", "clv")
BLOCK = 1 << 17  # customers per block when gradients are assembled


def discount_grid(horizon: float, unit_days: float, annual_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the step ends (in model time units) and their discount factors."""
    step = MONTH_DAYS / unit_days
    n = int(np.ceil(horizon / step - 1e-12))
    ends = np.minimum(np.arange(1, n + 1) * step, horizon)
    factors = (1.0 + annual_rate) ** (-(ends * unit_days) / YEAR_DAYS)
    return ends, factors


def _bgnbd_outputs(bg: np.ndarray, rows: Rows, pairs, ends, factors) -> tuple[np.ndarray, ...]:
    """Expected purchases over the horizon, P(alive) and discounted purchases, per distinct history.

    The discounted sum adds the steps in order, one multiply-add at a time, so it
    does not depend on a BLAS library's threads or blocking.
    """
    prev = disc = alive = None
    for j, (cum, alive_now) in enumerate(expected_purchases_table(bg, ends, rows, pairs)):
        inc = cum if prev is None else cum - prev
        disc = factors[j] * inc if disc is None else disc + factors[j] * inc
        prev, alive = cum, alive_now
    return prev, alive, disc


def _spend_shifted(z_gg: np.ndarray, x: np.ndarray, m: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    # Expected spend with each Gamma-Gamma log-parameter moved up (first array) and down by `step`:
    # conditional_expected_spend's arithmetic, with the parameter-free x * m done once.
    xm = x * np.where(x > 0, np.nan_to_num(m), 0.0)
    up, down = np.empty((x.size, 3)), np.empty((x.size, 3))
    for j in range(3):
        for sign, out in ((1.0, up), (-1.0, down)):
            dz = np.zeros(3)
            dz[j] = sign * step
            p, q, g = np.exp(z_gg + dz)
            out[:, j] = p * (g + xm) / (p * x + q - 1.0)
    return up, down


def _variance(cov: np.ndarray, bg: np.ndarray | None, gg: np.ndarray | None) -> np.ndarray:
    """``g' cov g`` per row, for gradients ``g = [bg, gg]`` (missing parts are zero).

    The same sum, in the same order, as ``np.einsum("ij,jk,ik->i", g, cov, g)``
    over all seven columns: that adds the terms row-major, and the zero blocks
    of the block-diagonal ``cov`` (or of ``g``) add nothing, so they are skipped.
    """
    var = None if bg is None else np.einsum("ij,jk,ik->i", bg, np.ascontiguousarray(cov[:4, :4]), bg)
    if gg is None:
        return var
    if var is None:
        return np.einsum("ij,jk,ik->i", gg, np.ascontiguousarray(cov[4:, 4:]), gg)
    for j in range(3):
        for k in range(3):
            var = var + (gg[:, j] * cov[4 + j, 4 + k]) * gg[:, k]
    return var


@dataclass(frozen=True)
class CustomerValue:
    """Point estimates of the per-customer outputs, and their gradients in factored form.

    Attributes
    ----------
    values
        Array ``(4, n)``: expected purchases over the horizon, P(alive) now,
        expected spend per purchase and discounted CLV (rows in :data:`QUANTITIES` order).
    cov
        Covariance ``(7, 7)`` of the log-parameters.
    z
        Normal quantile for the requested interval level.
    inverse
        Each customer's distinct ``(x, t_x, T)`` history.
    history_values
        Array ``(2, rows)``: expected purchases and P(alive) per history.
    history_grads
        Array ``(2, rows, 4)``: their derivatives with respect to the four
        BG/NBD log-parameters.
    discounted
        Discounted purchases per history at the estimates.
    shifted
        Array ``(2, rows, 4)``: the same with each BG/NBD log-parameter moved
        up (``shifted[0]``) and down by ``step``.
    spend_inputs
        ``(x, m, log-parameters of Gamma-Gamma)``, to recompute spend for gradients.
    step
        Finite-difference step in log-parameters.
    """

    values: np.ndarray
    cov: np.ndarray
    z: float
    inverse: np.ndarray
    history_values: np.ndarray
    history_grads: np.ndarray
    discounted: np.ndarray
    shifted: np.ndarray
    spend_inputs: tuple[np.ndarray, np.ndarray, np.ndarray]
    step: float

    def _blocks(self):
        n = self.values.shape[1]
        return (slice(i, min(i + BLOCK, n)) for i in range(0, n, BLOCK))

    def _spend_parts(self, index: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of spend (``(m, 3)``) and of CLV (``(m, 4)`` and ``(m, 3)``) for the customers in ``index``."""
        x, m = (v[index] for v in self.spend_inputs[:2])
        up, down = _spend_shifted(self.spend_inputs[2], x, m, self.step)
        inv, two = self.inverse[index], 2.0 * self.step
        spend = self.values[2][index][:, None]
        disc = self.discounted[inv][:, None]
        clv_bg = (spend * self.shifted[0][inv] - spend * self.shifted[1][inv]) / two
        return (up - down) / two, clv_bg, (up * disc - down * disc) / two

    def gradient(self, row: int, index: slice) -> np.ndarray:
        """Derivatives ``(m, 7)`` of quantity ``row`` for the customers in ``index``."""
        out = np.zeros((self.inverse[index].size, 7))
        if row < 2:
            out[:, :4] = self.history_grads[row][self.inverse[index]]
            return out
        spend, clv_bg, clv_gg = self._spend_parts(index)
        if row == 2:
            out[:, 4:] = spend
        else:
            out[:, :4], out[:, 4:] = clv_bg, clv_gg
        return out

    def interval(self, row: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Return ``(estimate, low, high)`` of a quantity, or of weighted sums of it.

        ``weights`` of shape ``(g, n)`` aggregate customers into ``g`` groups
        (sums, or means when rows are normalised); :meth:`table` does every
        customer and group at once.
        """
        if weights is None:
            val = self.values[row]
            var = [np.einsum("ij,jk,ik->i", g, self.cov, g) for g in map(partial(self.gradient, row), self._blocks())]
            return self._bounds(row, val, np.concatenate(var) if var else np.zeros(0))
        val = weights @ self.values[row]
        grad = np.zeros((weights.shape[0], 7))
        for b in self._blocks():
            grad += weights[:, b] @ self.gradient(row, b)
        return self._bounds(row, val, np.einsum("ij,jk,ik->i", grad, self.cov, grad))

    def table(self, groups: np.ndarray, size: int, out: np.ndarray | None = None):
        """Every customer's estimates and bounds, and group totals, in one pass over the customers.

        Parameters
        ----------
        groups
            Each customer's group, in ``0 .. size - 1``.
        size
            Number of groups.
        out
            Optional array ``(12, n)`` to write the per-customer figures into.

        Returns
        -------
        tuple
            ``(per_customer, grouped)``: ``per_customer`` is ``(12, n)``, the
            estimate, low and high bound of each quantity in :data:`QUANTITIES`
            order (the same numbers as :meth:`interval`); ``grouped`` maps rows
            0, 1 and 3 to ``(estimate, low, high)`` of the group sums (means for
            P(alive)), ``size + 1`` entries each, the last for all customers.
        """
        n = self.values.shape[1]
        out = np.empty((12, n)) if out is None else out
        inv = self.inverse
        for row in (0, 1):  # functions of the history alone: bounds once per history
            grads = self.history_grads[row]
            _, low, high = self._bounds(row, self.history_values[row], _variance(self.cov, grads, None))
            out[3 * row] = self.values[row]
            np.take(low, inv, out=out[3 * row + 1])
            np.take(high, inv, out=out[3 * row + 2])
        sums = {row: np.zeros((size, 7)) for row in (0, 1, 3)}
        sums[0][:, :4], sums[1][:, :4] = self._history_sums(groups, size)
        for b in self._blocks():
            spend, clv_bg, clv_gg = self._spend_parts(b)
            for row, bg, gg in ((2, None, spend), (3, clv_bg, clv_gg)):
                bounds = self._bounds(row, self.values[row][b], _variance(self.cov, bg, gg))
                for i, v in enumerate(bounds):
                    out[3 * row + i][b] = v
            for j, col in enumerate([*clv_bg.T, *clv_gg.T]):
                sums[3][:, j] += np.bincount(groups[b], weights=col, minlength=size)
        counts = np.bincount(groups, minlength=size).astype(float)
        grouped = {}
        for row, grad in sums.items():
            val = np.bincount(groups, weights=self.values[row], minlength=size)
            val, grad = np.append(val, val.sum()), np.vstack([grad, grad.sum(axis=0)])
            if row == 1:
                scale = np.clip(np.append(counts, counts.sum()), 1.0, None)
                val, grad = val / scale, grad / scale[:, None]
            grouped[row] = self._bounds(row, val, np.einsum("ij,jk,ik->i", grad, self.cov, grad))
        return out, grouped

    def _history_sums(self, groups: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        # Group sums of the history-only gradients: count each group's customers per history,
        # then weight the histories, rather than gathering a gradient row for every customer.
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(size + 1))
        rows = self.history_grads.shape[1]
        out = np.zeros((2, size, 4))
        with threadpool_limits(limits=1, user_api="blas"):  # the same sums whatever the machine's threads
            for g in range(size):
                counts = np.bincount(self.inverse[order[bounds[g] : bounds[g + 1]]], minlength=rows).astype(float)
                for row in (0, 1):
                    out[row, g] = counts @ self.history_grads[row]
        return out[0], out[1]

    def _bounds(self, row: int, val: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, ...]:
        se = np.sqrt(np.maximum(var, 0.0))
        if QUANTITIES[row] == "p_alive":
            inner = np.clip(val * (1.0 - val), 1e-300, None)
            half = self.z * se / inner
            logit = np.log(np.clip(val, 1e-300, None)) - np.log(np.clip(1.0 - val, 1e-300, None))
            low = 1.0 / (1.0 + np.exp(-(logit - half)))
            high = 1.0 / (1.0 + np.exp(-(logit + half)))
            exact = (val >= 1.0 - 1e-12) | (se == 0)
        else:
            half = self.z * se / np.clip(val, 1e-300, None)
            low, high = val * np.exp(-half), val * np.exp(half)
            exact = (val <= 0) | (se == 0)
        low = np.where(exact, val, low)
        high = np.where(exact, val, high)
        return val, low, high


def customer_value(
    bg: MleFit,
    gg: MleFit,
    *,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    monetary: np.ndarray,
    horizon: float,
    unit_days: float,
    annual_rate: float,
    level: float,
    step: float = 1e-4,
    rows: Rows | None = None,
) -> CustomerValue:
    """Evaluate per-customer value and its gradients with respect to the parameters.

    Parameters
    ----------
    bg, gg
        Fitted BG/NBD and Gamma-Gamma models (with covariance).
    frequency, recency, T, monetary
        Per-customer summaries at the forecast origin, in the model's time unit.
    horizon
        Forecast horizon, in the model's time unit.
    unit_days
        Days per time unit.
    annual_rate
        Annual discount rate.
    level
        Two-sided interval level, e.g. 0.9.
    step
        Central finite-difference step in log-parameters.
    rows
        The distinct ``(frequency, recency, T)`` rows, when already known
        (:func:`~analysis.clv._rows.distinct_rows`).
    """
    if bg.log_cov is None or gg.log_cov is None:
        raise ValueError("customer_value needs fits with a covariance matrix")
    x, tx, T_, m = (np.asarray(v, float) for v in (frequency, recency, T, monetary))
    rows = rows if rows is not None else distinct_rows(x, tx, T_)
    pairs = distinct_rows(rows.codes[0], rows.codes[2])  # the (x, T) pair of each history
    ends, factors = discount_grid(horizon, unit_days, annual_rate)
    # As always, every evaluation (the estimates too) is at exp of the log-parameters.
    z_bg, z_gg = np.log(bg.params), np.log(gg.params)
    cum, alive, disc = _bgnbd_outputs(np.exp(z_bg), rows, pairs, ends, factors)
    grads, shifted = _history_gradients(z_bg, rows, pairs, ends, factors, step)
    inv = rows.inverse
    values = np.empty((4, x.size))
    np.take(cum, inv, out=values[0])
    np.take(alive, inv, out=values[1])
    values[2] = conditional_expected_spend(np.exp(z_gg), x, m)
    np.take(disc, inv, out=values[3])
    values[3] *= values[2]  # spend * discounted purchases
    return CustomerValue(
        values=values,
        cov=block_diag(bg.log_cov, gg.log_cov),
        z=float(norm.ppf(0.5 + level / 2.0)),
        inverse=inv,
        history_values=np.vstack([cum, alive]),
        history_grads=grads,
        discounted=disc,
        shifted=shifted,
        spend_inputs=(x, m, z_gg),
        step=step,
    )


def _history_gradients(z_bg, rows, pairs, ends, factors, step) -> tuple[np.ndarray, np.ndarray]:
    # Central differences per history: of expected purchases and P(alive) (the first array), and
    # the discounted purchases at each shifted parameter, kept apart because CLV multiplies
    # them by each customer's spend before differencing.
    size = rows.values[0].size
    grads, shifted = np.empty((2, size, 4)), np.empty((2, size, 4))
    for j in range(4):
        dz = np.zeros(4)
        dz[j] = step
        hi = _bgnbd_outputs(np.exp(z_bg + dz), rows, pairs, ends, factors)
        lo = _bgnbd_outputs(np.exp(z_bg - dz), rows, pairs, ends, factors)
        grads[0][:, j] = (hi[0] - lo[0]) / (2.0 * step)
        grads[1][:, j] = (hi[1] - lo[1]) / (2.0 * step)
        shifted[0][:, j], shifted[1][:, j] = hi[2], lo[2]
    return grads, shifted
