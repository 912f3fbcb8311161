"""Maximum likelihood in log-parameter space, with standard errors from the Hessian.

Both models have strictly positive parameters; optimising their logarithms
removes the positivity constraints and keeps the likelihood surface well
scaled. The covariance of the log-parameters is the inverse of the numerical
Hessian of the negative log-likelihood at the optimum; standard errors of the
parameters themselves follow by the delta method (``se(θ) = θ · se(log θ)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

__all__ = ["MleFit", "maximize"]

# Optimiser box on log-parameters: exp(±12) spans 6e-6 .. 1.6e5. A solution on
# the box means the data cannot pin the parameter down.
LOG_BOUND = 12.0


@dataclass(frozen=True)
class MleFit:
    """A maximum-likelihood fit.

    Attributes
    ----------
    names
        Parameter names, in order.
    params
        Estimates on the natural scale.
    log_cov
        Covariance matrix of the log-parameters (``None`` when the Hessian is not
        positive definite).
    log_likelihood
        Maximised log-likelihood.
    converged
        Whether the optimiser reported success and no parameter sits on the box.
    message
        Why the fit is not trustworthy, or ``None``.
    """

    names: tuple[str, ...]
    params: np.ndarray
    log_cov: np.ndarray | None
    log_likelihood: float
    converged: bool
    message: str | None

    def as_dict(self) -> dict[str, float]:
        """Return ``{name: estimate}``."""
        return {n: float(v) for n, v in zip(self.names, self.params, strict=True)}

    def standard_errors(self) -> dict[str, float] | None:
        """Return ``{name: standard error}`` on the natural scale, or ``None``."""
        if self.log_cov is None:
            return None
        se_log = np.sqrt(np.diag(self.log_cov))
        return {n: float(v * s) for n, v, s in zip(self.names, self.params, se_log, strict=True)}


def _hessian(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    # Central differences of the analytic gradient, symmetrised.
    n = x.size
    h = np.empty((n, n))
    for i in range(n):
        dx = np.zeros(n)
        dx[i] = step
        h[i] = (grad(x + dx) - grad(x - dx)) / (2.0 * step)
    return 0.5 * (h + h.T)


def maximize(
    negloglik: Callable[[np.ndarray], tuple[float, np.ndarray]],
    *,
    names: Sequence[str],
    starts: Sequence[Sequence[float]],
) -> MleFit:
    """Minimise a negative log-likelihood over log-parameters from several starts.

    Parameters
    ----------
    negloglik
        Function of the log-parameter vector returning ``(value, gradient)``.
    names
        Parameter names.
    starts
        Starting points on the natural scale (all > 0); the best optimum wins.

    Returns
    -------
    MleFit
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)

    def safe(z: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = negloglik(z)
        if not np.isfinite(val) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros_like(z)
        return float(val), grad

    best = None
    for start in starts:
        x0 = np.clip(np.log(np.asarray(start, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
        res = minimize(safe, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        # A quasi-Newton polish from the box solution tightens the optimum.
        polish = minimize(safe, res.x, jac=True, method="BFGS", options={"gtol": 1e-8})
        if polish.fun <= res.fun and np.all(np.abs(polish.x) <= LOG_BOUND):
            res = polish
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x = np.asarray(best.x, dtype=float)
    message = None
    on_box = np.abs(x) >= LOG_BOUND - 1e-3
    if on_box.any():
        bad = [n for n, b in zip(names, on_box, strict=True) if b]
        message = f"parameter(s) {bad} ran to the edge of the search space; the data cannot identify them"
    log_cov = None
    if message is None:
        hess = _hessian(lambda z: safe(z)[1], x)
        if np.all(np.isfinite(hess)) and np.linalg.eigvalsh(hess).min() > 0:
            log_cov = np.linalg.inv(hess)
        else:
            message = "the likelihood is flat or not at a maximum (Hessian not positive definite)"
    if not np.isfinite(best.fun) or best.fun >= 1e300:
        message = "the likelihood could not be evaluated at any starting point"
    return MleFit(
        names=tuple(names),
        params=np.exp(x),
        log_cov=log_cov,
        log_likelihood=float(-best.fun),
        converged=message is None,
        message=message,
    )
