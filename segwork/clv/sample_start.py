"""Large BG/NBD fits: start from a seeded sample's optimum, finish with Newton steps on every customer.

The BG/NBD likelihood depends on a customer through ``(frequency, recency, T)``; the exact fit
(:meth:`segwork.clv.base.BaseModel._optimise`) runs L-BFGS-B on the distinct histories. On a day grid
those barely repeat (1M customers: 616,000 distinct histories; recency and T take 730 values each over
two years), so at millions of customers each of its ~35 likelihood evaluations costs a pass over
millions of rows.

This module gets the same maximum-likelihood estimates with fewer passes:

1. fit a seeded uniform random sample of ``start_sample`` rows exactly (the ordinary fit, cheap);
2. from that optimum, Newton steps on **all** customers with the analytic gradient and Hessian of the
   total log-likelihood (:meth:`segwork.clv.beta_geo.BetaGeo._total_hessian`), each halved until the
   objective does not rise, until a step below ``1e-8`` in every log parameter has been taken
   (quadratic convergence: the point it lands on is the optimum to within rounding, about 1e-10 in the
   log parameters at a million customers; typically 3 steps, 4 passes over the data);
3. the identification check and covariance of :func:`segwork.clv.base.check_identification` on the
   analytic Hessian of all customers at that optimum.

The sample decides only where the search starts: the estimates, log-likelihood and standard errors are
those of every customer. When the Newton steps do not converge (a Hessian that is not positive
definite, e.g. the dropout parameters running off towards a limit), the ordinary fit on all customers
runs from the sample's optimum instead, and ``fit_method_`` says so.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ConvergenceError
from .base import LOG_BOUND, RUNAWAY, check_identification, single_threaded_blas, untried_penalty_hint

__all__ = ["fit_from_sample", "NEWTON_STEP_TOL"]

#: The Newton iterations stop when the step is below this in every log parameter.
NEWTON_STEP_TOL = 1e-8
_MAX_NEWTON = 30


def _objective(model, data, weights):
    """``f(log params) -> (mean objective, gradient, Hessian)`` on the log scale (penalty included)."""
    n = float(weights.sum())
    pen = float(model.penalizer or 0.0)

    def fgh(logp, hessian=True):
        theta = np.exp(logp)
        total, g, h = model._total_hessian(theta, data, weights, hessian=hessian)
        f = -total / n + pen * float(logp @ logp)
        g_log = -(g * theta) / n + 2 * pen * logp
        if h is None:
            return f, g_log, None, total
        h_log = -(np.outer(theta, theta) * h + np.diag(theta * g)) / n + 2 * pen * np.eye(len(theta))
        return f, g_log, h_log, total

    return fgh


def _newton(fgh, logp):
    """Newton steps from ``logp``; returns ``(logp, f, g, h, total, steps, converged)`` at the last point.

    A step is halved (up to 40 times) until the objective does not rise by more than its rounding
    (1e-12 relative: a mean over millions of customers is not exact to the last digit). Converged once a
    step below :data:`NEWTON_STEP_TOL` in every log parameter has been taken: Newton's method converges
    quadratically, so the point it lands on is within about the square of that step of the optimum. The
    Hessian returned is the one of the point before that last step (it differs by about the step's size,
    1e-8 relative, from the Hessian at the optimum), so the last pass needs the gradient only.
    """
    f, g, h, total = fgh(logp)
    for it in range(_MAX_NEWTON):
        if not (np.isfinite(f) and np.isfinite(g).all() and np.isfinite(h).all()):
            return logp, f, g, h, total, it, False
        if np.linalg.eigvalsh(h)[0] <= 0:  # not a minimum's neighbourhood (or a flat direction)
            return logp, f, g, h, total, it, False
        step = np.linalg.solve(h, g)
        small = float(np.max(np.abs(step))) < NEWTON_STEP_TOL
        for _ in range(40):
            cand = np.clip(logp - step, -LOG_BOUND, LOG_BOUND)
            # after a step that small the Hessian is that of the optimum to ~1e-8: no need to recompute it
            fc, gc, hc, tc = fgh(cand, hessian=not small)
            if np.isfinite(fc) and fc <= f + 1e-12 * max(1.0, abs(f)):
                break
            step = step / 2
        else:
            return logp, f, g, h, total, it, False
        logp, f, g, total = cand, fc, gc, tc
        if small:
            return logp, f, g, h, total, it + 1, True
        h = hc
    return logp, f, g, h, total, _MAX_NEWTON, False


def coded_rows(x, tx, t, w) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rows as they are (not collapsed), with each column's distinct values and codes in the layout of
    :func:`segwork.clv.base.compress` (so the models' fast paths apply): collapsing millions of histories on
    a day grid costs more than it saves (10M customers: 3.4M distinct histories). Codes as int32."""
    data: dict[str, np.ndarray] = {"x": x, "tx": tx, "T": t}
    for name, values in (("x", x), ("tx", tx), ("T", t)):
        if name == "x" and x.max() <= min(2 ** 20, len(x)):  # whole numbers: each is its own code
            data["x_levels"] = np.arange(int(x.max()) + 1, dtype=np.float64)
            data["x_codes"] = x.astype(np.int32)
            continue
        codes, levels = pd.factorize(values)
        data[name + "_levels"] = np.asarray(levels, dtype=np.float64)
        data[name + "_codes"] = codes.astype(np.int32)
    return data, w


