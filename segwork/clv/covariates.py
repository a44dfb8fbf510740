"""Time-invariant customer covariates on the BG/NBD, Pareto/NBD and Gamma-Gamma (the standard "scale" form).

Following Fader & Hardie's note "Incorporating time-invariant covariates into
the Pareto/NBD and BG/NBD models" (2007) and CLVTools' static-covariate
models, each customer ``i`` with covariate row ``z_i`` gets its own
heterogeneity parameters:

* purchase rate (both models): ``alpha_i = alpha * exp(-gamma_purchase' z_i)``,
  so the mean purchase rate ``r / alpha_i`` is multiplied by
  ``exp(gamma_purchase' z_i)``: a positive coefficient means *more* purchases;
* Pareto/NBD dropout: ``beta_i = beta * exp(-gamma_dropout' z_i)``: the mean
  dropout rate ``s / beta_i`` is multiplied by ``exp(gamma_dropout' z_i)``
  (positive = leaves sooner);
* BG/NBD dropout: ``a_i = a * exp(gamma_a' z_i)`` and
  ``b_i = b * exp(gamma_b' z_i)`` with separate coefficients (the mean
  dropout probability ``a_i / (a_i + b_i)`` rises with ``gamma_a' z`` and falls
  with ``gamma_b' z``). CLVTools' BG/NBD form, one coefficient shared by ``a``
  and ``b``, is the special case ``gamma_a = gamma_b``.

* Gamma-Gamma spend (Fader, Hardie & Lee 2005, "RFM and CLV: using
  iso-value curves for customer base analysis", JMR 42(4); Hardie's note 025):
  the scale of the gamma mixing distribution, ``v_i = v * exp(gamma_spend' z_i)``,
  so a customer's expected mean spend per purchase ``p v_i / (q - 1)`` is
  multiplied by ``exp(gamma_spend' z_i)`` (positive = spends more), in the
  same scale form as the transaction models' covariates; ``p`` and ``q`` are
  shared.

``r`` (and ``s``) are shared. The baseline parameters ``params_`` are those of
a customer with ``z = 0``; with every coefficient 0 the model *is* the plain
model (same likelihood, same predictions; tested).

Fitting: maximum likelihood over ``(log baseline parameters, coefficients)``
with L-BFGS-B, started from the plain model's fit with zero coefficients
(so the covariate fit's log-likelihood is never below the plain one). Rows
are compressed on the model's data columns and ``z`` (``(frequency, recency,
T, z)``, ``(frequency, monetary_value, z)`` for the Gamma-Gamma; categorical
covariates compress well); one fitter, :func:`fit_with_covariates`, serves
all three models, which differ only in ``_loglik`` and ``_covariate_links``.
The BG/NBD and Gamma-Gamma gradients are analytic (the chain rule on the
plain model's per-row gradient); the Pareto/NBD's is by central differences, as
for the plain Pareto/NBD, but per row in the four natural parameters and then
the same chain rule (so the cost does not grow with the number of
coefficients). Standard errors: inverse observed information
(central differences of the gradient), Wald intervals (log scale for the
baseline parameters, linear for the coefficients).

Covariates are a pandas DataFrame indexed like the customers (the index of
the frequency/recency/T or frequency/monetary_value Series); numeric columns are used as they are,
categorical / string / boolean columns are one-hot encoded with
scikit-learn's ``OneHotEncoder(drop="first")`` (the first level in sorted
order is the reference, named in the column names ``channel[web]`` etc.).
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd

from ..errors import DataError, IdentificationWarning
from .base import RUNAWAY, check_identification, compress, single_threaded_blas, untried_penalty_hint
from .optimise import minimise_with_coefficients

__all__ = ["CovariateDesign", "fit_with_covariates", "per_customer_params", "prediction_matrix"]


class CovariateDesign:
    """Turns a covariate DataFrame into the numeric matrix ``Z`` (fitted once, applied at predict time)."""

    def __init__(self, where: str, covariates: pd.DataFrame, index, n: int):
        frame = self._align(where, covariates, index, n)
        if frame.shape[1] == 0:
            raise DataError(f"{where}: covariates has no columns; pass None for the model without covariates")
        self.columns_ = list(frame.columns)
        self.categorical_ = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
                             or pd.api.types.is_bool_dtype(frame[c])]
        self.encoder_ = None
        self._check_missing(where, frame)
        if self.categorical_:
            from sklearn.preprocessing import OneHotEncoder

            self.encoder_ = OneHotEncoder(drop="first", sparse_output=False, handle_unknown="error")
            self.encoder_.fit(frame[self.categorical_].astype(str))
        Z = self._matrix(where, frame)
        names = self.names_
        const = np.ptp(Z, axis=0) == 0 if len(Z) else np.ones(Z.shape[1], bool)
        if const.any():
            which = names[int(np.flatnonzero(const)[0])]
            raise DataError(
                f"{where}: covariate {which!r} has the same value for every customer; its effect cannot be "
                "told apart from the baseline parameters: drop that column"
            )
        if Z.shape[1] > 1 and np.linalg.matrix_rank(Z - Z.mean(axis=0)) < Z.shape[1]:
            raise DataError(
                f"{where}: the covariates {names} are linearly dependent (one is a combination of the others, "
                "e.g. all one-hot levels of a category); drop one of them"
            )
        self.Z_ = Z

    @staticmethod
    def _align(where, covariates, index, n):
        if not isinstance(covariates, pd.DataFrame):
            raise DataError(f"{where}: covariates must be a pandas DataFrame indexed by customer_id "
                            f"(one row per customer), got {type(covariates).__name__}")
        if index is None:
            if len(covariates) != n:
                raise DataError(f"{where}: covariates has {len(covariates)} rows but there are {n} customers; "
                                "pass one row per customer (or pass frequency/recency/T as Series indexed by "
                                "customer_id so the rows are matched by label)")
            return covariates
        if covariates.index.has_duplicates:
            dup = covariates.index[covariates.index.duplicated()][0]
            raise DataError(f"{where}: covariates has more than one row for customer {dup!r}; one row per customer")
        missing = pd.Index(index).difference(covariates.index)
        if len(missing):
            raise DataError(
                f"{where}: covariates has no row for {len(missing)} customer(s) (e.g. {missing[0]!r}); its index "
                "must hold every customer_id of frequency/recency/T"
            )
        return covariates.reindex(pd.Index(index))

    def _check_missing(self, where, frame):
        na = frame.isna()
        if na.to_numpy().any():
            col = na.any()[lambda s: s].index[0]
            who = frame.index[na[col].to_numpy()][0]
            raise DataError(f"{where}: covariate {col!r} is missing for {int(na[col].sum())} customer(s) "
                            f"(e.g. customer {who!r}); fill or drop those customers")

    @property
    def names_(self) -> list[str]:
        num = [c for c in self.columns_ if c not in self.categorical_]
        names = [str(c) for c in num]
        if self.encoder_ is not None:
            for col, levels, drop in zip(self.categorical_, self.encoder_.categories_, self.encoder_.drop_idx_):
                names += [f"{col}[{lev}]" for j, lev in enumerate(levels) if j != drop]
        return names

    def _matrix(self, where, frame) -> np.ndarray:
        num = [c for c in self.columns_ if c not in self.categorical_]
        parts = []
        if num:
            try:
                Zn = frame[num].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{where}: covariates {num} must be numeric") from None
            bad = ~np.isfinite(Zn)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise DataError(f"{where}: covariate {num[j]!r} is not finite for customer {frame.index[i]!r} "
                                f"({Zn[i, j]!r}); fill or drop it")
            parts.append(Zn)
        if self.encoder_ is not None:
            cat = frame[self.categorical_].astype(str)
            try:
                parts.append(self.encoder_.transform(cat))
            except ValueError as exc:
                raise DataError(f"{where}: a categorical covariate has a level not seen in fit ({exc}); "
                                "map it to a known level or refit") from None
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def transform(self, where: str, covariates, index, n: int) -> np.ndarray:
        """``Z`` for prediction inputs (same columns as in fit; DataError otherwise)."""
        frame = self._align(where, covariates, index, n)
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise DataError(f"{where}: covariates lacks the column(s) {missing} the model was fitted with")
        frame = frame[self.columns_]
        self._check_missing(where, frame)
        return self._matrix(where, frame)


def prediction_matrix(model, where: str, covariates, index, n: int):
    """``Z`` (shape ``(n, n_columns)``) for a prediction, or None for a model fitted without covariates.

    DataError when covariates are passed to a model fitted without them, or
    missing for a model fitted with them (and every check of
    :meth:`CovariateDesign.transform`).
    """
    design = getattr(model, "covariates_", None)
    if design is None:
        if covariates is not None:
            raise DataError(f"{where}: this model was fitted without covariates; do not pass covariates")
        return None
    if covariates is None:
        raise DataError(f"{where}: the model was fitted with covariates {design.columns_}; pass covariates= "
                        "(a DataFrame indexed by customer_id) for these customers")
    return design.transform(where, covariates, index, n)


def per_customer_params(model, base: np.ndarray, coef: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Parameters per row, shape ``(n_params, n_rows)``: ``theta_j * exp(sign_j * Z @ gamma_j)``."""
    P = np.repeat(np.asarray(base, dtype=np.float64)[:, None], len(Z), axis=1)
    for g, (name, sign) in enumerate(model._covariate_links):
        j = model._param_names.index(name)
        P[j] = base[j] * np.exp(sign * (Z @ coef[g]))
    return P


