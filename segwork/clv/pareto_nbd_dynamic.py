"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Naef 2021; CLVTools' ``pnbd`` with dynamic covariates).

The story, for a student: as in the Pareto/NBD, a customer buys at random
times while alive and leaves at a random moment; here the purchase rate and
the dropout rate move with the customer's circumstances week by week. An open
complaint can multiply the dropout rate by 4 while it is open, a marketing
contact can raise the purchase rate in the week it happens, the season can do
both. Each driver has a multiplier ``exp(coef)`` on one process: the
model separates "buys less" from "leaves sooner", and tells how much each
driver does to each.

``lambda_i(t) = lambda_i exp(b' x_i(t))``, ``mu_i(t) = mu_i exp(g' z_i(t))``,
``lambda_i ~ Gamma(r, alpha)``, ``mu_i ~ Gamma(s, beta)``; covariates
piecewise constant on a calendar grid of one time unit (the long table's
conventions: :mod:`segwork.clv.dynamic_covariates`); static covariates are a
special case (constant columns) and give the static-covariate Pareto/NBD of
:mod:`segwork.clv.covariates` exactly (``alpha_i = alpha exp(-b'x)``, tested).
Likelihood and its evaluation: :mod:`segwork.clv.dynamic_likelihood`.

Fitting: maximum likelihood by L-BFGS-B on ``(log r, log alpha, log s,
log beta, coefficients)`` with the analytic gradient, started from the plain
Pareto/NBD's fit with every coefficient 0 (so the fit's log-likelihood is never
below the plain model's); standard errors from the observed information
(central differences of the gradient), identification checked as every segwork
fit (:func:`segwork.clv.base.check_identification`); Wald 95 % intervals.

Predictions given a future covariate path (the long table extended past
observation_end): P(alive) at observation_end; CLVTools' CET (conditional
expected transactions in a horizon) and DECT (the same, discounted
continuously). Given the history, ``lambda ~ Gamma(r + x, alpha + A(T))`` and,
given alive, ``mu ~ Gamma(s, beta + B(T))``, so
``E[X(T, T+h)] = P(alive) (r + x) / (alpha + A(T)) int_T^{T+h} a(t) ((beta + B(T)) / (beta + B(t)))^s dt``
(Bachmann et al. 2021; CLVTools' ``pnbd_dyncov_CET``; closed form per piece), and DECT puts
``exp(-delta (t - T))`` inside the integral (Gauss-Legendre per piece).
"""
from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import check_fitted, check_number
from ..errors import ConvergenceError, DataError, IdentificationWarning
from .base import LOG_BOUND, RUNAWAY, check_identification, single_threaded_blas
from .optimise import minimise_with_coefficients, newton_from_warm_start
from .dynamic_covariates import build_design, future_pieces
from .dynamic_likelihood import evaluate, legendre_01, make_geometry, mean_objective
from .pareto_nbd import ParetoNBD

__all__ = ["TimeVaryingParetoNBD"]

_Z95 = 1.959963984540054
_PARAMS = ("r", "alpha", "s", "beta")
#: The quadrature is accepted when twice the nodes change no customer's log-likelihood by more than this;
#: otherwise the fit doubles the nodes per period and goes on from its optimum, up to _MAX_NODES. Doubling
#: stops early at the floating-point floor: when twice the nodes no longer halve the change, the change is
#: rounding (seen: ~4e-10 at s, beta -> infinity, the same for 12 to 192 nodes), not quadrature error, and
#: the fit accepts it if it is below _QUAD_FLOOR_TOL (a likelihood ratio of 1 + 1e-7: far below what moves
#: an estimate or a standard error), else raises ConvergenceError.
_QUAD_TOL = 1e-10
_QUAD_FLOOR_TOL = 1e-7
_MAX_NODES = 64


class TimeVaryingParetoNBD(BaseEstimator):
    """Pareto/NBD with time-varying (and static) covariates on both processes.

    Parameters
    ----------
    penalizer: L2 penalty on ``(log r, log alpha, log s, log beta, coefficients)`` added to the mean
        negative log-likelihood per customer (as :mod:`segwork.clv.covariates`); 0 = maximum likelihood.
    n_nodes: Gauss-Legendre nodes per covariate period for the fit's integral; at the optimum the fit
        compares it with twice the nodes and doubles them while a customer's log-likelihood moves by more
        than 1e-10, or until the change stops shrinking (rounding, accepted below 1e-7) (``n_nodes_``: the
        nodes of the reported values).

    Attributes (after ``fit``)
    --------------------------
    params_: dict ``r``, ``alpha``, ``s``, ``beta`` (rates per time unit) of a customer whose covariates
        are all 0 (the reference levels).
    coef_: Series of coefficients, index ``"purchase:<name>"`` / ``"dropout:<name>"`` (``<name>`` the
        design column: a numeric column's name, or ``column[level]`` for a categorical level).
    log_likelihood_: total log-likelihood, comparable with CLVTools' ``logLik`` (agrees with it to 1e-9 on
        CLVTools' apparel data at CLVTools' estimates; tested).
    fit_seconds_: wall time of ``fit``; n_customers_; n_nodes_; quadrature_error_ (largest change of a
        customer's log-likelihood from n_nodes_ / 2 to n_nodes_ nodes at the optimum); fixed_ (held
        coefficients); unidentified_ (names without standard errors, see
        :func:`segwork.clv.base.check_identification`); n_iter_.
    """

    def __init__(self, penalizer: float = 0.0, n_nodes: int = 6):
        self.penalizer = penalizer
        self.n_nodes = n_nodes

    # ----------------------------------------------------------------- fit
    def fit(self, transactions, covariates, *, observation_end, purchase_covariates=(), dropout_covariates=(),
            static_covariates=None, time_unit: str = "weeks", fixed=None):
        """Fit by maximum likelihood.

        Parameters
        ----------
        transactions: DataFrame with ``customer_id`` and ``date`` (through segwork's gate, as
            :func:`segwork.features.rfm_summary` takes it); one purchase per customer and day.
        covariates: the long table ``customer_id``, ``period_start`` and covariate columns, one row per
            customer and period from the period of the first purchase through the one containing
            ``observation_end`` (see :mod:`segwork.clv.dynamic_covariates` for the conventions and checks).
        observation_end: last day observed (inclusive); later transactions are ignored.
        purchase_covariates, dropout_covariates: columns of ``covariates`` acting on each process.
        static_covariates: optional DataFrame indexed by customer_id, one row per customer, acting on
            both processes (categorical columns one-hot encoded, first level the reference).
        time_unit: ``"weeks"`` (7-day periods) or ``"days"``; the rates and ``alpha``, ``beta`` are per it.
        fixed: optional ``{"dropout:open_complaint": 0.0, ...}``: coefficients held at these values
            (e.g. for a likelihood-ratio test of "no effect" against the full fit).

        Returns self. Raises DataError (inputs; see :func:`segwork.clv.dynamic_covariates.build_design`;
        an unknown name in ``fixed``; fewer than 2 customers or no repeat purchase) and ConvergenceError
        (the optimiser fails, or the likelihood is flat along a direction that is not a usable limit).
        """
        t0 = time.perf_counter()
        where = f"{type(self).__name__}.fit"
        for attr in [k for k in vars(self) if k.endswith("_")]:
            delattr(self, attr)
        n_iter = 0
        design, table = build_design(where, transactions, covariates, observation_end=observation_end,
                                     purchase_covariates=purchase_covariates, dropout_covariates=dropout_covariates,
                                     static_covariates=static_covariates, time_unit=time_unit)
        x, tx, T = design.x, design.tx, design.T
        if len(x) < 2:
            raise DataError(f"{where}: needs at least 2 customers, got {len(x)}")
        if not (x > 0).any():
            raise DataError(f"{where}: no customer made a repeat purchase before observation_end; purchase rates "
                            "and dropout cannot be estimated: use a longer observation period")
        labels = ([f"purchase:{n}" for n in design.purchase_names] + [f"dropout:{n}" for n in design.dropout_names])
        fixed = dict(fixed or {})
        unknown = [k for k in fixed if k not in labels]
        if unknown:
            raise DataError(f"{where}: fixed names {unknown} are not coefficients of this fit; its coefficients are "
                            f"{labels}")
        try:
            fixed = {k: float(v) for k, v in fixed.items()}
        except (TypeError, ValueError):
            raise DataError(f"{where}: fixed values must be numbers, got {fixed!r}") from None
        if not all(np.isfinite(v) for v in fixed.values()):
            raise DataError(f"{where}: fixed values must be finite numbers, got {fixed!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IdentificationWarning)
            plain = ParetoNBD(penalizer=self.penalizer).fit(x, tx, T)
        m = 4 + len(labels)
        full = np.zeros(m)
        full[:4] = np.log([plain.params_[p] for p in _PARAMS])
        free = np.ones(m, dtype=bool)
        for k, v in fixed.items():
            full[4 + labels.index(k)] = v
            free[4 + labels.index(k)] = False
        n_nodes = int(self.n_nodes)
        n = float(len(x))
        pen = float(self.penalizer or 0.0)
        hint = (f"try {type(self).__name__}(penalizer=0.001) (or larger) to keep the parameters finite, or fewer or "
                "rescaled covariates, or more data")
        err = np.inf
        with single_threaded_blas():
            while True:
                geo = make_geometry(design, n_nodes)
                fun = mean_objective(geo, full, free, n, pen)
                res = minimise_with_coefficients(fun, full[free], 4, where, hint)
                n_iter += int(res.nit)
                theta = res.x
                full_hat = full.copy()
                full_hat[free] = theta
                # the quadrature checked at the optimum against twice the nodes, customer by customer
                finer = make_geometry(design, 2 * n_nodes)
                state = evaluate(full_hat, finer, want_grad=False, want_customers=True)[2]
                coarse = evaluate(full_hat, geo, want_grad=False, want_customers=True)[2]
                err_before, err = err, float(np.max(np.abs(state["ll"] - coarse["ll"])))
                at_floor = err > 0.5 * err_before  # twice the nodes no longer halve the change: rounding
                if err <= _QUAD_TOL or at_floor or 2 * n_nodes >= _MAX_NODES:
                    break
                n_nodes *= 2
                full = full_hat
            if err > (_QUAD_FLOOR_TOL if at_floor else _QUAD_TOL):
                raise ConvergenceError(
                    f"{where}: the integral's quadrature with {n_nodes} and {2 * n_nodes} nodes per period differs by "
                    f"{err:.3g} in a customer's log-likelihood (extreme parameters: very small alpha or beta in the "
                    f"time unit); {hint}")
            names = list(_PARAMS) + [lab for lab, f in zip(labels, free[4:]) if f]
            hess = self._hessian(fun, theta, n)
            ran_off = tuple(nm for nm, v in zip(names, theta) if abs(v) > (RUNAWAY if nm in _PARAMS else 49.0))
            limit = ("s", "beta") + tuple(nm for nm in names if nm.startswith("dropout:"))
            cov, unidentified = check_identification(
                where, names, theta, hess, lambda v: fun(v)[0] * n, n, limit,
                "a limit of the dropout process (nobody leaves: s -> 0 or beta -> infinity; or nobody leaves while a "
                "covariate is on: its dropout coefficient -> -infinity)", hint, ran_off)
        self.params_ = {p: float(v) for p, v in zip(_PARAMS, np.exp(full_hat[:4]))}
        self.coef_ = pd.Series(full_hat[4:], index=pd.Index(labels, name="coefficient"), name="coef")
        self.fixed_ = fixed
        self.quadrature_error_ = err
        self.n_customers_ = int(n)
        self.n_iter_ = n_iter
        self.unidentified_ = unidentified
        self._names_free = names
        self._cov_free = cov
        self._hold(design, table)
        self._set_state(full_hat, state)
        self.n_nodes_ = 2 * n_nodes
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _hold(self, design, table):
        """Keep the customers' design and the long table's rows a prediction may use: from the period containing
        observation_end on (fit and with_data)."""
        self._design = design
        origin, length, _ = design.grid
        first_future = origin + ((design.end_day - origin) // length) * length
        self._future_table = table.frame[table.frame["period_start"] >= pd.Timestamp(np.datetime64(first_future, "D"))]

    def _set_state(self, full, state):
        self._theta = full
        self._ll_customers = state["ll"]
        self._log_alive = state["log_alive"]
        self._A_T, self._B_T = state["A_T"], state["B_T"]
        self.log_likelihood_ = float(np.sum(state["ll"]))

    @staticmethod
    def _hessian(fun, theta, n):
        k = len(theta)
        hess = np.empty((k, k))
        steps = 1e-4 * np.maximum(1.0, np.abs(theta))
        for i in range(k):
            e = np.zeros(k)
            e[i] = steps[i]
            hess[i] = (fun(theta + e)[1] - fun(theta - e)[1]) / (2 * steps[i])
        return 0.5 * (hess + hess.T) * n

    # ----------------------------------------------------------------- results
    def _check(self):
        check_fitted(self, "params_", "fit(transactions, covariates, observation_end=...)")

    def summary(self) -> pd.DataFrame:
        """The coefficients: index ``"purchase:<name>"`` / ``"dropout:<name>"``; columns ``coef``, ``se`` (from
        the observed information), ``multiplier`` (``exp(coef)``: the factor on the purchase rate or on the
        dropout rate while the covariate is 1, or per unit), ``lower_95``, ``upper_95`` (Wald 95 % confidence
        interval of the multiplier, ``exp(coef -+ 1.96 se)``). A held coefficient (``fixed``) has NaN se
        and interval."""
        self._check()
        se = pd.Series(np.nan, index=self.coef_.index)
        with np.errstate(invalid="ignore"):
            diag = np.sqrt(np.diag(self._cov_free))
        for nm, v in zip(self._names_free[4:], diag[4:]):
            se[nm] = np.nan if nm in self.unidentified_ else v
        coef = self.coef_
        return pd.DataFrame({"coef": coef, "se": se, "multiplier": np.exp(coef),
                             "lower_95": np.exp(coef - _Z95 * se), "upper_95": np.exp(coef + _Z95 * se)},
                            index=coef.index)

    def params_summary(self) -> pd.DataFrame:
        """``r``, ``alpha``, ``s``, ``beta``: ``estimate``, ``se`` (delta method from the log scale) and the Wald
        95 % interval computed on the log scale (``lower_95``, ``upper_95``)."""
        self._check()
        logp = self._theta[:4]
        with np.errstate(invalid="ignore"):
            se_log = np.sqrt(np.diag(self._cov_free)[:4])
        se_log = np.where(np.isin(_PARAMS, self.unidentified_), np.nan, se_log)
        est = np.exp(logp)
        return pd.DataFrame({"estimate": est, "se": est * se_log, "lower_95": np.exp(logp - _Z95 * se_log),
                             "upper_95": np.exp(logp + _Z95 * se_log)}, index=pd.Index(_PARAMS, name="parameter"))

    @property
    def covariance_(self) -> pd.DataFrame:
        """Covariance of the estimated vector (log r, log alpha, log s, log beta, free coefficients)."""
        self._check()
        names = [f"log_{p}" for p in _PARAMS] + self._names_free[4:]
        return pd.DataFrame(self._cov_free, index=names, columns=names)

    def with_parameters(self, params: dict, coef, *, standard_errors: bool = False) -> "TimeVaryingParetoNBD":
        """A copy of this fitted model at other parameters, on the same data: ``log_likelihood_``, the
        predictions and ``summary()`` at ``params`` (``r``, ``alpha``, ``s``, ``beta``) and ``coef`` (a mapping
        or Series with every name of ``coef_``; held coefficients stay held). For what-if analyses and to
        compare with a fit made elsewhere (e.g. CLVTools' estimates). ``standard_errors=True`` computes the
        observed information there (the inverse Hessian of the negative log-likelihood at these parameters,
        which need not be an optimum); otherwise standard errors are NaN. DataError for a missing or unknown
        name."""
        self._check()
        coef = pd.Series(coef, dtype=float)
        missing = [k for k in self.coef_.index if k not in coef.index]
        extra = [k for k in coef.index if k not in self.coef_.index]
        if missing or extra or any(p not in params for p in _PARAMS):
            raise DataError(f"{type(self).__name__}.with_parameters: give r, alpha, s, beta and exactly the "
                            f"coefficients {list(self.coef_.index)} (missing {missing}, unknown {extra})")
        out = copy.copy(self)
        full = np.r_[np.log([float(params[p]) for p in _PARAMS]), coef[self.coef_.index].to_numpy()]
        out.params_ = {p: float(params[p]) for p in _PARAMS}
        out.coef_ = pd.Series(full[4:], index=self.coef_.index, name="coef")
        geo = make_geometry(self._design, self.n_nodes_)
        out._set_state(full, evaluate(full, geo, want_grad=False, want_customers=True)[2])
        out._cov_free = np.full_like(self._cov_free, np.nan)
        out.unidentified_ = ()
        if standard_errors:
            free = np.r_[np.ones(4, bool), [k not in self.fixed_ for k in self.coef_.index]]
            fun = mean_objective(geo, full, free, float(self.n_customers_), float(self.penalizer or 0.0))
            with single_threaded_blas(), np.errstate(all="ignore"):
                hess = self._hessian(fun, full[free], float(self.n_customers_))
                try:
                    out._cov_free = np.linalg.inv(hess)
                except np.linalg.LinAlgError:
                    pass
        return out

    def restricted_log_likelihood(self, fixed: dict) -> float:
        """The maximum log-likelihood with the coefficients of ``fixed`` (``{"dropout:open_complaint": 0.0}``)
        held and every other parameter free, warm-started from this fit: the restricted maximum of the
        likelihood-ratio test ``2 (log_likelihood_ - restricted)`` (Wilks) without a whole refit.

        The objective of :meth:`fit` (the data the model holds, its penalizer and quadrature ``n_nodes_``),
        started at the restricted maximum of the fit's quadratic approximation (``theta - Sigma[:, K]
        Sigma[K, K]^-1 (theta_K - fixed)``, ``Sigma`` = :attr:`covariance_`), then minimised by
        :func:`segwork.clv.optimise.newton_from_warm_start` with the fit's observed information (the inverse of
        ``Sigma`` without rows and columns ``K``) as Hessian: to a largest gradient of the mean log-likelihood
        below 1e-7, an error far below 1e-3 at any data size segwork fits. A non-finite ``Sigma`` (a parameter
        at a limit): L-BFGS-B from the fit's maximum with the held values. Agrees with ``fit(...,
        fixed=fixed).log_likelihood_`` to the optimisers' tolerance (tests/act/test_defection.py).

        Returns the total log-likelihood there (float, as ``log_likelihood_``). Raises DataError for a name that
        is not a free coefficient (or a fit with held coefficients) or a value that is not a finite number;
        ConvergenceError when the largest gradient of the mean log-likelihood stays above 1e-4.
        """
        self._check()
        where = f"{type(self).__name__}.restricted_log_likelihood"
        names = list(self.coef_.index)
        unknown = [k for k in fixed if k not in names]
        if unknown or self.fixed_ or not fixed:
            raise DataError(f"{where}: {unknown or list(self.fixed_) or 'nothing'} are not free coefficients of the "
                            f"fit; give at least one of its coefficients {names} (of a fit without fixed=)")
        try:
            values = np.array([float(v) for v in fixed.values()])
        except (TypeError, ValueError):
            values = np.array([np.nan])
        if not np.isfinite(values).all():
            raise DataError(f"{where}: the held values must be finite numbers, got {fixed!r}")
        full = self._theta
        held = np.array([4 + names.index(k) for k in fixed])
        free = np.ones(len(full), dtype=bool)
        free[held] = False
        n = float(self.n_customers_)
        pen = float(self.penalizer or 0.0)
        cov = self._cov_free
        info = np.linalg.inv(cov) if np.isfinite(cov).all() else None  # observed information (total LL)
        start = full.copy()
        if info is not None:
            start = full - cov[:, held] @ np.linalg.solve(cov[np.ix_(held, held)], full[held] - values)
        start[held] = values
        bounds = np.array([(-LOG_BOUND, LOG_BOUND)] * 4 + [(-50.0, 50.0)] * len(names))
        start = np.clip(start, bounds[:, 0], bounds[:, 1])
        geo = make_geometry(self._design, self.n_nodes_)
        fun = mean_objective(geo, start, free, n, pen)
        hess = None if info is None else info[np.ix_(free, free)] / n + 2 * pen * np.eye(int(free.sum()))
        with single_threaded_blas():
            theta, f, g = newton_from_warm_start(fun, start[free], hess, bounds[free])
        gnorm = float(np.max(np.abs(g)))
        if not np.isfinite(f) or f >= 1e299 or gnorm > 1e-4:
            raise ConvergenceError(f"{where}: the maximum with {list(fixed)} held did not converge (largest gradient "
                                   f"{gnorm:.2g}); fit(..., fixed=...) finds it from the plain Pareto/NBD and says why")
        start[free] = theta
        return float(evaluate(start, geo, want_grad=False)[0])

    def with_data(self, transactions, covariates, *, observation_end) -> "TimeVaryingParetoNBD":
        """A copy of this fitted model at its parameters on other customers' histories: new customers, or the
        same ones at another ``observation_end``. Its ``p_alive``, ``expected_purchases``,
        ``discounted_expected_purchases`` and ``log_likelihood_customers`` are those of the given customers,
        ``summary`` and ``params_`` stay the fit's (nothing is refitted; ``log_likelihood_`` is the given
        customers' total).

        ``transactions`` and ``covariates`` as for :meth:`fit`, with the fit's covariate columns; the table's
        periods lie on the fit's grid (period starts a whole number of periods after the fit's first one) and
        its categories are encoded as at fit (a level the fit did not see is a DataError). A customer's numbers
        do not depend on the other customers given: a fitted customer given again with the same data gets
        the fit's numbers. The copy holds only the given customers' data (it pickles small: a model folder
        keeps ``with_data`` of one customer, and calls ``with_data`` on it for new ones). Raises DataError as
        :func:`segwork.clv.dynamic_covariates.build_design`.
        """
        self._check()
        where = f"{type(self).__name__}.with_data"
        fitted = self._design
        purchase_cols = fitted.encoders["purchase"][0]
        dropout_cols = fitted.encoders["dropout"][0]
        static = fitted.encoders["static"]
        if static is not None:  # pragma: no cover - static_covariates= fits: give them in the long table instead
            raise DataError(f"{where}: a model fitted with static_covariates= needs them again; put the static "
                            "columns in the long table (constant over a customer's periods) and fit with those")
        # the fit's encoders without the fit's design matrix (Z_, one row per piece of every fitted customer):
        # transform does not read it, and without it the copy pickles small (a model folder keeps it)
        encoders = {}
        for side in ("purchase", "dropout"):
            cols, enc = fitted.encoders[side]
            if enc is not None:
                enc = copy.copy(enc)
                enc.Z_ = None
            encoders[side] = (cols, enc)
        encoders["static"] = None
        design, table = build_design(where, transactions, covariates, observation_end=observation_end,
                                     purchase_covariates=purchase_cols, dropout_covariates=dropout_cols,
                                     time_unit=fitted.grid[2] + "s", encoders=encoders, origin=fitted.grid[0])
        out = copy.copy(self)
        out._hold(design, table)
        geo = make_geometry(design, self.n_nodes_)
        out._set_state(self._theta, evaluate(self._theta, geo, want_grad=False, want_customers=True)[2])
        return out

    # ----------------------------------------------------------------- predictions
    def p_alive(self) -> pd.Series:
        """P(alive) at observation_end of each fitted customer (index customer_id): ``E1 / (E1 + E2)`` of the
        likelihood (closed form; CLVTools' ``PAlive``)."""
        self._check()
        return pd.Series(np.exp(self._log_alive), index=self._design.customers, name="p_alive")

    def log_likelihood_customers(self) -> pd.Series:
        """Each fitted customer's log-likelihood (index customer_id); they sum to ``log_likelihood_``."""
        self._check()
        return pd.Series(self._ll_customers, index=self._design.customers, name="log_likelihood")

    def _future(self, where, horizon, covariates):
        h = check_number(where, "horizon", horizon, low=0, unit="time units")
        table = self._future_table if covariates is None else covariates
        fut = future_pieces(where, self._design, table, h)
        b = self.coef_.to_numpy()[:fut.X.shape[1]]
        g = self.coef_.to_numpy()[fut.X.shape[1]:]
        a = np.exp(fut.X @ b)
        c = np.exp(fut.Z @ g)
        r, alpha, s, beta = (self.params_[p] for p in _PARAMS)
        K_T = beta + self._B_T
        lc = c * fut.length
        cum = np.cumsum(lc)
        before = cum - lc
        K_lo = K_T[fut.cust] + before - before[fut.offsets[:-1]][fut.cust]
        scale = np.exp(self._log_alive) * (r + self._design.x) / (alpha + self._A_T)
        return fut, a, c, K_T, K_lo, scale, s

    def expected_purchases(self, horizon: float, covariates=None) -> pd.Series:
        """CET: expected repeat purchases of each fitted customer in ``(T, T + horizon]`` (time units after
        observation_end), given the future covariate path; index customer_id.

        ``covariates``: the long table holding each customer's periods from the one containing
        observation_end through the one containing the end of the horizon (default: the table given to
        ``fit``, which must then extend that far). Per piece ``[lo, lo + l]`` with multipliers ``a``, ``c``
        and ``K = beta + B(lo)``: ``a ((beta + B(T)) / K)^s K expm1((1 - s) log1p(c l / K)) / (c (1 - s))``
        (its limit at ``s = 1``). DataError when a future period is missing (naming customer and period)
        or the horizon is negative.
        """
        self._check()
        fut, a, c, K_T, K_lo, scale, s = self._future(f"{type(self).__name__}.expected_purchases", horizon,
                                                      covariates)
        with np.errstate(divide="ignore", invalid="ignore"):
            l1p = np.log1p(c * fut.length / K_lo)
            y = (1.0 - s) * l1p
            ratio = np.where(np.abs(y) < 1e-12, 1.0 + y / 2.0, np.expm1(y) / np.where(y == 0, 1.0, y))
            piece = a * np.exp(s * (np.log(K_T[fut.cust]) - np.log(K_lo))) * K_lo / c * l1p * ratio
        piece = np.where(fut.length > 0, piece, 0.0)
        total = np.bincount(fut.cust, weights=piece, minlength=len(scale))
        return pd.Series(scale * total, index=self._design.customers, name="expected_purchases")

    def discounted_expected_purchases(self, horizon: float, discount_rate: float, covariates=None) -> pd.Series:
        """DECT: expected repeat purchases in ``(T, T + horizon]``, each discounted by ``exp(-discount_rate
        (t - T))`` (a continuous discount rate per time unit: CLVTools' ``continuous.discount.factor``, whose
        default is ``log(1 + 0.1)`` per time unit); index customer_id. The integral per piece by
        Gauss-Legendre (16 nodes: the integrand is smooth on a period); otherwise as
        :meth:`expected_purchases`. ``discount_rate=0`` gives CET. Equal to CLVTools' DECT on its apparel data
        to 1e-10 (tested)."""
        self._check()
        where = f"{type(self).__name__}.discounted_expected_purchases"
        delta = check_number(where, "discount_rate", discount_rate, low=0, unit="per time unit")
        fut, a, c, K_T, K_lo, scale, s = self._future(where, horizon, covariates)
        t, w = legendre_01(16)
        u = fut.length[:, None] * t[None, :]
        vals = np.exp(-delta * (fut.lo[:, None] + u)) * (K_T[fut.cust][:, None] / (K_lo[:, None] + c[:, None] * u)) ** s
        piece = a * fut.length * (vals @ w)
        total = np.bincount(fut.cust, weights=piece, minlength=len(scale))
        return pd.Series(scale * total, index=self._design.customers, name="discounted_expected_purchases")
