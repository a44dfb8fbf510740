"""The shared base of the CLV models: fitting, standard errors, summary, input checks.

Every model in :mod:`segwork.clv` is a maximum-likelihood model whose
parameters are all positive. The base class

* optimises the parameters on a **log scale** (so they stay positive) from a
  deterministic, data-driven start with ``scipy.optimize.minimize``
  (L-BFGS-B, falling back to BFGS), using the model's **analytic gradient**
  where it has one (a central finite difference otherwise);
* fits on the **unique rows** of the sufficient statistics with their counts
  as weights: the likelihood depends on a customer only through e.g.
  ``(frequency, recency, T)``, so a million customers collapse to a few
  thousand distinct rows;
* adds an optional ``penalizer``: an L2 penalty on the *log* parameters,
  ``penalizer * sum(log(theta) ** 2)``, added to the *mean* negative
  log-likelihood per customer (the scale of ``lifetimes``' ``penalizer_coef``;
  unlike ``lifetimes``, which penalises ``theta ** 2`` and so only pulls
  parameters down, the log penalty pulls them towards 1 from both sides and
  keeps them away from 0 and infinity);
* stores ``params_`` (a dict), ``log_likelihood_`` (the **total**
  log-likelihood, in the data's own time units, comparable with published
  values; without the penalty) and the covariance of the log parameters from
  the observed information (the inverse Hessian of the minimised objective
  at the optimum, by central differences, computed in every fit);
* raises :class:`~segwork.errors.ConvergenceError` naming what to try when the
  optimiser fails, a parameter runs off to 0 or infinity (beyond 1e-8 / 1e8)
  anywhere but towards a usable limit of the model, or the likelihood is flat along a direction (the data cannot pin the
  parameters down: typical of tiny or degenerate data, where estimates such
  as r ~ 1e7 are one arbitrary point of a ridge); when the flat direction
  is a usable limit of the model (its ``_limit_params``, e.g. the dropout
  process: "nobody leaves"), or the Hessian is singular, it warns instead
  (:class:`~segwork.errors.IdentificationWarning`) and the standard errors
  of the parameters concerned are NaN (``unidentified_``). All in
  :func:`check_identification`, shared with the covariate fit. A fit never
  ends with NaN or infinite parameters.

Standard errors in :meth:`BaseModel.summary` use the delta method
(``se(theta) = theta * se(log theta)``); the 95 % interval is computed on the
log scale and transformed back (``exp(log theta +- 1.96 se(log theta))``), so
it is asymmetric and never includes values <= 0. :meth:`BaseModel.profile_interval`
(and ``summary(interval="profile")``) gives profile-likelihood intervals
instead, from constrained refits on the fit's compressed data, which every fit
keeps (the unique rows and their counts).
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.base import BaseEstimator, clone

from .._checks import check_fitted, check_level
from ..errors import ConvergenceError, DataError, IdentificationWarning, NotFittedError

__all__ = ["BaseModel", "compress", "distinct_rows", "check_identification", "PENALIZER_LADDER",
           "untried_penalty_hint", "LOG_BOUND", "RUNAWAY", "single_threaded_blas", "row_label"]

#: Bounds on the log parameters: exp(+-30) is far beyond any sensible value;
#: an optimum on a bound means the data cannot pin that parameter down.
LOG_BOUND = 30.0
#: A fitted parameter beyond 1e8 or below 1e-8 has run off towards infinity or 0: the data
#: cannot pin it down (e.g. nobody ever seems to leave), and predictions would rest on a limit.
RUNAWAY = float(np.log(1e8))
_Z95 = 1.959963984540054
#: The penalizers a ConvergenceError may suggest, smallest first. None is named before it was tried on the
#: same data (:meth:`BaseModel._converge`): a hint must be one that works.
PENALIZER_LADDER = (0.001, 0.01, 0.1, 1.0)


def untried_penalty_hint(name: str) -> str:
    """The placeholder for a penalizer hint in a ConvergenceError, replaced by :meth:`BaseModel._converge`
    with a penalizer tried on the same data (or with the statement that none of :data:`PENALIZER_LADDER` helps)."""
    return f"try {name}(penalizer=0.001) (or larger) to keep the parameters finite"


# --------------------------------------------------------------------------- helpers


def single_threaded_blas():
    """A context manager that limits BLAS to one thread while a fit runs (threadpoolctl, installed with
    scikit-learn; a no-op without it). The fits evaluate small matrices many times, where BLAS threads cost
    more than they save and would compete with parallel workers. Never raises."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def compress(columns: dict[str, np.ndarray], weights: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Collapse rows with identical values in ``columns``, summing ``weights``.

    Returns ``(data, counts)``: ``data[name]`` holds the unique rows' values
    (in order of first appearance), ``data[name + "_levels"]`` the distinct
    values of that column and ``data[name + "_codes"]`` each unique row's
    position in them (so a model can evaluate expensive functions of one
    column once per distinct value); ``counts`` the summed weights. Hash-based
    (``pandas.factorize``), linear in the number of rows.
    """
    codes, levels = [], []
    for values in columns.values():
        c, u = pd.factorize(np.asarray(values, dtype=np.float64))
        codes.append(c.astype(np.int64))
        levels.append(np.asarray(u, dtype=np.float64))
    sizes = [len(u) for u in levels]
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0 ** 62:
        key = codes[0]
        for c, size in zip(codes[1:], sizes[1:]):
            key = key * size + c
        row_code, key_levels = pd.factorize(key)
        first = np.zeros(len(key_levels), dtype=np.int64)
        # index of the first row of each unique key (for decoding the columns)
        first[row_code[::-1]] = np.arange(len(key) - 1, -1, -1)
    else:  # pragma: no cover - astronomically many distinct values
        frame = pd.DataFrame({str(i): c for i, c in enumerate(codes)})
        row_code = frame.groupby(list(frame), sort=False).ngroup().to_numpy()
        first = np.zeros(row_code.max() + 1, dtype=np.int64)
        first[row_code[::-1]] = np.arange(len(row_code) - 1, -1, -1)
    counts = np.bincount(row_code, weights=np.asarray(weights, dtype=np.float64), minlength=len(first))
    keep = counts > 0
    data: dict[str, np.ndarray] = {}
    for name, c, u in zip(columns, codes, levels):
        cu = c[first][keep]
        data[name] = u[cu]
        data[name + "_levels"] = u
        data[name + "_codes"] = cu
    return data, counts[keep]


def distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of rows with equal values in all ``columns`` (flat arrays of one length).

    Returns ``(rows, first)``: each row's group number (groups numbered in
    order of first appearance) and each group's first row, so that
    ``f(*(c[first] for c in columns))[rows]`` is ``f(*columns)`` for any
    elementwise ``f``, evaluated once per distinct row. Hash-based
    (``pandas.factorize``, as :func:`compress`), linear in the rows.
    """
    key, size = np.zeros(len(columns[0]), dtype=np.int64), 1
    for values in columns:
        codes, levels = pd.factorize(np.asarray(values, dtype=np.float64))
        if size * len(levels) >= 2 ** 62:  # the keys would overflow: number the distinct keys so far first
            key, seen = pd.factorize(key)
            size = len(seen)
        key, size = key * len(levels) + codes, size * len(levels)
    rows, groups = pd.factorize(key)
    first = np.zeros(len(groups), dtype=np.int64)
    first[rows[::-1]] = np.arange(len(rows) - 1, -1, -1)
    return rows, first


