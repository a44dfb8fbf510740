"""The two optimisers the covariate fits share: a bounded quasi-Newton fit from a start, and Newton steps from a
warm start (restricted maxima for likelihood-ratio tests). Used by :mod:`segwork.clv.covariates` and the
time-varying Pareto/NBD (:mod:`segwork.clv.pareto_nbd_dynamic`); both minimise with scipy.optimize.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from ..errors import ConvergenceError
from .base import LOG_BOUND

__all__ = ["minimise_with_coefficients", "newton_from_warm_start"]


def minimise_with_coefficients(fun, theta0: np.ndarray, n_params: int, where: str, hint: str):
    """Minimise a covariate model's mean negative log-likelihood over ``(log parameters, coefficients)``.

    ``fun(theta) -> (value, gradient)``; ``theta0``: the start, the first ``n_params`` entries log
    parameters (bounded by +-:data:`LOG_BOUND`), the rest coefficients (bounded by +-50). L-BFGS-B within
    those bounds (5000 iterations, ``ftol`` 1e-15, ``gtol`` 1e-10, 20 corrections); when its largest
    absolute gradient stays at 1e-5 or more (stopped early in a flat valley), BFGS without bounds (``gtol``
    1e-9) from there, kept when its objective is not above L-BFGS-B's by more than 1e-12. Used by the
    static-covariate fits (:mod:`segwork.clv.covariates`) and the time-varying Pareto/NBD.

    Returns the scipy ``OptimizeResult`` (``x`` as float64, ``nit`` the iterations of the kept run).
    Raises ConvergenceError ``"{where} did not converge (...); {hint}"`` when the optimum is not finite or
    its largest absolute gradient exceeds 1e-4.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * n_params + [(-50.0, 50.0)] * (len(theta0) - n_params)
    res = optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20})
    gnorm = float(np.max(np.abs(fun(res.x)[1])))
    if gnorm >= 1e-5:
        res2 = optimize.minimize(fun, res.x, jac=True, method="BFGS", options={"maxiter": 5000, "gtol": 1e-9})
        if np.isfinite(res2.fun) and res2.fun <= res.fun + 1e-12:
            res = res2
        gnorm = float(np.max(np.abs(fun(res.x)[1])))
    res.x = np.asarray(res.x, dtype=np.float64)
    if not np.isfinite(res.x).all() or res.fun >= 1e299:
        raise ConvergenceError(f"{where} did not converge (non-finite likelihood); {hint}")
    if gnorm > 1e-4:
        raise ConvergenceError(f"{where} did not converge (largest gradient {gnorm:.2g}); {hint}")
    return res


def newton_from_warm_start(fun, theta: np.ndarray, hessian, bounds: np.ndarray):
    """Minimise ``fun(theta) -> (value, gradient)`` from a start near the minimum (a warm start).

    ``hessian``: a fixed approximation of the Hessian of ``fun`` near the minimum (e.g. a nearby fit's observed
    information, per customer as ``fun``), or None; ``bounds``: array of ``(low, high)`` per entry. Newton
    steps ``hessian^-1 gradient``, each halved (up to 30 times) until ``fun`` does not rise and clipped to the
    bounds, until the largest absolute gradient is below 1e-7; should that take more than 25 steps (or
    ``hessian`` be None), L-BFGS-B within the bounds (``ftol`` 1e-15, ``gtol`` 1e-9, 20 corrections) finishes
    from there.

    Returns ``(theta, value, gradient)`` at the end point; the caller judges convergence from the gradient.
    """
    f, g = fun(theta)
    if hessian is not None:
        for _ in range(25):
            if np.max(np.abs(g)) < 1e-7:
                break
            step = np.linalg.solve(hessian, g)
            for _ in range(30):  # halve until the objective does not rise
                cand = np.clip(theta - step, bounds[:, 0], bounds[:, 1])
                fc, gc = fun(cand)
                if fc <= f:
                    break
                step = step / 2
            else:
                break
            theta, f, g = cand, fc, gc
    if np.max(np.abs(g)) >= 1e-7:
        res = optimize.minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds.tolist(),
                                options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20})
        theta = res.x
        f, g = fun(theta)
    return theta, f, g