def coefficient_labels(model, names) -> list[str]:
    return [f"{group}:{n}" for group in model._covariate_groups for n in names]


def fit_with_covariates(model, columns: dict, w, design: CovariateDesign):
    """Fit ``model`` (BetaGeo, ParetoNBD or GammaGamma) with covariates; sets params_, coef_, log_likelihood_ etc.

    ``columns``: the model's data columns, in the order of its plain ``fit``
    and keyed by the names its ``_loglik`` reads (``{"x", "tx", "T"}`` for the
    transaction models, ``{"x", "m"}`` for the Gamma-Gamma), each a float
    array of shape ``(n,)`` already checked, aligned with ``design.Z_`` and
    ``w`` (customers per row). The plain fit on the same columns
    (``plain.fit(*columns.values(), weights=w)``) is the start.
    """
    name = type(model).__name__
    plain = copy.deepcopy(model)
    for attr in ("covariates_", "coef_"):
        plain.__dict__.pop(attr, None)
    with warnings.catch_warnings():
        # the start (and a check that the plain model is identified); a limit it reaches is reported by
        # the covariate fit's own identification check below, once
        warnings.simplefilter("ignore", IdentificationWarning)
        plain.fit(*columns.values(), weights=w)
    Z = design.Z_
    p = Z.shape[1]
    k = len(model._param_names)
    L = len(model._covariate_links)
    cols = dict(columns)
    cols.update({f"z{j}": Z[:, j] for j in range(p)})
    data, counts = compress(cols, w)
    Zu = np.column_stack([data[f"z{j}"] for j in range(p)])
    rows = {c: data[c] for c in columns}
    n = float(counts.sum())
    pen = float(model.penalizer or 0.0)

    def unpack(theta):
        return np.exp(theta[:k]), theta[k:].reshape(L, p)

    def total(theta, with_grad=True):
        base, coef = unpack(theta)
        P = per_customer_params(model, base, coef, Zu)
        with np.errstate(all="ignore"):
            ll, grad = model._loglik(P, rows)
            if grad is None and with_grad:
                # per-row central differences in each natural parameter (2k evaluations, however many
                # covariates), then the chain rule below as for an analytic gradient
                grad = np.empty_like(P)
                for j in range(k):
                    h = 1e-6 * P[j]
                    Pp, Pm = P.copy(), P.copy()
                    Pp[j] += h
                    Pm[j] -= h
                    grad[j] = (model._loglik(Pp, rows)[0] - model._loglik(Pm, rows)[0]) / (2 * h)
        return float(np.add.reduce(counts * ll)), P, grad

    def fun(theta):
        tot, P, grad = total(theta)
        f = -tot / n + pen * float(np.sum(theta * theta))
        if not np.isfinite(f):
            return 1e300, np.zeros(len(theta))
        G = grad * P * counts  # weighted per-row gradient w.r.t. each log parameter
        g = np.empty(len(theta))
        g[:k] = G.sum(axis=1)
        for gi, (pname, sign) in enumerate(model._covariate_links):
            g[k + gi * p:k + (gi + 1) * p] = sign * (Zu.T @ G[model._param_names.index(pname)])
        g = -g / n + 2 * pen * theta
        if not np.isfinite(g).all():
            return 1e300, np.zeros(len(theta))
        return f, g

    theta0 = np.concatenate([plain._log_params, np.zeros(L * p)])
    hint = (f"{untried_penalty_hint(name)}; or use fewer or rescaled covariates (e.g. standardised), or more data")
    with single_threaded_blas():
        res = minimise_with_coefficients(fun, theta0, k, f"{name}.fit with covariates", hint)
    theta = res.x
    base, coef = unpack(theta)
    labels = coefficient_labels(model, design.names_)
    # observed information of the full vector (log baseline parameters, coefficients), checked as every fit
    m = len(theta)
    hess = np.empty((m, m))
    steps = 1e-4 * np.maximum(1.0, np.abs(theta))
    with single_threaded_blas():
        for i in range(m):
            e = np.zeros(m)
            e[i] = steps[i]
            hess[i] = (fun(theta + e)[1] - fun(theta - e)[1]) / (2 * steps[i])
        hess = 0.5 * (hess + hess.T) * n
        names = list(model._param_names) + labels
        limit = tuple(model._limit_params) + tuple(lab for lab in labels if lab.startswith("dropout"))
        # a parameter beyond 1e-8 / 1e8 (a coefficient beyond +-49) is a usable limit or a ConvergenceError:
        # check_identification decides after its flatness check (not before: see its docstring)
        ran_off = tuple(lab for lab, v in zip(names, theta)
                        if abs(v) > (RUNAWAY if lab in model._param_names else 49.0))
        cov, unidentified = check_identification(f"{name}.fit with covariates", names, theta, hess,
                                                 lambda v: fun(v)[0] * n, n, limit, model._limit_note, hint,
                                                 ran_off)
    model.params_ = {kname: float(v) for kname, v in zip(model._param_names, base)}
    model.coef_ = pd.Series(coef.reshape(-1), index=pd.Index(labels, name="coefficient"), name="estimate")
    model.covariates_ = design
    model.log_likelihood_ = float(total(theta, with_grad=False)[0])
    model.n_customers_ = n
    model.n_rows_ = int(len(counts))
    model.n_iter_ = int(res.nit)
    if hasattr(plain, "T_range_"):
        model.T_range_ = plain.T_range_
    model._log_params = theta[:k]
    model._theta = theta
    model.unidentified_ = unidentified
    model._cov_full = cov
    model._cov_cache = cov[:k, :k]
    model._fit_data = None
    return model