def dot(u, v) -> float:
    """``sum(u * v)`` without BLAS: ``np.dot`` hands 1-d products to threaded BLAS,
    whose threads stall for tens of milliseconds on a busy 2-core machine."""
    return float(np.add.reduce(np.multiply(u, v)))


def _as_float_array(values, name: str, model: str) -> np.ndarray:
    """A 1-d float array from a list, array or Series; DataError if not numeric."""
    if isinstance(values, (pd.Series, pd.Index)):
        try:
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"{model}: {name} must be numeric, got dtype {values.dtype}") from None
    else:
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{model}: {name} must be numeric (e.g. a column of the rfm_summary table)") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        # summary.T is pandas' transpose of the whole table, not its T column
        hint = (f"; a DataFrame's .T is its transpose: pass the column, summary[{name!r}]"
                if isinstance(values, pd.DataFrame) else "; pass one column of the rfm_summary table")
        raise DataError(f"{model}: {name} must be one-dimensional, got shape {arr.shape}{hint}")
    return arr


def row_label(index, pos: int) -> str:
    """How to name row ``pos`` in a message: ``"customer 'C1'"`` from ``index`` (the input's pandas index, or
    ``None`` for arrays), else ``"row 3"``. Shared by the models' input checks. Never raises."""
    if index is not None:
        return f"customer {index[pos]!r}"
    return f"row {pos}"


def check_columns(model: str, columns: dict[str, object], weights=None) -> tuple[dict[str, np.ndarray], np.ndarray, object]:
    """Common checks: numeric, same length, finite, non-negative; weights >= 0.

    Returns the float arrays, the weights (ones if ``None``) and the index of
    the first pandas input (for messages), or ``None``.
    """
    index = next((v.index for v in columns.values() if isinstance(v, pd.Series)), None)
    arrays = {name: _as_float_array(v, name, model) for name, v in columns.items()}
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise DataError(f"{model}: inputs have different lengths {lengths}; pass one value per customer in each")
    n = next(iter(lengths.values()))
    if n == 0:
        raise DataError(f"{model}: no customers (empty input)")
    if index is not None and len(index) != n:
        index = None
    for name, a in arrays.items():
        bad = ~np.isfinite(a)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{model}: {name} has {int(bad.sum())} missing or infinite value(s) (e.g. {row_label(index, pos)}: "
                f"{name}={a[pos]!r}); drop or fill those customers before fitting"
            )
        neg = a < 0
        if neg.any():
            pos = int(np.flatnonzero(neg)[0])
            raise DataError(
                f"{model}: {name} has {int(neg.sum())} negative value(s) (e.g. {row_label(index, pos)}: {name}={a[pos]:g}); "
                f"{name} must be >= 0 (times, purchase counts and mean spends cannot be negative); "
                "correct or drop those customers"
            )
    if weights is None:
        w = np.ones(n)
    else:
        w = _as_float_array(weights, "weights", model)
        if len(w) != n:
            raise DataError(f"{model}: weights has length {len(w)} but the data has {n} rows")
        if not np.isfinite(w).all() or (w < 0).any():
            raise DataError(f"{model}: weights must be finite and >= 0 (number of customers per row)")
        if w.sum() <= 0:
            raise DataError(f"{model}: all weights are 0: no customers to fit")
    return arrays, w, index


