"""Maximum likelihood in log-parameter space, with standard errors from the Hessian.

Both models have strictly positive parameters; optimising their logarithms
removes the positivity constraints and keeps the likelihood surface well
scaled. The covariance of the log-parameters is the inverse of the Hessian of
the negative log-likelihood at the optimum; standard errors of the parameters
themselves follow by the delta method (``se(θ) = θ · se(log θ)``).

Two optimisers give the same kind of result:

* :func:`maximize`: L-BFGS-B from several starts, polished by BFGS, with the
  Hessian from central differences of the analytic gradient. It stops within
  its tolerance of the optimum, about 1e-9 relative on CDNOW (merely
  reordering the customers moves its answer that much), and it is what the
  models use up to a few ten thousand distinct rows, so results on data of
  that size are exactly what they have always been.
* :func:`maximize_large`: for more data, :func:`maximize` on a coarse
  summary of it (a few thousand weighted rows) gives a start within a few per
  cent, and Newton's method with the analytic Hessian on all the data then
  converges in a handful of steps, to the optimum itself (about 1e-13). It
  costs a few full passes over the data instead of a hundred or more.

BLAS runs single-threaded inside both: the vectors are short, and OpenBLAS
threads spinning beside busy processes on a small machine slow every pass
down several times over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

__all__ = ["MleFit", "maximize", "maximize_large", "newton"]

# Optimiser box on log-parameters: exp(±12) spans 6e-6 .. 1.6e5. A solution on
# the box means the data cannot pin the parameter down.
LOG_BOUND = 12.0
# Newton stops once its step (in log-parameters, so relative) is below STEP_TOL, or below
# NOISE_STEP and no longer shrinking: then rounding in the sums, not the distance to the
# optimum, sets its size.
STEP_TOL = 1e-12
NOISE_STEP = 1e-8


class Objective(Protocol):
    """A negative log-likelihood of log-parameters with an analytic Hessian."""

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]: ...

    def with_hessian(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]: ...


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
        Why the fit is not trustworthy, as a code (``"parameter_at_bound"``: a
        parameter ran to the edge of the search space, so the data cannot
        identify it; ``"hessian_not_positive_definite"``: the likelihood is flat
        or not at a maximum; ``"not_evaluable"``), or ``None``.
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
    with threadpool_limits(limits=1, user_api="blas"):
        return _maximize(negloglik, names=names, starts=starts)


def _maximize(negloglik, *, names, starts) -> MleFit:
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
    message = _box_message(names, x)
    log_cov = None
    if message is None:
        hess = _hessian(lambda z: safe(z)[1], x)
        if np.all(np.isfinite(hess)) and np.linalg.eigvalsh(hess).min() > 0:
            log_cov = np.linalg.inv(hess)
        else:
            message = "hessian_not_positive_definite"
    if not np.isfinite(best.fun) or best.fun >= 1e300:
        message = "not_evaluable"
    return MleFit(
        names=tuple(names),
        params=np.exp(x),
        log_cov=log_cov,
        log_likelihood=float(-best.fun),
        converged=message is None,
        message=message,
    )


def _box_message(names: Sequence[str], z: np.ndarray) -> str | None:
    on_box = np.abs(z) >= LOG_BOUND - 1e-3
    if not on_box.any():
        return None
    return "parameter_at_bound"


def newton(objective: Objective, *, names: Sequence[str], start: np.ndarray, max_steps: int = 40) -> MleFit | None:
    """Newton's method on log-parameters from ``start``; ``None`` when it does not converge.

    Steps are damped (halved until the value decreases enough) while the
    decrease they promise is measurable, and taken whole once it is below the
    rounding noise of the value, where only the shrinking step still tells
    how close the optimum is. It stops when the step is below
    :data:`STEP_TOL`, or below :data:`NOISE_STEP` and no longer shrinking
    (rounding in the sums over millions of rows sets the size of such steps).
    Fails, rather than guessing, when the Hessian stops being positive
    definite or the iterate leaves the box.

    Parameters
    ----------
    objective
        Negative log-likelihood with ``with_hessian(z) -> (value, gradient, Hessian)``.
    names
        Parameter names.
    start
        Starting log-parameters.
    max_steps
        Newton steps allowed.

    Returns
    -------
    MleFit or None
        The optimum, with the inverse Hessian as covariance of the log-parameters.
    """
    z = np.asarray(start, float)
    val, grad, hess = objective.with_hessian(z)
    last = np.inf
    for _ in range(max_steps):
        if not (np.isfinite(val) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
            return None
        try:
            chol = np.linalg.cholesky(hess)
        except np.linalg.LinAlgError:
            return None
        step = -np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        size = float(np.max(np.abs(step)))
        if size < STEP_TOL or (size < NOISE_STEP and size > 0.5 * last):
            return MleFit(
                names=tuple(names),
                params=np.exp(z),
                log_cov=np.linalg.inv(hess),
                log_likelihood=float(-val),
                converged=True,
                message=None,
            )
        last = size
        decrease = float(-grad @ step)
        scale = 1.0
        while True:
            cand = z + scale * step
            if np.all(np.abs(cand) < LOG_BOUND):
                new = objective.with_hessian(cand)
                if decrease <= 1e-12 * max(1.0, abs(val)) or new[0] <= val - 1e-4 * scale * decrease:
                    break
            scale *= 0.5
            if scale < 1e-8:
                return None
        z, (val, grad, hess) = cand, new
    return None


def maximize_large(
    objective: Objective,
    *,
    coarse: Objective,
    names: Sequence[str],
    starts: Sequence[Sequence[float]],
) -> MleFit:
    """Fit a large data set: :func:`maximize` on ``coarse`` for a start, then :func:`newton` on ``objective``.

    Parameters
    ----------
    objective
        The negative log-likelihood of all the data.
    coarse
        The same likelihood on a small weighted summary of the data.
    names, starts
        As for :func:`maximize`.

    Returns
    -------
    MleFit
        Newton's optimum, or, when Newton fails or the coarse fit runs to the
        edge of the box, :func:`maximize` on all the data from the coarse
        optimum and ``starts``.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        first = _maximize(coarse, names=names, starts=starts)
        z0 = np.log(first.params)
        fit = None if _box_message(names, z0) else newton(objective, names=names, start=z0)
        if fit is not None and _box_message(names, np.log(fit.params)) is None:
            return fit
        return _maximize(objective, names=names, starts=[first.params, *starts])
