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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import block_diag
from scipy.stats import norm

from analysis.clv._bgnbd import conditional_expected_purchases, p_alive
from analysis.clv._gammagamma import conditional_expected_spend
from analysis.clv._mle import MleFit

__all__ = ["MONTH_DAYS", "CustomerValue", "customer_value", "discount_grid"]

MONTH_DAYS = 365.25 / 12.0
YEAR_DAYS = 365.25
QUANTITIES = ("expected_purchases", "p_alive", "expected_spend", "clv")


def discount_grid(horizon: float, unit_days: float, annual_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the step ends (in model time units) and their discount factors."""
    step = MONTH_DAYS / unit_days
    n = int(np.ceil(horizon / step - 1e-12))
    ends = np.minimum(np.arange(1, n + 1) * step, horizon)
    factors = (1.0 + annual_rate) ** (-(ends * unit_days) / YEAR_DAYS)
    return ends, factors


def _evaluate(z: np.ndarray, x, tx, T, m, ends, factors) -> np.ndarray:
    bg, gg = np.exp(z[:4]), np.exp(z[4:])
    cum = conditional_expected_purchases(bg, ends[:, None], x, tx, T)
    increments = np.diff(np.vstack([np.zeros((1, x.size)), cum]), axis=0)
    spend = conditional_expected_spend(gg, x, m)
    discounted = factors @ increments
    return np.vstack([cum[-1], p_alive(bg, x, tx, T), spend, spend * discounted])


@dataclass(frozen=True)
class CustomerValue:
    """Point estimates and gradients of the per-customer outputs.

    Attributes
    ----------
    values
        Array ``(4, n)``: expected purchases over the horizon, P(alive) now,
        expected spend per purchase and discounted CLV (rows in :data:`QUANTITIES` order).
    gradients
        Array ``(4, n, 7)``: derivatives with respect to the seven log-parameters.
    cov
        Covariance ``(7, 7)`` of the log-parameters.
    z
        Normal quantile for the requested interval level.
    """

    values: np.ndarray
    gradients: np.ndarray
    cov: np.ndarray
    z: float

    def interval(self, row: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Return ``(estimate, low, high)`` of a quantity, or of weighted sums of it.

        ``weights`` of shape ``(g, n)`` aggregate customers into ``g`` groups
        (sums, or means when rows are normalised).
        """
        val = self.values[row]
        grad = self.gradients[row]
        if weights is not None:
            val = weights @ val
            grad = weights @ grad
        var = np.einsum("ij,jk,ik->i", grad, self.cov, grad)
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
    """
    x, tx, T_, m = (np.asarray(v, float) for v in (frequency, recency, T, monetary))
    ends, factors = discount_grid(horizon, unit_days, annual_rate)
    z0 = np.log(np.concatenate([bg.params, gg.params]))
    values = _evaluate(z0, x, tx, T_, m, ends, factors)
    grads = np.empty(values.shape + (z0.size,))
    for j in range(z0.size):
        dz = np.zeros_like(z0)
        dz[j] = step
        hi = _evaluate(z0 + dz, x, tx, T_, m, ends, factors)
        lo = _evaluate(z0 - dz, x, tx, T_, m, ends, factors)
        grads[:, :, j] = (hi - lo) / (2.0 * step)
    if bg.log_cov is None or gg.log_cov is None:
        raise ValueError("customer_value needs fits with a covariance matrix")
    cov = block_diag(bg.log_cov, gg.log_cov)
    return CustomerValue(values=values, gradients=grads, cov=cov, z=float(norm.ppf(0.5 + level / 2.0)))
