"""Large BG/NBD fits: start from a seeded sample's optimum, finish with Newton steps on every customer.

The BG/NBD likelihood depends on a customer through ``(frequency, recency, T)``; the exact fit
(:meth:`segwork.clv.base.BaseModel._optimise`) runs L-BFGS-B on the distinct histories. On a day grid
those barely repeat (1M customers: 616,000 distinct histories; recency and T take 730 values each over
two years), so at millions of customers each of its ~35 likelihood evaluations costs a pass over
millions of rows.

This module gets the same maximum-likelihood estimates with fewer passes:

1. fit a seeded uniform random sample of ``start_sample`` rows exactly (the ordinary fit, cheap);
2. while ten times the last sample is under half the rows: Newton steps (below) on a seeded subsample
   of that size, from the last optimum, until the step is below 1e-2 (10M customers: 1M of their 3.4M
   distinct histories);
3. from there, Newton steps on **all** customers (their distinct histories, :func:`collapse`) with the
   analytic gradient and Hessian of the total log-likelihood (:meth:`segwork.clv.beta_geo.BetaGeo._total_hessian`, one pass
   each), each halved until the objective does not rise, until the optimum is reached to within rounding
   (:func:`_newton`: a step below :data:`NEWTON_STEP_TOL`, or one that the measured quadratic convergence
   says lands within ~1e-10 in the log parameters; typically 3 or 4 passes over the data);
4. the identification check and covariance of :func:`segwork.clv.base.check_identification` on the
   analytic Hessian of all customers.

The samples decide only where the search starts: the estimates, log-likelihood and standard errors are
those of every customer (``benchmarks/bench_fit_scale.py``, 1M and 10M customers: parameters within
1.5e-7 relative of the L-BFGS-B fit, whose own tolerance that is, i.e. the same to 7 significant digits;
log-likelihoods equal to 14 digits; 5 to 6 times faster at 10M customers on a loaded 2-core machine).
When the Newton steps do not converge (a Hessian that is not positive definite, e.g. the dropout
parameters running off towards a limit, or a flat likelihood), the ordinary L-BFGS-B fit on all
customers runs from the sample's optimum instead, and ``fit_method_`` says so.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ConvergenceError
from .base import LOG_BOUND, RUNAWAY, check_identification, compress, single_threaded_blas, untried_penalty_hint

__all__ = ["fit_from_sample", "NEWTON_STEP_TOL"]

#: The Newton iterations stop after a step below this in every log parameter (or see :func:`_newton`).
NEWTON_STEP_TOL = 1e-8
_MAX_NEWTON = 30
#: An intermediate stage (a subsample) stops when the Newton step is below this in every log parameter.
_STAGE_TOL = 1e-2
_ROW_KEYS = ("x", "tx", "T", "x_codes", "tx_codes", "T_codes")


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


def _newton(fgh, logp, stage_tol=None):
    """Newton steps from ``logp``; returns ``(logp, f, g, h, total, steps, converged)`` at the last point.

    A step is halved (up to 40 times) until the objective does not rise by more than its rounding
    (1e-12 relative: a mean over millions of customers is not exact to the last digit).

    ``stage_tol`` (an intermediate stage on a subsample): stop once the step is below it. Otherwise
    converged once a step has been taken that is below :data:`NEWTON_STEP_TOL` in every log parameter, or
    whose square times ten times the largest ratio ``|step_k| / |step_(k-1)|^2`` seen so far (the
    constant of Newton's quadratic convergence, measured) is below 1e-10: either way the point it lands on
    is the optimum to within rounding (~1e-10 in the log parameters). That last step is taken with the
    gradient only: the Hessian returned is the one of the point before it, within the step's size
    (relative) of the optimum's.
    """
    f, g, h, total = fgh(logp)
    rate, prev = 0.0, None
    for it in range(_MAX_NEWTON):
        if not (np.isfinite(f) and np.isfinite(g).all() and np.isfinite(h).all()):
            return logp, f, g, h, total, it, False
        if np.linalg.eigvalsh(h)[0] <= 0:  # not a minimum's neighbourhood (or a flat direction)
            return logp, f, g, h, total, it, False
        step = np.linalg.solve(h, g)
        size = float(np.max(np.abs(step)))
        if stage_tol is not None and size < stage_tol:
            return logp, f, g, h, total, it, True
        if prev is not None and prev > 0:
            rate = max(rate, size / prev ** 2)
        last = stage_tol is None and (size < NEWTON_STEP_TOL or (prev is not None and 10 * rate * size ** 2 < 1e-10))
        for _ in range(40):
            cand = np.clip(logp - step, -LOG_BOUND, LOG_BOUND)
            fc, gc, hc, tc = fgh(cand, hessian=not last)
            if np.isfinite(fc) and fc <= f + 1e-12 * max(1.0, abs(f)):
                break
            step = step / 2
        else:
            return logp, f, g, h, total, it, False
        full = np.array_equal(cand, np.clip(logp - np.linalg.solve(h, g), -LOG_BOUND, LOG_BOUND))
        logp, f, g, total = cand, fc, gc, tc
        if last and full:
            return logp, f, g, h, total, it + 1, True
        if last:  # the step was halved: not the quadratic regime after all; go on with a Hessian
            f, g, h, total = fgh(logp)
        else:
            h = hc
        prev = size if full else None
    return logp, f, g, h, total, _MAX_NEWTON, False


def collapse(x, tx, t, w) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The distinct histories and their summed weights, in the layout of :func:`segwork.clv.base.compress`
    (the same rows, ordered by frequency, recency and T codes instead of first appearance).

    Each column is coded (``frequency`` by its whole value when at most 2^20, the others with
    ``pandas.factorize``); the ``(recency, T)`` pairs that occur are numbered (one ``numpy.bincount`` over
    the pairs of codes), and when the frequencies times those pairs are at most 16 times the rows and 2^27,
    the histories are counted in one ``numpy.bincount`` over those cells (10M customers on a two-year day
    grid: 168 x 267,000 cells, 0.36 GB for a moment, a few times faster than hashing 10M keys); otherwise
    :func:`segwork.clv.base.compress`.
    """
    codes, levels = [], []
    for name, values in (("x", x), ("tx", tx), ("T", t)):
        if name == "x" and values.max() <= 2 ** 20:  # whole numbers: each is its own code
            codes.append(values.astype(np.int64))
            levels.append(np.arange(int(values.max()) + 1, dtype=np.float64))
            continue
        c, u = pd.factorize(values)
        codes.append(c.astype(np.int64))
        levels.append(np.asarray(u, dtype=np.float64))
    sizes = [len(u) for u in levels]
    limit = min(16 * len(x), 2 ** 27)
    if sizes[1] * sizes[2] > limit:
        return compress({"x": x, "tx": tx, "T": t}, w)
    # the (recency, T) pairs that occur, numbered (fewer than the product: recency <= T), then the cells
    pair = codes[1] * sizes[2] + codes[2]
    pairs = np.flatnonzero(np.bincount(pair, minlength=sizes[1] * sizes[2]))
    cells = sizes[0] * len(pairs)
    if cells > limit:
        return compress({"x": x, "tx": tx, "T": t}, w)
    number = np.zeros(sizes[1] * sizes[2], dtype=np.int64)
    number[pairs] = np.arange(len(pairs))
    key = codes[0] * len(pairs) + number[pair]
    del codes, pair
    unit = bool((w == 1.0).all())
    counts = np.bincount(key, minlength=cells) if unit else np.bincount(key, weights=w, minlength=cells)
    del key
    cell = np.flatnonzero(counts)
    counts = counts[cell].astype(np.float64)
    c_x, p = np.divmod(cell, len(pairs))
    c_tx, c_T = np.divmod(pairs[p], sizes[2])
    data: dict[str, np.ndarray] = {}
    for name, c, u in (("x", c_x, levels[0]), ("tx", c_tx, levels[1]), ("T", c_T, levels[2])):
        data[name] = u[c]
        data[name + "_levels"] = u
        data[name + "_codes"] = c
    return data, counts


def fit_from_sample(model, x, tx, t, w) -> bool:
    """Fit ``model`` (a BetaGeo) on histories ``x, tx, t`` with weights ``w`` by the sample-start route.

    Sets the fitted attributes as the ordinary fit does, plus ``fit_method_``; returns False (and sets
    nothing) when there are at most ``model.start_sample`` rows, so the caller runs the ordinary fit.
    Raises ConvergenceError as the ordinary fit does.
    """
    live = w > 0
    m = model.start_sample
    if m is None or int(live.sum()) <= m:
        return False
    name = type(model).__name__
    n_total = float(w.sum())
    if live.all():
        live = None  # no copies of millions of rows
    else:
        x, tx, t, w = x[live], tx[live], t[live], w[live]
    rng = np.random.default_rng(model.random_state)
    pick = np.sort(rng.choice(len(w), size=int(m), replace=False))
    sample = type(model)(**{**model.get_params(), "start_sample": None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sample's identification is not the fit's: checked on all below
        try:
            sample.fit(x[pick], tx[pick], t[pick], weights=w[pick])
            start = np.log([sample.params_[k] for k in model._param_names])
        except ConvergenceError:
            start = None
    data, counts = collapse(x, tx, t, w)
    stages = []
    with single_threaded_blas():
        logp = start
        size = 10 * int(m)
        while logp is not None and size < len(counts) / 2:
            # a seeded subsample ten times the last: Newton steps there bring the start within its
            # distance of the optimum of all customers (about a standard error of that subsample)
            rows = np.flatnonzero(rng.random(len(counts)) < size / len(counts))
            sub = {k: (v[rows] if k in _ROW_KEYS else v) for k, v in data.items()}
            end, *_, ok = _newton(_objective(model, sub, counts[rows]), logp, stage_tol=_STAGE_TOL)
            if not ok:
                break
            logp = end
            stages.append(len(rows))
            size *= 10
        fgh = _objective(model, data, counts)
        converged = False
        if logp is not None:
            logp, f, g, h, total, nit, converged = _newton(fgh, logp)
    how = (f"maximum likelihood on all {n_total:,.0f} customers: Newton steps with the analytic Hessian from the "
           f"optimum of a seeded random sample of {int(m):,} rows (random_state={model.random_state!r})"
           + "".join(f", then of a seeded subsample of {k:,} of the {len(counts):,} distinct histories"
                     for k in stages))
    n = float(counts.sum())
    if converged:
        hint = f"{untried_penalty_hint(name)}, {model._data_hint}"
        ran_off = tuple(p for p, v in zip(model._param_names, logp) if abs(v) > RUNAWAY)
        fun = model._objective_factory(data, counts)

        def total_objective(v):  # the optimum's value is known: one pass fewer
            return f * n if np.array_equal(v, logp) else fun.value(v) * n

        try:
            with single_threaded_blas():
                cov, unidentified = check_identification(
                    f"{name}.fit", model._param_names, logp, 0.5 * (h + h.T) * n, total_objective, n,
                    model._limit_params, model._limit_note, hint, ran_off)
        except ConvergenceError:  # the ordinary fit below raises it again, with a penalizer hint it has tried
            converged = False
    if not converged:
        # the ordinary fit on all customers, from the sample's optimum when there is one
        x0 = np.exp(start) if start is not None else model._start(data, counts)
        model._converge(lambda mm: mm._optimise(data, counts, x0))
        model.fit_method_ = (
            f"maximum likelihood on all {n_total:,.0f} customers (L-BFGS-B on their {len(counts):,} distinct "
            "histories" + (f", from the optimum of a seeded random sample of {int(m):,} rows: Newton steps from "
                           "there did not converge or met a flat likelihood)" if start is not None
                           else ": the fit of a seeded random sample did not converge)"))
        return True
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
    model.fit_method_ = how + f"; {nit} Newton steps on all customers, to the optimum within rounding"
    return True