def fit_from_sample(model, x, tx, t, w) -> bool:
    """Fit ``model`` (a BetaGeo) on histories ``x, tx, t`` with weights ``w`` by the sample-start route.

    Sets the fitted attributes as the ordinary fit does, plus ``fit_method_``; returns False (and sets
    nothing) when there are at most ``model.start_sample`` rows, so the caller runs the ordinary fit.
    Raises ConvergenceError as the ordinary fit does.
    """
    live = np.flatnonzero(w > 0)
    m = model.start_sample
    if m is None or len(live) <= m:
        return False
    name = type(model).__name__
    n_total = float(w.sum())
    rng = np.random.default_rng(model.random_state)
    pick = np.sort(rng.choice(live, size=int(m), replace=False))
    sample = type(model)(**{**model.get_params(), "start_sample": None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sample's identification is not the fit's: checked on all below
        try:
            sample.fit(x[pick], tx[pick], t[pick], weights=w[pick])
            start = np.log([sample.params_[k] for k in model._param_names])
        except ConvergenceError:
            start = None
    if len(live) < len(w):
        x, tx, t, w = x[live], tx[live], t[live], w[live]
    data, counts = coded_rows(x, tx, t, w)
    how = (f"maximum likelihood on all {n_total:,.0f} customers: Newton steps with the analytic Hessian from the "
           f"optimum of a seeded random sample of {int(m):,} rows (random_state={model.random_state!r})")
    with single_threaded_blas():
        fgh = _objective(model, data, counts)
        converged = False
        if start is not None:
            logp, f, g, h, total, nit, converged = _newton(fgh, start)
    if not converged:
        # the ordinary fit on all customers, from the sample's optimum when there is one
        x0 = np.exp(start) if start is not None else model._start(data, counts)
        model._converge(lambda mm: mm._optimise(data, counts, x0))
        model.fit_method_ = (f"maximum likelihood on all {n_total:,.0f} customers (L-BFGS-B on the distinct "
                             "histories" + (", from the optimum of a seeded random sample of "
                                            f"{int(m):,} rows: Newton steps from there did not converge)"
                                            if start is not None else ": the sample fit did not converge)"))
        return True
    hint = f"{untried_penalty_hint(name)}, {model._data_hint}"
    ran_off = tuple(p for p, v in zip(model._param_names, logp) if abs(v) > RUNAWAY)
    n = float(counts.sum())
    fun = model._objective_factory(data, counts)

    def total_objective(v):  # the optimum's value is known: one pass fewer
        return f * n if np.array_equal(v, logp) else fun.value(v) * n

    with single_threaded_blas():
        cov, unidentified = check_identification(
            f"{name}.fit", model._param_names, logp, 0.5 * (h + h.T) * n, total_objective, n,
            model._limit_params, model._limit_note, hint, ran_off)
    params = np.exp(logp)
    model.params_ = {k: float(v) for k, v in zip(model._param_names, params)}
    model.log_likelihood_ = float(total)
    model.n_customers_ = n
    model.n_rows_ = int(len(counts))
    model.n_iter_ = int(nit)
    model._log_params = logp
    model._cov_cache = cov
    model.unidentified_ = unidentified
    model._fit_data = (data, counts)
    model.fit_method_ = how + f", {nit} Newton steps, to a step below {NEWTON_STEP_TOL:g} in each log parameter"
    return True