def broadcast_columns(where: str, columns: dict[str, object]) -> dict[str, object]:
    """Broadcast prediction inputs against each other (a scalar with a column) into flat columns.

    Keeps a pandas index (for messages naming the customer) when a Series
    input has the broadcast length. DataError when the shapes do not fit.
    """
    index = next((v.index for v in columns.values() if isinstance(v, pd.Series)), None)
    try:
        arrs = np.broadcast_arrays(*(np.asarray(v.to_numpy() if isinstance(v, (pd.Series, pd.Index)) else v,
                                                dtype=np.float64) for v in columns.values()))
    except (TypeError, ValueError):
        raise DataError(f"{where}: {', '.join(columns)} must be numbers with one value per customer (the same "
                        "length) or scalars") from None
    return {k: (pd.Series(a.reshape(-1), index=index) if index is not None and a.size == len(index)
                else a.reshape(-1)) for k, a in zip(columns, arrs)}


def check_horizon(where: str, t) -> np.ndarray:
    """A prediction horizon (time ahead, periods, opportunities): finite and >= 0; DataError otherwise."""
    arr = np.asarray(t.to_numpy() if isinstance(t, (pd.Series, pd.Index)) else t, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise DataError(f"{where}: the horizon t must be finite and >= 0 (time ahead in the model's unit), "
                        f"got {arr[bad].reshape(-1)[0]!r}")
    return arr


def broadcast_history(where: str, history: dict, check, t=None):
    """A history given to a prediction, checked by ``check`` and broadcast against a horizon ``t``.

    ``history``: name -> values (scalars, arrays or Series, one value per
    customer); ``check()`` runs the model's history check (the same as
    ``fit``'s) and returns one checked flat array per name. Returns ``(t,
    arrays, shape)``: ``t`` (None when not given) and the arrays as flat float
    arrays broadcast against each other, and the broadcast shape. Raises
    DataError when the inputs cannot be broadcast or a horizon is negative.
    """
    values = list(history.values()) + ([] if t is None else [check_horizon(where, t)])
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    except ValueError:
        raise DataError(f"{where}: {', '.join(history)} (and t) must have the same length (one value per "
                        "customer) or be scalars") from None
    own = np.broadcast_shapes(*(np.shape(v) for v in history.values()))  # the history's own shape
    arrays = [np.broadcast_to(a.reshape(own), shape).reshape(-1) for a in check()]
    t_ = None if t is None else np.broadcast_to(np.asarray(values[-1], dtype=np.float64), shape).reshape(-1)
    return t_, arrays, shape


def check_integer(model: str, name: str, a: np.ndarray, index) -> None:
    """``a`` must hold whole numbers (counts)."""
    frac = a != np.round(a)
    if frac.any():
        pos = int(np.flatnonzero(frac)[0])
        raise DataError(
            f"{model}: {name} must be whole numbers (a count), got {a[pos]:g} for {row_label(index, pos)}"
        )


def wrap_like(result: np.ndarray, *inputs, name: str | None = None):
    """Return ``result`` as a Series if an input was one (same index), as a float if all were scalars."""
    for v in inputs:
        if isinstance(v, pd.Series) and np.shape(result) == (len(v),):
            return pd.Series(result, index=v.index, name=name)
    if all(np.ndim(v) == 0 for v in inputs) and np.size(result) == 1:
        return float(np.asarray(result).reshape(-1)[0])
    return result


#: Identification (:func:`check_identification`): moving the log parameters by log(10) (a factor of 10)
#: along a direction and the total objective rises by less than _FLAT_LL either way: a flat likelihood,
#: the data cannot tell those values apart (a likelihood ratio of exp(0.05), far inside any interval).
_FLAT_STEP = float(np.log(10.0))
_FLAT_LL = 0.05
#: A parameter takes part in a flat direction when its share of the unit direction is at least this.
_LOADS = 0.2


def check_identification(where: str, names, theta: np.ndarray, hess: np.ndarray, total_objective, n: float,
                         limit_params=(), limit_note: str = "", hint: str = "", ran_off=()):
    """Is the optimum pinned down by the data? The one identification check of every fit.

    ``where``: the fit, for messages (``"BetaGeo.fit"``); ``theta``: the fitted vector (log parameters, then any covariate
    coefficients) named by ``names``; ``hess``: the Hessian of the total
    objective (negative log-likelihood plus penalty) at ``theta``;
    ``total_objective(theta)``: that objective; ``n``: the number of customers.

    Detects a **flat likelihood**: along each eigen-direction of ``hess`` (or
    each axis when it is not finite) the objective is evaluated a factor of 10
    away (``theta +- log(10) v``); when it rises by less than 0.05 either way,
    the parameters taking part in ``v`` (``|v_j| >= 0.2``) cannot be told
    apart over a factor of 10 (the optimum is on a ridge or runs off towards a
    limit, typically to extreme values such as r ~ 1e7 on tiny data). Then

    * if all of them are in ``limit_params`` (e.g. the dropout parameters, a
      flat ridge towards "nobody leaves" or "no ageing"), the fit is that
      limit and its predictions are usable: an
      :class:`~segwork.errors.IdentificationWarning` names them, and their
      standard errors are NaN; the covariance is the inverse of the
      information on the other directions only (so intervals describe the
      identified part);
    * otherwise :class:`~segwork.errors.ConvergenceError`, naming the
      parameters, their values and what to do (``hint``: more data, a penalizer).

    ``ran_off``: the names of parameters that the optimiser left beyond
    1e-8 / 1e8 (a covariate coefficient beyond +-49). Such a parameter is
    a usable limit only when it is in ``limit_params`` **and** takes part in a
    flat direction: then it is that limit, with the warning above, however far
    along the ridge the optimiser happened to stop (which differs between CPUs
    and BLAS builds). Otherwise it ran off where the data cannot follow, and
    :class:`~segwork.errors.ConvergenceError` says so. This check runs after
    the flatness check, never before it, so that the outcome does not depend on
    the stopping point.

    A **singular Hessian** without a flat direction (not finite or not
    positive definite) gives the IdentificationWarning and an all-NaN covariance.

    Returns ``(cov, unidentified)``: the covariance of ``theta`` (inverse
    observed information) and the tuple of names without standard errors.
    """
    k = len(theta)
    names = list(names)
    finite = bool(np.isfinite(hess).all())
    lam, vecs = (np.linalg.eigh(hess) if finite else (np.full(k, np.nan), np.eye(k)))
    f0 = float(total_objective(theta))
    flat = np.zeros(k, dtype=bool)
    with np.errstate(all="ignore"):
        for i in range(k):
            if finite and 0.5 * lam[i] * _FLAT_STEP ** 2 > 1e3 * _FLAT_LL:
                continue  # clearly curved: no need to look
            rise = [float(total_objective(theta + sgn * _FLAT_STEP * vecs[:, i])) - f0 for sgn in (1.0, -1.0)]
            rise = [r if np.isfinite(r) else np.inf for r in rise]
            flat[i] = max(rise) < _FLAT_LL
    moving = (np.abs(vecs[:, flat]) >= _LOADS).any(axis=1) if flat.any() else np.zeros(k, dtype=bool)
    values = ", ".join(f"{p}={_show(p, v)}" for p, v, m in zip(names, theta, moving) if m)
    if moving.any() and not all(p in limit_params for p, m in zip(names, moving) if m):
        raise ConvergenceError(
            f"{where} did not converge: the likelihood is flat along {values} (changing them by a factor of "
            f"10 changes the log-likelihood by less than {_FLAT_LL:g}), so these {n:g} customers cannot pin "
            f"them down and the estimates are one arbitrary point of a ridge; fit on more data (more customers "
            f"or a longer calibration period) or {hint}"
        )
    stray = [p for p in ran_off if not (p in limit_params and moving[names.index(p)])]
    if stray:
        which = ", ".join(f"{p}={_show(p, theta[names.index(p)])} (towards "
                          f"{'0' if theta[names.index(p)] < 0 else 'infinity'})" for p in stray)
        raise ConvergenceError(
            f"{where} did not converge: {which} ran off (the data cannot identify it, and it is not a usable "
            f"limit of the model{': ' + limit_note if limit_note else ''}); {hint}."
        )
    if moving.any():
        warnings.warn(
            f"{where}: {values} are not identified by these data (the likelihood is flat towards "
            f"{limit_note or 'a limit of the model'}); the fit is that limit and its predictions are usable, "
            "but these parameters have no standard errors or intervals (NaN in summary())",
            IdentificationWarning, stacklevel=5,
        )
        keep = ~flat
        with np.errstate(all="ignore"):
            cov = (vecs[:, keep] / lam[keep]) @ vecs[:, keep].T
        if not (np.isfinite(cov).all() and (lam[keep] > 0).all()):
            cov = np.full((k, k), np.nan)
        return cov, tuple(p for p, m in zip(names, moving) if m)
    if finite and (lam > 0).all():
        cov = np.linalg.inv(hess)
        if np.isfinite(cov).all() and (np.diag(cov) > 0).all():
            return cov, ()
    warnings.warn(
        f"{where}: the observed information is singular at the optimum; the point estimate stands but "
        "standard errors and intervals are not available (the parameters are poorly identified by these "
        "data: more data or a penalizer helps)", IdentificationWarning, stacklevel=5,
    )
    return np.full((k, k), np.nan), tuple(names)


def _show(name: str, v: float) -> str:
    """A parameter for a message: a log parameter as its value, a covariate coefficient (has ':') as is."""
    return f"{v:.3g}" if ":" in name else f"{np.exp(v):.3g}"


# --------------------------------------------------------------------------- the base


class BaseModel(BaseEstimator):
    """Shared machinery of segwork's maximum-likelihood CLV models.

    A scikit-learn ``BaseEstimator`` for ``get_params`` / ``set_params`` /
    ``sklearn.base.clone`` (the only hyperparameter is ``penalizer``).

    Subclasses define ``_param_names`` and ``_loglik(params, data)`` which
    returns the per-row log-likelihood and, if available, its gradient with
    respect to the (natural-scale) parameters as an array of shape
    ``(n_params, n_rows)`` (``None`` -> numerical gradient).
    """

    _param_names: tuple[str, ...] = ()
    _fit_signature = "fit(...)"
    #: False for models whose ``_loglik`` returns no gradient (numerical differences are used).
    _has_gradient = True
    #: Parameters whose flat likelihood towards 0 or infinity is a usable limit of the model (e.g. the
    #: dropout parameters: "nobody leaves"); a flat ridge in any other parameter is a ConvergenceError.
    _limit_params: tuple[str, ...] = ()
    #: What that limit means, for the warning (see :func:`check_identification`).
    _limit_note = ""
    #: What a failed fit asks the user to check about the data (said after the penalizer hint).
    _data_hint = ("check that the inputs are in the units you think (e.g. weeks), and that the data has enough "
                  "repeat purchases")

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # ----------------------------------------------------------------- interface
    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    # ----------------------------------------------------------------- state
    def _check_fitted(self) -> None:
        check_fitted(self, "params_", self._fit_signature)

    def _params(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[k] for k in self._param_names)

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        pen = f"penalizer={self.penalizer!r}" if self.penalizer else ""
        return f"{type(self).__name__}({pen})"

    # ----------------------------------------------------------------- objective
    def _total_loglik(self, params: np.ndarray, data, weights) -> tuple[float, np.ndarray | None]:
        with np.errstate(all="ignore"):
            ll, grad = self._loglik(params, data)
            total = float(np.add.reduce(weights * ll))
            g = None if grad is None else np.add.reduce(grad * weights, axis=1)
        return total, g

    def _objective_factory(self, data, weights, central: bool = True) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """f(log params) = -mean LL + penalty and its gradient on the log scale.

        Without an analytic gradient: central (``central=True``) or forward
        differences of f on the log scale.
        """
        n = float(weights.sum())
        pen = float(self.penalizer or 0.0)
        k = len(self._param_names)

        def value(logp: np.ndarray) -> float:
            total, _ = self._total_loglik(np.exp(logp), data, weights)
            return -total / n + pen * float(np.sum(logp * logp))

        def fun(logp: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(logp)
            total, g = self._total_loglik(params, data, weights)
            f = -total / n + pen * float(np.sum(logp * logp))
            if not np.isfinite(f):
                return 1e300, np.zeros(k)
            if g is None:  # finite differences on the log scale
                g_log = np.empty(k)
                for i in range(k):
                    h = (1e-6 if central else 1e-7) * max(1.0, abs(logp[i]))
                    e = np.zeros(k)
                    e[i] = h
                    if central:
                        g_log[i] = (value(logp + e) - value(logp - e)) / (2 * h)
                    else:
                        g_log[i] = (value(logp + e) - f) / h
                return f, g_log
            g_log = -(g * params) / n + 2 * pen * logp
            if not np.isfinite(g_log).all():
                return 1e300, np.zeros(k)
            return f, g_log

        fun.value = value  # type: ignore[attr-defined]
        return fun

    def _converge(self, run: Callable[["BaseModel"], object]):
        """``run(self)`` (one fit's optimisation), with a penalizer hint that was tried before it is named.

        When ``run`` raises :class:`~segwork.errors.ConvergenceError` whose
        message carries :func:`untried_penalty_hint`, the same ``run`` is
        tried on copies of this model with each penalizer of
        :data:`PENALIZER_LADDER` above ``self.penalizer``, smallest first,
        and the message names the first that converges on these data, or says
        that none does (then the hint would not help, and is not given).
        Costs nothing on success; on failure up to four more fits.
        """
        try:
            return run(self)
        except ConvergenceError as exc:
            name = type(self).__name__
            msg = str(exc)
            untried = untried_penalty_hint(name)
            if untried not in msg:
                raise
            tried = [pen for pen in PENALIZER_LADDER if pen > float(self.penalizer or 0.0)]
            works = None
            for pen in tried:
                trial = clone(self).set_params(penalizer=pen)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        run(trial)
                except ConvergenceError:
                    continue
                works = pen
                break
            if works is not None:
                said = (f"use {name}(penalizer={works:g}), which keeps the parameters finite and converges on these "
                        "data (tried"
                        + (f"; {', '.join(f'{p:g}' for p in tried[:tried.index(works)])} did not" if works != tried[0]
                           else "") + "; a penalty pulls the log parameters towards 0, so check its estimates)")
            else:
                said = (f"no penalizer makes it converge ({', '.join(f'{p:g}' for p in tried) or 'none left to try'} tried on "
                        "these data, none converged)")
            raise ConvergenceError(msg.replace(untried, said)) from None

    def _optimise(self, data: dict[str, np.ndarray], weights: np.ndarray, x0: np.ndarray) -> None:
        """Minimise the objective from ``x0`` (natural scale); set the fitted attributes."""
        # The optimiser's tiny vector products gain nothing from BLAS threads and
        # stall on a busy machine: run them single-threaded.
        with single_threaded_blas():
            self._optimise_impl(data, weights, x0)

    def _optimise_impl(self, data, weights, x0) -> None:
        name = type(self).__name__
        fun = self._objective_factory(data, weights)
        logp0 = np.log(np.asarray(x0, dtype=np.float64))
        bounds = [(-LOG_BOUND, LOG_BOUND)] * len(logp0)
        if not self._has_gradient:
            # Numerical gradient: approach the optimum with cheap forward differences (k + 1
            # evaluations per gradient), then polish below with central differences (2k + 1).
            rough = optimize.minimize(
                self._objective_factory(data, weights, central=False), logp0, jac=True, method="L-BFGS-B",
                bounds=bounds, options={"maxiter": 5000, "ftol": 1e-12, "gtol": 1e-7, "maxcor": 20},
            )
            if np.isfinite(rough.x).all() and np.isfinite(rough.fun) and rough.fun < 1e299:
                logp0 = rough.x
        res = optimize.minimize(
            fun, logp0, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )
        gnorm = float(np.max(np.abs(fun(res.x)[1])))
        if not (np.isfinite(res.x).all() and gnorm < 1e-5):
            # L-BFGS-B can stop early when the line search runs out of precision: polish with BFGS.
            res2 = optimize.minimize(fun, res.x if np.isfinite(res.x).all() else logp0, jac=True, method="BFGS",
                                     options={"maxiter": 5000, "gtol": 1e-9})
            if np.isfinite(res2.fun) and res2.fun <= res.fun + 1e-12:
                res = res2
            gnorm = float(np.max(np.abs(fun(res.x)[1])))
        logp = np.asarray(res.x, dtype=np.float64)
        hint = f"{untried_penalty_hint(name)}, {self._data_hint}"
        if not np.isfinite(logp).all() or not np.isfinite(res.fun) or res.fun >= 1e299:
            raise ConvergenceError(f"{name}.fit did not converge (the likelihood became non-finite); {hint}.")
        # Parameters beyond 1e-8 / 1e8: a usable limit of the model (e.g. a -> 0, "nobody leaves") or a
        # parameter the data cannot follow; check_identification tells which, after its flatness check, so the
        # outcome does not depend on how far along a flat ridge the optimiser got (CPU, BLAS).
        ran_off = tuple(p for p, v in zip(self._param_names, logp) if abs(v) > RUNAWAY)
        if gnorm > 1e-4:
            # a search that stalls on a flat ridge is reported as what it is (flat: not identified)
            n = float(weights.sum())
            with single_threaded_blas():
                check_identification(f"{name}.fit", self._param_names, logp, self._hessian(fun, logp, n),
                                     lambda v: fun.value(v) * n, n, (), self._limit_note, hint, ran_off)
            raise ConvergenceError(
                f"{name}.fit did not converge (largest gradient {gnorm:.2g} on the log scale: {res.message}); "
                f"{hint}."
            )
        params = np.exp(logp)
        n = float(weights.sum())
        # Identification, checked at every fit (a Hessian costs ~2k gradients, a small part of the fit):
        # raises ConvergenceError when the data cannot pin the fit down, warns when only a limit is reached.
        with single_threaded_blas():
            hess = self._hessian(fun, logp, n)
            cov, unidentified = check_identification(
                f"{name}.fit", self._param_names, logp, hess, lambda v: fun.value(v) * n, n, self._limit_params,
                self._limit_note, hint, ran_off)
        self.params_ = {k: float(v) for k, v in zip(self._param_names, params)}
        total, _ = self._total_loglik(params, data, weights)
        self.log_likelihood_ = float(total)
        self.n_customers_ = n
        self.n_rows_ = int(len(weights))
        self.n_iter_ = int(res.nit)
        self._log_params = logp
        self._cov_cache = cov
        self.unidentified_ = unidentified
        # the compressed data (unique rows and their counts), for profile_interval's constrained refits
        self._fit_data = (data, weights)

    def _cov_log(self) -> np.ndarray:
        cov = getattr(self, "_cov_cache", None)
        if cov is None and getattr(self, "_fit_data", None) is not None:
            # a model fitted (and stored) before fit computed the covariance: compute and check it now
            data, weights = self._fit_data
            n = float(weights.sum())
            with single_threaded_blas():
                fun = self._objective_factory(data, weights)
                cov, self.unidentified_ = check_identification(
                    f"{type(self).__name__}.fit", self._param_names, self._log_params,
                    self._hessian(fun, self._log_params, n), lambda v: fun.value(v) * n, n, self._limit_params,
                    self._limit_note, "refit on more data, or with the smallest penalizer that converges")
            self._cov_cache = cov
        if cov is None:  # rebuilt from saved estimates (segwork.clv.document keeps no covariance, and no data)
            raise NotFittedError(
                f"{type(self).__name__} has its estimates but not their covariance: the model was rebuilt from "
                "saved estimates, which keep no covariance; fit it again on its customer table for standard "
                "errors and intervals")
        return cov

    def _hessian(self, fun, logp: np.ndarray, n: float) -> np.ndarray:
        """Hessian of the total objective (``n`` times the mean objective ``fun``) on the log scale.

        Central differences of the analytic gradient when the model has one;
        otherwise second differences of the objective itself.
        """
        k = len(logp)
        hess = np.empty((k, k))
        steps = 1e-4 * np.maximum(1.0, np.abs(logp))
        if self._has_gradient:
            for i in range(k):
                e = np.zeros(k)
                e[i] = steps[i]
                hess[i] = (fun(logp + e)[1] - fun(logp - e)[1]) / (2 * steps[i])
        else:
            f = fun.value
            f0 = f(logp)
            eye = np.diag(10 * steps)
            steps = 10 * steps
            for i in range(k):
                hess[i, i] = (f(logp + eye[i]) - 2 * f0 + f(logp - eye[i])) / steps[i] ** 2
                for j in range(i):
                    hess[i, j] = hess[j, i] = (
                        f(logp + eye[i] + eye[j]) - f(logp + eye[i] - eye[j])
                        - f(logp - eye[i] + eye[j]) + f(logp - eye[i] - eye[j])
                    ) / (4 * steps[i] * steps[j])
        return 0.5 * (hess + hess.T) * n  # mean objective -> total

    # ----------------------------------------------------------------- results
    def summary(self, interval: str = "wald") -> pd.DataFrame:
        """Estimates with standard errors and 95 % intervals.

        Returns a DataFrame indexed by parameter name with columns
        ``estimate``, ``std_error`` (delta method from the log scale:
        ``estimate * se(log estimate)``), ``lower_95`` and ``upper_95``
        (``exp(log estimate -+ 1.96 se(log estimate))``: the Wald interval
        computed on the log scale and transformed back). Standard errors come
        from the observed information (inverse Hessian) of the minimised
        objective. All in each parameter's own unit. ``attrs["fit_method"]``:
        how the estimates were found, for a model that records it
        (``fit_method_``, e.g. :class:`~segwork.clv.BetaGeo`).

        ``interval="profile"`` adds ``profile_lower_95`` and
        ``profile_upper_95``: the 95 % profile-likelihood interval of each
        parameter (:meth:`profile_interval`; a few constrained refits per
        parameter, so slower: ~0.4 s for the BG/NBD on CDNOW, about a
        minute for the Pareto/NBD, whose gradient is numerical). The
        default ``"wald"`` needs no refit. Measured coverage of the 95 %
        intervals on simulated BG/NBD data
        (``benchmarks/param_interval_coverage.py``, see benchmarks/README):
        at 5,000 customers both are close to 95 % (Wald 93-96.5 %, profile
        93-96 %); at 1,000 customers the Wald interval of the dropout
        parameters over-covers and misses on one side only (``a``: 98 %),
        the profile is closer to nominal and balanced (95.5 %).

        Raises DataError for another ``interval``, and as
        :meth:`profile_interval` does.
        """
        self._check_fitted()
        if interval not in ("wald", "profile"):
            raise DataError(f"{type(self).__name__}.summary: interval must be 'wald' (default, from the standard "
                            f"errors) or 'profile' (profile likelihood), got {interval!r}")
        est = np.array([self.params_[k] for k in self._param_names])
        with np.errstate(invalid="ignore"):
            se_log = np.sqrt(np.diag(self._cov_log()))
        se_log = np.where(np.isin(self._param_names, getattr(self, "unidentified_", ())), np.nan, se_log)
        out = pd.DataFrame(
            {
                "estimate": est,
                "std_error": est * se_log,
                "lower_95": np.exp(self._log_params - _Z95 * se_log),
                "upper_95": np.exp(self._log_params + _Z95 * se_log),
            },
            index=pd.Index(self._param_names, name="parameter"),
        )
        if getattr(self, "fit_method_", None):  # how the estimates were found (e.g. BetaGeo's route)
            out.attrs["fit_method"] = self.fit_method_
        if interval == "profile":
            bounds = [self.profile_interval(p, 0.95) for p in self._param_names]
            out["profile_lower_95"] = [lo for lo, _ in bounds]
            out["profile_upper_95"] = [hi for _, hi in bounds]
        if getattr(self, "covariates_", None) is not None:
            # a fit with covariates: one row per coefficient (``purchase:``, ``dropout:``/``dropout_a:``/
            # ``dropout_b:``, ``spend:`` + column), linear-scale Wald intervals; the rows above are then
            # those of a customer with every covariate 0
            out = pd.concat([out, _covariate_summary(self)])
        return out

    def profile_interval(self, parameter: str, level: float = 0.95) -> tuple[float, float]:
        """Profile-likelihood interval of one parameter: ``(lower, upper)`` in the parameter's own unit.

        The set ``{theta_j : 2 [l_max - max_{others} l(theta_j, others)] <=
        chi2_1(level)}`` (Venzon & Moolgavkar 1988, "A method for computing
        profile-likelihood-based confidence intervals", *Applied Statistics*
        37(1); Pawitan, *In All Likelihood*, 2001, sections 2.5 and 9), where
        ``l`` is the total log-likelihood the fit maximised (minus the
        ``penalizer`` term when there is one) and ``chi2_1(level)`` the
        ``level`` quantile of the chi-squared distribution with 1 degree of
        freedom (3.841 at 0.95). Unlike the Wald interval of :meth:`summary`
        it does not assume the log-likelihood is quadratic, so it is
        asymmetric where the likelihood is, and it is the same whether the
        parameter is profiled on the log or the natural scale.

        Each endpoint is a root of the profile, found with
        ``scipy.optimize.brentq`` on the log scale (to 1e-10 in log theta_j)
        after bracketing outwards from the Wald guess
        ``log theta_j +- sqrt(chi2_1(level)) se(log theta_j)``; every
        profile point is a refit of the other parameters with
        ``scipy.optimize.minimize`` (L-BFGS-B, the model's gradient) with
        ``theta_j`` held fixed, warm-started from the nearest point already
        profiled.

        Parameters
        ----------
        parameter: a name in ``params_`` (e.g. ``"a"``).
        level: coverage, strictly between 0 and 1.

        Returns
        -------
        ``(lower, upper)`` floats, containing the estimate. When the profile
        never drops by ``chi2_1(level) / 2`` on one side before the parameter
        reaches 1e-8 or 1e8 (the data set no limit on that side, e.g. a
        parameter at a usable limit of the model, see ``unidentified_``),
        that side is ``0.0`` (lower) or ``inf`` (upper) and an
        :class:`~segwork.errors.IdentificationWarning` says so.

        Raises
        ------
        NotFittedError: before ``fit``.
        DataError: ``parameter`` is not one of the model's parameters, or
            ``level`` is not in (0, 1), or the model was fitted with
            covariates (profile intervals cover the models without; use the
            Wald intervals of :meth:`summary`) or unpickled from a version
            that did not keep its fit data (refit it).
        """
        self._check_fitted()
        name = type(self).__name__
        where = f"{name}.profile_interval"
        if parameter not in self._param_names:
            raise DataError(f"{where}: unknown parameter {parameter!r}; the parameters of {name} are "
                            f"{', '.join(self._param_names)}")
        lvl = check_level(where, level, "level", 0.95)
        if getattr(self, "covariates_", None) is not None:
            raise DataError(f"{where}: profile intervals are available for models fitted without covariates; for "
                            "this fit use the Wald intervals of summary()")
        fit_data = getattr(self, "_fit_data", None)
        if fit_data is None:
            raise DataError(f"{where}: this model does not hold its fit data (fitted by an older segwork version); "
                            "refit it to compute profile intervals")
        with single_threaded_blas():
            return self._profile_interval(parameter, lvl, fit_data, where)

    def _profile_interval(self, parameter, level, fit_data, where):
        from scipy.stats import chi2

        data, weights = fit_data
        n = float(weights.sum())
        fun = self._objective_factory(data, weights)
        k = len(self._param_names)
        j = self._param_names.index(parameter)
        theta = np.asarray(self._log_params, dtype=np.float64)
        crit = float(chi2.ppf(level, 1))
        f_max = fun.value(theta) * n  # total objective at the optimum: -l_max (+ penalty)
        bounds = [(-LOG_BOUND, LOG_BOUND)] * (k - 1)
        solved: dict[float, np.ndarray] = {float(theta[j]): np.delete(theta, j)}

        def excess(t: float) -> float:
            """2 [l_max - profile l(t)] - chi2_1(level); t = log theta_j."""
            if k == 1:
                f = fun.value(np.array([t]))
            else:
                x0 = solved[min(solved, key=lambda s: abs(s - t))]

                def g(x):
                    f_, g_ = fun(np.insert(x, j, t))
                    return f_, np.delete(g_, j)

                res = optimize.minimize(g, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20})
                if float(np.max(np.abs(g(res.x)[1]))) > 1e-6:  # line search out of precision: polish
                    res2 = optimize.minimize(g, res.x, jac=True, method="BFGS", options={"maxiter": 2000, "gtol": 1e-9})
                    if np.isfinite(res2.fun) and res2.fun <= res.fun:
                        res = res2
                f = float(res.fun)
                if f < 1e299 and np.isfinite(res.x).all():
                    solved[float(t)] = np.asarray(res.x, dtype=np.float64)
            if not np.isfinite(f) or f >= 1e299:
                return np.inf  # the likelihood is 0 there: far outside any interval
            return 2.0 * (f * n - f_max) - crit

        se = float(np.sqrt(self._cov_log()[j, j])) if np.isfinite(self._cov_log()[j, j]) else np.nan
        step0 = np.sqrt(crit) * se if np.isfinite(se) and se > 0 else np.log(2.0)
        ends = []
        for side in (-1.0, 1.0):
            inner, step = float(theta[j]), max(step0, 1e-6)
            limit = side * RUNAWAY
            root = None
            while True:
                t = float(np.clip(inner + side * step, -RUNAWAY, RUNAWAY))
                e = excess(t)
                shrink = 0
                while e == np.inf and shrink < 40:  # the likelihood is 0 there: come back towards the estimate
                    step, shrink = step / 2.0, shrink + 1
                    t = float(np.clip(inner + side * step, -RUNAWAY, RUNAWAY))
                    e = excess(t)
                if e > 0:
                    root = optimize.brentq(excess, min(inner, t), max(inner, t), xtol=1e-10, rtol=1e-12,
                                           maxiter=200)
                    break
                if t == limit:
                    break
                inner, step = t, step * 2.0
            if root is None:
                warnings.warn(
                    f"{where}: the profile likelihood of {parameter} does not fall by chi2_1({level:g}) / 2 "
                    f"before {parameter} reaches {np.exp(limit):.0e}: the data set no "
                    f"{'lower' if side < 0 else 'upper'} limit, reported as {0.0 if side < 0 else np.inf}",
                    IdentificationWarning, stacklevel=4,
                )
                ends.append(0.0 if side < 0 else np.inf)
            else:
                ends.append(float(np.exp(root)))
        return ends[0], ends[1]

    @property
    def covariance_(self) -> pd.DataFrame:
        """Covariance matrix of the *log* parameters (inverse observed information)."""
        self._check_fitted()
        names = [f"log_{k}" for k in self._param_names]
        return pd.DataFrame(self._cov_log(), index=names, columns=names)


def _covariate_summary(model) -> pd.DataFrame:
    """Rows for the coefficients: estimate, std_error, Wald 95 % interval (linear scale)."""
    k = len(model._param_names)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(model._cov_full))[k:]
    se = np.where(np.isin(model.coef_.index, getattr(model, "unidentified_", ())), np.nan, se)
    est = model.coef_.to_numpy()
    return pd.DataFrame({"estimate": est, "std_error": se, "lower_95": est - _Z95 * se,
                         "upper_95": est + _Z95 * se}, index=model.coef_.index.rename("parameter"))
