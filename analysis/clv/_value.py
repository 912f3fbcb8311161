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

import numpy as np
from scipy.linalg import block_diag
from scipy.stats import norm

from analysis.clv._bgnbd import expected_purchases_table
from analysis.clv._data import Rows, distinct_rows
from analysis.clv._gammagamma import conditional_expected_spend
from analysis.clv._mle import MleFit

__all__ = ["MONTH_DAYS", "CustomerValue", "customer_value", "discount_grid"]

MONTH_DAYS = 365.25 / 12.0
YEAR_DAYS = 365.25
QUANTITIES = ("expected_purchases", "p_alive", "expected_spend", "clv")
BLOCK = 1 << 18  # customers per block when gradients are assembled


def discount_grid(horizon: float, unit_days: float, annual_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the step ends (in model time units) and their discount factors."""
    step = MONTH_DAYS / unit_days
    n = int(np.ceil(horizon / step - 1e-12))
    ends = np.minimum(np.arange(1, n + 1) * step, horizon)
    factors = (1.0 + annual_rate) ** (-(ends * unit_days) / YEAR_DAYS)
    return ends, factors


def _bgnbd_outputs(bg: np.ndarray, rows: Rows, pairs, ends, factors) -> tuple[np.ndarray, ...]:
    """Expected purchases over the horizon, P(alive) and discounted purchases, per distinct history."""
    prev = disc = alive = None
    for j, (cum, alive_now) in enumerate(expected_purchases_table(bg, ends, rows, pairs)):
        inc = cum if prev is None else cum - prev
        disc = factors[j] * inc if disc is None else disc + factors[j] * inc
        prev, alive = cum, alive_now
    return prev, alive, disc


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
    history_grads
        Array ``(2, rows, 4)``: derivatives of expected purchases and P(alive)
        with respect to the four BG/NBD log-parameters, per history.
    discounted
        Array ``(3, rows, 4)``: discounted purchases per history at the
        estimates (the same in every column), and with each BG/NBD log-parameter
        moved up and down by ``step``.
    spend_inputs
        ``(x, m, log-parameters of Gamma-Gamma)``, to recompute spend for gradients.
    step
        Finite-difference step in log-parameters.
    """

    values: np.ndarray
    cov: np.ndarray
    z: float
    inverse: np.ndarray
    history_grads: np.ndarray
    discounted: np.ndarray
    spend_inputs: tuple[np.ndarray, np.ndarray, np.ndarray]
    step: float

    def gradient(self, row: int, index: slice) -> np.ndarray:
        """Derivatives ``(m, 7)`` of quantity ``row`` for the customers in ``index``."""
        inv = self.inverse[index]
        two = 2.0 * self.step
        out = np.zeros((inv.size, 7))
        if row < 2:
            out[:, :4] = self.history_grads[row][inv]
            return out
        x, m = (v[index] for v in self.spend_inputs[:2])
        zg = self.spend_inputs[2]
        spend = self.values[2][index]
        disc = self.discounted[0][inv, 0]
        for j in range(3):
            dz = np.zeros(3)
            dz[j] = self.step
            hi = conditional_expected_spend(np.exp(zg + dz), x, m)
            lo = conditional_expected_spend(np.exp(zg - dz), x, m)
            out[:, 4 + j] = (hi - lo) / two if row == 2 else (hi * disc - lo * disc) / two
        if row == 3:
            up, down = self.discounted[1][inv], self.discounted[2][inv]
            out[:, :4] = (spend[:, None] * up - spend[:, None] * down) / two
        return out

    def _blocks(self):
        n = self.values.shape[1]
        return (slice(i, min(i + BLOCK, n)) for i in range(0, n, BLOCK))

    def interval(self, row: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Return ``(estimate, low, high)`` of a quantity, or of weighted sums of it.

        ``weights`` of shape ``(g, n)`` aggregate customers into ``g`` groups
        (sums, or means when rows are normalised); see also :meth:`group_interval`.
        """
        if weights is None:
            val = self.values[row]
            var = np.concatenate(
                [np.einsum("ij,jk,ik->i", g, self.cov, g) for g in (self.gradient(row, b) for b in self._blocks())]
                or [np.zeros(0)]
            )
            return self._bounds(row, val, var)
        val = weights @ self.values[row]
        grad = np.zeros((weights.shape[0], 7))
        for b in self._blocks():
            grad += weights[:, b] @ self.gradient(row, b)
        return self._bounds(row, val, np.einsum("ij,jk,ik->i", grad, self.cov, grad))

    def group_interval(self, row: int, groups: np.ndarray, size: int, *, mean: bool = False) -> tuple[np.ndarray, ...]:
        """``(estimate, low, high)`` of the sum (or mean) of a quantity over each group.

        ``groups`` gives each customer's group in ``0 .. size - 1``; the result
        has ``size + 1`` entries, the last for all customers together.
        """
        counts = np.bincount(groups, minlength=size).astype(float)
        val = np.bincount(groups, weights=self.values[row], minlength=size)
        grad = np.zeros((size, 7))
        for b in self._blocks():
            g = self.gradient(row, b)
            for j in range(7):
                grad[:, j] += np.bincount(groups[b], weights=g[:, j], minlength=size)
        val, grad = np.append(val, val.sum()), np.vstack([grad, grad.sum(axis=0)])
        if mean:
            scale = np.clip(np.append(counts, counts.sum()), 1.0, None)
            val, grad = val / scale, grad / scale[:, None]
        return self._bounds(row, val, np.einsum("ij,jk,ik->i", grad, self.cov, grad))

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
        (:func:`~analysis.clv._data.distinct_rows`).
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
    grads = np.empty((2, cum.size, 4))
    shifted = np.empty((3, cum.size, 4))
    shifted[0] = disc[:, None]
    for j in range(4):
        dz = np.zeros(4)
        dz[j] = step
        hi = _bgnbd_outputs(np.exp(z_bg + dz), rows, pairs, ends, factors)
        lo = _bgnbd_outputs(np.exp(z_bg - dz), rows, pairs, ends, factors)
        grads[0][:, j] = (hi[0] - lo[0]) / (2.0 * step)
        grads[1][:, j] = (hi[1] - lo[1]) / (2.0 * step)
        shifted[1][:, j], shifted[2][:, j] = hi[2], lo[2]
    spend = conditional_expected_spend(np.exp(z_gg), x, m)
    inv = rows.inverse
    values = np.vstack([cum[inv], alive[inv], spend, spend * disc[inv]])
    return CustomerValue(
        values=values,
        cov=block_diag(bg.log_cov, gg.log_cov),
        z=float(norm.ppf(0.5 + level / 2.0)),
        inverse=inv,
        history_grads=grads,
        discounted=shifted,
        spend_inputs=(x, m, z_gg),
        step=step,
    )
