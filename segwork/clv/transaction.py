"""The shared part of the continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD).

All three describe a customer by ``(frequency, recency, T)`` from
:func:`segwork.features.rfm_summary`:

* ``frequency`` (x): number of repeat purchases (purchase days after the first);
* ``recency`` (t_x): time from the first to the last purchase;
* ``T``: time from the first purchase to the end of the calibration period;

``recency`` and ``T`` in one time unit (e.g. weeks); every rate, time and
prediction of a fitted model is in that unit.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd

from .._checks import check_level, renamed_keywords
from ..errors import DataError
from .intervals import check_kind, check_kind_without_interval
from .base import (BaseModel, row_label, broadcast_columns, broadcast_history, check_columns, check_horizon,
                   check_integer, compress, dot, wrap_like)

__all__ = ["TransactionModel", "check_history", "check_history_in_days", "check_day_limits", "MAX_HISTORY_DAYS",
           "MAX_SPEND"]

#: The longest recency or T a history may have, in days (100 years).
MAX_HISTORY_DAYS = 36_525
#: The largest mean spend per purchase (``monetary_value``) a history may have, in the data's currency.
MAX_SPEND = 1e9


def check_history(where: str, frequency, recency, T, weights=None, broadcast: bool = False):
    """The one check of ``(frequency, recency, T)`` histories, used by ``fit`` and by every prediction.

    Refuses (:class:`~segwork.errors.DataError`, naming the first offending
    customer by its index label, or its row, and the fix) what no customer can
    have: missing, infinite or negative values (a negative ``T``), a
    fractional ``frequency``, ``recency > T`` (the usual sign of a unit
    mix-up, e.g. recency in days with T in weeks, or of a different period
    end) and ``recency > 0`` without a repeat purchase.

    ``broadcast=True`` (predictions) first broadcasts the inputs against each
    other (a scalar with a column is allowed). Returns float arrays
    ``(frequency, recency, T, weights, index)``; ``recency`` is clipped to
    ``T`` within a relative tolerance of 1e-9 (rounding); ``index`` is the
    first pandas index among the inputs (or None).
    """
    columns = {"frequency": frequency, "recency": recency, "T": T}
    if broadcast:
        columns = broadcast_columns(where, columns)
        if len(next(iter(columns.values()))) == 0:
            empty = np.zeros(0)
            return empty, empty, empty, empty, None
    arrays, w, index = check_columns(where, columns, weights)
    x, tx, t = arrays["frequency"], arrays["recency"], arrays["T"]
    check_integer(where, "frequency", x, index)
    tol = 1e-9 * np.maximum(t, 1.0)
    late = tx > t + tol
    if late.any():
        pos = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{where}: recency is larger than T for {int(late.sum())} customer(s) (e.g. {row_label(index, pos)}: "
            f"recency={tx[pos]:g}, T={t[pos]:g}); recency (first to last purchase) cannot exceed T (first "
            "purchase to the end of the period): check that both are in the same time unit and computed at "
            "the same period end (segwork.features.rfm_summary does this)"
        )
    odd = (x == 0) & (tx > 0)
    if odd.any():
        pos = int(np.flatnonzero(odd)[0])
        raise DataError(
            f"{where}: {int(odd.sum())} customer(s) have no repeat purchase (frequency 0) but recency > 0 "
            f"(e.g. {row_label(index, pos)}: recency={tx[pos]:g}); recency must be 0 without repeat purchases"
        )
    return x, np.minimum(tx, t), t, w, index


def check_history_in_days(where: str, frequency, recency, T, monetary_value=None, *, unit: str = "days",
                          days_per_unit: float = 1.0):
    """:func:`check_history` plus what no customer can have in days, for histories from outside (requests).

    ``recency`` and ``T`` in days; ``frequency`` counts repeat purchase *days*
    (:func:`segwork.features.rfm_summary`), so it cannot exceed the days from
    the first to the last purchase (``frequency <= recency``, up to rounding:
    ``recency + 1``). ``recency`` and ``T`` at most :data:`MAX_HISTORY_DAYS`
    (36,525 days = 100 years); ``monetary_value`` (optional, the data's
    currency) finite, >= 0 and at most :data:`MAX_SPEND` (1e9).

    Raises DataError naming the field, the first customer (index label) with
    the value, and the limit. Returns what :func:`check_history` returns.

    ``unit`` and ``days_per_unit``: the unit the caller's client sent recency
    and T in (they are given here converted to days); a message then quotes
    the value as sent and in days ("recency=10 weeks (70 days)").
    """
    out = check_history(where, frequency, recency, T)
    check_day_limits(where, out, recency, monetary_value, unit=unit, days_per_unit=days_per_unit)
    return out


def check_day_limits(where: str, checked, recency, monetary_value=None, *, unit: str = "days",
                     days_per_unit: float = 1.0) -> None:
    """The part of :func:`check_history_in_days` after :func:`check_history`: ``checked`` is what
    ``check_history`` returned for the histories (in days), ``recency`` the recency in days as given (before
    its clip to T). For a caller that checked the histories once already (in the unit a client sent them)."""
    x, tx, t, _, index = checked
    raw_tx = np.asarray(recency, dtype=float)

    def shown(name: str, days: float) -> str:
        if unit == "days" or days_per_unit == 1:
            return f"{name}={days:g} days"
        return f"{name}={days / days_per_unit:g} {unit} ({days:g} days)"

    for name, values, limit in (("recency", raw_tx, MAX_HISTORY_DAYS), ("T", t, MAX_HISTORY_DAYS)):
        over = values > limit
        if over.any():
            pos = int(np.flatnonzero(over)[0])
            raise DataError(f"{where}: {shown(name, values[pos])} for {row_label(index, pos)} is over the "
                            f"limit of {limit:,} days (100 years)")
    many = x > raw_tx + 1.0
    if many.any():
        pos = int(np.flatnonzero(many)[0])
        raise DataError(f"{where}: frequency={x[pos]:g} repeat purchase days for {row_label(index, pos)} "
                        f"within {shown('recency', raw_tx[pos])} is not possible: frequency counts the days with a "
                        "purchase after the first, so it is at most the days from the first to the last purchase")
    if monetary_value is not None:
        m = np.asarray(monetary_value, dtype=float)
        bad = ~np.isfinite(m) | (m < 0) | (m > MAX_SPEND)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}: monetary_value={m[pos]:g} for {row_label(index, pos)} must be a "
                            f"finite mean spend per purchase from 0 to {MAX_SPEND:g} (the data's currency)")


class TransactionModel(BaseModel):
    """Base of the models fitted on ``(frequency, recency, T)``."""

    _fit_signature = "fit(frequency, recency, T)"

    # ----------------------------------------------------------------- fitting
    def _validate(self, frequency, recency, T, weights, with_index: bool = False):
        name = f"{type(self).__name__}.fit"
        x, tx, t, w, index = check_history(name, frequency, recency, T, weights)
        live = w > 0
        if live.all():  # the usual case: no copies of millions of rows
            live = slice(None)
        n_customers = float(w[live].sum())
        if n_customers < 2:
            raise DataError(f"{name}: needs at least 2 customers, got {n_customers:g}; fit on the whole customer base")
        if not (t[live] > 0).any():
            raise DataError(
                f"{name}: T is 0 for every customer (no time observed after the first purchase); "
                "use a period end after the first purchases (calibration_end in rfm_summary)"
            )
        if not (x[live] > 0).any():
            raise DataError(
                f"{name}: no customer made a repeat purchase (frequency is 0 for all {n_customers:g} customers); "
                "purchase rates and dropout cannot be estimated: use a longer calibration period"
            )
        if with_index:
            return x, tx, t, w, index
        return x, tx, t, w

    #: Which parameters covariates act on, with the sign of the exponent (see :mod:`segwork.clv.covariates`);
    #: empty for models without covariate support.
    _covariate_links: tuple[tuple[str, int], ...] = ()
    _covariate_groups: tuple[str, ...] = ()

    def fit(self, frequency, recency, T, weights=None, covariates=None):
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency: repeat purchases per customer (whole numbers >= 0).
        recency: time from first to last purchase (0 without repeat purchases).
        T: time from first purchase to the end of the calibration period.
            ``recency`` and ``T`` in one time unit (e.g. weeks); the fitted
            rates are per that unit.
        weights: optional number of customers per row (e.g. when the rows
            are already unique ``(frequency, recency, T)`` triples).

        Customers with ``T == 0`` (first purchase on the last day) are
        accepted: without repeat purchases they add nothing to the
        likelihood. ``T == 0`` for everybody is a DataError.

        Returns
        -------
        self, with ``params_``, ``log_likelihood_`` (total, in the data's
        units), ``n_customers_``, ``T_range_`` (shortest and longest ``T``
        fitted, used to warn when predictions get histories in another time
        unit) and :meth:`summary`.

        Raises
        ------
        DataError: unusable input (missing or negative values, recency > T,
            no repeat purchases at all, fewer than 2 customers, ...); the
            history checks are :func:`check_history`, which every prediction
            (``p_alive``, ``expected_purchases``, ``customer_lifetime_value``)
            applies too.
        ConvergenceError: the optimiser failed; the message says what to try.

        covariates: optional DataFrame of time-invariant customer covariates
            indexed by customer_id (matched to the index of the inputs when
            they are Series, by position otherwise); among the transaction
            models BG/NBD and Pareto/NBD take them (the spend model,
            ``GammaGamma``, too). Numeric columns are used as they are;
            text, categorical and boolean columns are one-hot encoded
            (scikit-learn's ``OneHotEncoder``, the first level in sorted
            order is the reference). See :mod:`segwork.clv.covariates` for
            the model form; the coefficients are in ``coef_`` and
            :meth:`summary`, and every prediction then needs the customers'
            covariates too. Missing, non-finite or constant covariates and
            unmatched customers are a DataError.
        """
        for attr in ("covariates_", "coef_", "_cov_full", "_theta", "_z_groups", "_fit_data", "fit_method_"):
            self.__dict__.pop(attr, None)
        if covariates is not None:
            if not self._covariate_links:
                raise DataError(f"{type(self).__name__}.fit: covariates are supported by BetaGeo and ParetoNBD only "
                                "among the transaction models (GammaGamma takes them for spend); fit without "
                                "covariates (or per group)")
            from .covariates import CovariateDesign, fit_with_covariates

            x, tx, t, w, index = self._validate(frequency, recency, T, weights, with_index=True)
            design = CovariateDesign(f"{type(self).__name__}.fit", covariates, index, len(x))
            return self._converge(lambda m: fit_with_covariates(m, {"x": x, "tx": tx, "T": t}, w, design))
        x, tx, t, w = self._validate(frequency, recency, T, weights)
        seen = t if (w > 0).all() else t[w > 0]
        self.T_range_ = (float(seen.min()), float(seen.max()))
        self._fit_histories(x, tx, t, w)
        return self

    def _fit_histories(self, x, tx, t, w) -> None:
        """Fit on checked histories (the exact fit on the distinct histories; BetaGeo may start from a sample)."""
        data, counts = compress({"x": x, "tx": tx, "T": t}, w)
        prepared, start = self._prepare(data), self._start(data, counts)
        self._converge(lambda m: m._optimise(prepared, counts, start))

    def _prepare(self, data: dict) -> dict:
        """Hook: add precomputed helpers to the compressed data (default: none)."""
        return data

    def _start(self, data, w) -> np.ndarray:
        """A deterministic start: r = 1 with alpha matching the mean repeat purchase rate; other params 1."""
        rate = dot(w, data["x"]) / max(dot(w, data["T"]), 1e-12)
        alpha = 1.0 / max(rate, 1e-12)
        start = np.ones(len(self._param_names))
        start[self._param_names.index("alpha")] = alpha
        return start

    # ----------------------------------------------------------------- shared predictions
    def _history(self, method: str, frequency, recency, T, t=None):
        """Check a history given to a prediction (the same check as ``fit``) and a horizon ``t``.

        Returns ``(t, x, tx, T)`` as flat float arrays broadcast against each
        other, and the broadcast shape.
        """
        self._check_fitted()
        where = f"{type(self).__name__}.{method}"
        t_, (x, tx, T_), shape = broadcast_history(
            where, {"frequency": frequency, "recency": recency, "T": T},
            lambda: check_history(where, frequency, recency, T, broadcast=True)[:3], t)
        self._warn_other_unit(where, T_)
        return t_, x, tx, T_, shape

    def _warn_other_unit(self, where: str, T) -> None:
        """Warn (never refuse) when the histories look like another time unit than the fitted ones.

        Observation times far beyond any seen in ``fit`` are valid for some
        customers (old customers, a later period end), but when the median
        ``T`` is more than 5 times the longest fitted ``T``, the summary was
        most likely computed in another unit (days for a model fitted in
        weeks: 7 times). Only a warning: such data may be valid.
        """
        fitted = getattr(self, "T_range_", None)
        if fitted is None or len(T) < 2 or fitted[1] <= 0:
            return
        if float(np.median(T)) > 5.0 * fitted[1]:
            warnings.warn(
                f"{where}: most T are more than 5 times the longest T seen in fit ({fitted[1]:g}); the histories "
                "are probably in another time unit than the model (e.g. days for a model fitted in weeks): "
                "compute them in the model's unit", RuntimeWarning, stacklevel=3,
            )

    def _per_customer(self, method, covariates, index, n):
        """Models (copies with per-group parameters) and row groups for predictions with covariates.

        Returns None for a model fitted without covariates (DataError if covariates were passed anyway).
        """
        where = f"{type(self).__name__}.{method}"
        from .covariates import per_customer_params, prediction_matrix

        if getattr(self, "covariates_", None) is None or covariates is None:
            return prediction_matrix(self, where, covariates, index, n)  # None, or the DataError saying why
        cache = getattr(self, "_z_cache", None)  # set by _with_interval while it draws (same inputs every draw)
        if cache is not None and cache[0] is covariates and cache[1] is index and cache[2] == n:
            codes, Zu = cache[3], cache[4]
        else:
            Z = prediction_matrix(self, where, covariates, index, n)
            codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([Z[:, j] for j in range(Z.shape[1])]))
            Zu = np.array([list(u) for u in uniq], dtype=np.float64).reshape(len(uniq), Z.shape[1])
            self._z_groups = (codes, Zu)
        base = np.array([self.params_[k] for k in self._param_names])
        coef = self.coef_.to_numpy().reshape(len(self._covariate_links), -1)
        P = per_customer_params(self, base, coef, Zu)
        groups = []
        for g in range(len(Zu)):
            m = copy.copy(self)
            m.params_ = {k: float(P[j, g]) for j, k in enumerate(self._param_names)}
            groups.append((m, codes == g))
        return groups

    def _apply(self, groups, fn, *arrays):
        """``fn(model, *arrays)`` per covariate group (or once for the plain model)."""
        if groups is None:
            return fn(self, *arrays)
        out = np.empty(len(arrays[0]))
        for m, rows in groups:
            if rows.any():
                out[rows] = fn(m, *(a[rows] for a in arrays))
        return out

    def _index_of(self, *inputs):
        return next((v.index for v in inputs if isinstance(v, pd.Series)), None)

    def _with_interval(self, method, point, call, interval, n_draws, seed, aggregate, name, covariates=None,
                       index_in=None, n_in=None):
        """Point prediction with lower/upper columns from parameter draws (:mod:`segwork.clv.intervals`)."""
        from .intervals import quantile_interval, sampled_models

        where = f"{type(self).__name__}.{method}"
        check_level(where, interval)
        pt = np.asarray(point, dtype=np.float64).reshape(-1)
        samples = np.empty((int(n_draws), pt.size), dtype=np.float64 if pt.size < 10_000 else np.float32)
        if covariates is not None and getattr(self, "_z_groups", None) is not None:
            # the covariate rows were just checked and grouped for the point prediction: reuse them in every draw
            self._z_cache = (covariates, index_in, n_in, *self._z_groups)
        try:
            for i, m in enumerate(sampled_models(self, n_draws, seed)):
                samples[i] = np.asarray(call(m), dtype=np.float64).reshape(-1)
        finally:
            self.__dict__.pop("_z_cache", None)
        if aggregate:
            return quantile_interval(where, [pt.sum()], samples.sum(axis=1, dtype=np.float64)[:, None], interval,
                                     name, index=pd.Index(["total"])).iloc[0]
        index = point.index if isinstance(point, pd.Series) else None
        return quantile_interval(where, pt, samples, interval, name, index=index)

    @renamed_keywords(seed="random_state")
    def expected_purchases(self, t, frequency, recency, T, covariates=None, *, interval=None, kind="confidence",
                           aggregate=False, n_draws=200, random_state=0):
        """Expected repeat purchases in the next ``t`` time units, given a customer's history.

        ``t`` may be a scalar or one value per customer; all in the model's
        time unit. Returns a float, an array or a Series (indexed like the
        input Series).

        ``covariates``: the customers' covariates, required for (and only
        for) a model fitted with covariates.

        ``interval=0.9``: a DataFrame with ``expected_purchases``, ``lower``
        and ``upper``, of the kind ``kind`` (:mod:`segwork.clv.intervals`),
        from ``n_draws`` parameter draws from the MLE's asymptotic
        distribution, seeded by ``random_state`` (old name ``seed``, deprecated):

        * ``kind="confidence"`` (the default, as before): an interval for the
          *expected* purchases (parameter uncertainty only). It says how sure
          the model is of a customer's expectation, not where the customer's
          count will land: a customer buys 0, 1, 2, ... times, and such an
          interval, often narrower than 1, rarely contains a whole number.
        * ``kind="prediction"``: an interval for the purchases the customer
          will *make* in the next ``t`` (parameter uncertainty plus the
          customer's own purchase and dropout noise, by simulation:
          :meth:`simulate_purchases`). ``lower`` and ``upper`` are whole
          numbers; the column ``coverage`` is the share of the simulated
          counts inside ``[lower, upper]`` (at least ``interval`` for a
          discrete count, often more).

        ``aggregate=True`` (with ``interval``): one row (a Series: the point
        value, ``lower``, ``upper``) for the sum over all customers (e.g.
        total holdout purchases; a prediction interval then is for the actual
        total, the confidence interval for the expected total).

        Raises DataError for a history ``fit`` would refuse (see
        :func:`check_history`), a negative ``t``, a bad ``interval`` or
        ``kind``; ConvergenceError (with ``interval``) when the fit has no
        parameter covariance.
        """
        t_, x, tx, T_, shape = self._history("expected_purchases", frequency, recency, T, t)
        index_in = self._index_of(frequency, recency, T)
        groups = self._per_customer("expected_purchases", covariates, index_in, len(x))
        out = self._apply(groups, lambda m, *a: m._conditional_expected(*a), t_, x, tx, T_).reshape(shape)
        out = wrap_like(out, frequency, recency, T, t, name="expected_purchases")
        where = f"{type(self).__name__}.expected_purchases"
        if interval is None:
            check_kind_without_interval(where, kind)
            return out
        if check_kind(where, kind) == "prediction":
            return self._with_prediction(out, t_[None, :], (x, tx, T_), interval, n_draws, random_state, aggregate,
                                         "expected_purchases", covariates, index_in)
        return self._with_interval(
            "expected_purchases", out, lambda m: m.expected_purchases(t, frequency, recency, T, covariates),
            interval, n_draws, random_state, aggregate, "expected_purchases", covariates, index_in, len(x))

    def _with_prediction(self, point, ends, history, interval, n_draws, seed, aggregate, name, covariates, index_in):
        """Point prediction with a prediction interval (:func:`segwork.clv.intervals.outcome_interval`) from one
        simulated future per customer and parameter draw (the last period end of ``ends``)."""
        from .intervals import outcome_interval

        where = f"{type(self).__name__}.{name}"
        check_level(where, interval)
        x, tx, T_ = history
        draws = self._draws_checked(where, ends, x, tx, T_, covariates, index_in, n_draws, seed, None)
        samples = np.array([sim[-1] for sim in draws], dtype=np.float64)
        pt = np.asarray(point, dtype=np.float64).reshape(-1)
        if aggregate:
            return outcome_interval(where, [pt.sum()], samples.sum(axis=1)[:, None], interval, name,
                                    index=pd.Index(["total"]), coverage=False).iloc[0]
        index = point.index if isinstance(point, pd.Series) else None
        return outcome_interval(where, pt, samples, interval, name, index=index)

    def simulate_purchases(self, ends, frequency, recency, T, covariates=None, *, random_state=None) -> np.ndarray:
        """One simulated future per customer: cumulative repeat purchases in ``(T, T + ends_k]``, given the history.

        ``ends``: increasing times after each customer's ``T`` (model's time
        unit), one sequence for everyone (shape ``(K,)``) or one column per
        customer (shape ``(K, n)``, e.g. ``(1, n)`` for per-customer holdout
        lengths). Returns an int64 array ``(K, n)``; the differences along
        axis 0 are the purchases per period.

        The simulation follows the model's own story with this fit's
        parameters, conditional on the history (posterior predictive): the
        customer is alive at ``T`` with probability P(alive); an alive
        customer's purchase rate has the posterior Gamma(r + x, rate alpha + T)
        (Fader, Hardie & Lee 2005, BG/NBD; Schmittlein et al. 1987 and Fader &
        Hardie's 2005 derivation note, Pareto/NBD), independent of the dropout
        process, whose posterior given survival to ``T`` is
        Beta(a, b + x) for the BG/NBD (``b + x + 1`` for the MBG/NBD, who may
        also leave after the first purchase; dropout after each later
        purchase, the one that ends it counted), Gamma(s, rate beta + T) for the
        Pareto/NBD (exponential remaining lifetime) and Gamma(s, rate beta +
        e^(bT) - 1) for the GGom/NBD's eta (Gompertz remaining lifetime).
        Averaged over many simulations the counts match
        :meth:`expected_purchases` (tested). Seeded by ``random_state``.

        Raises DataError for a history ``fit`` would refuse, ``ends`` that
        are not >= 0 and increasing, or a model without a simulation
        (``kind="prediction"`` then is not available).
        """
        where = f"{type(self).__name__}.simulate_purchases"
        x, tx, T_, index, ends = self._simulation_inputs(where, ends, frequency, recency, T)
        hist = self._distinct(x, tx, T_)
        return self._simulate_checked(ends, hist, covariates, index, np.random.default_rng(random_state))

    def simulate_purchase_draws(self, ends, frequency, recency, T, covariates=None, *, n_draws=200, random_state=0,
                                simulation_random_state=None):
        """:meth:`simulate_purchases` once per parameter draw: the draws a prediction interval is made of.

        A generator of ``n_draws`` int64 arrays ``(K, n)``: for each draw of
        the parameters from the fit's asymptotic distribution
        (:func:`segwork.clv.intervals.sampled_models`, seeded by ``random_state``, the
        same draws as the confidence kind's), one simulated future per
        customer. ``simulation_random_state`` seeds the simulation; ``None`` continues
        the generator of ``random_state`` after the parameter draws. The histories are
        checked once. Raises what :meth:`simulate_purchases` raises, and
        ConvergenceError when the fit has no parameter covariance.
        """
        where = f"{type(self).__name__}.simulate_purchase_draws"
        x, tx, T_, index, ends = self._simulation_inputs(where, ends, frequency, recency, T)
        return self._draws_checked(where, ends, x, tx, T_, covariates, index, n_draws, random_state,
                                   simulation_random_state)

    def _simulation_inputs(self, where, ends, frequency, recency, T):
        self._check_fitted()
        x, tx, T_, _, index = check_history(where, frequency, recency, T, broadcast=True)
        ends = np.asarray(ends, dtype=np.float64)
        if ends.ndim == 0:
            ends = ends.reshape(1)
        if ends.ndim == 1:
            ends = ends[:, None]
        if ends.ndim != 2 or ends.shape[0] < 1 or ends.shape[1] not in (1, x.size):
            raise DataError(f"{where}: ends must be a sequence of times (shape (K,)) or one column per customer "
                            f"(shape (K, {x.size})), got shape {np.shape(ends)}")
        if not np.isfinite(ends).all() or (ends < 0).any() or (np.diff(ends, axis=0) < 0).any():
            raise DataError(f"{where}: ends must be finite, >= 0 and increasing (times after each customer's T "
                            "in the model's unit)")
        return x, tx, T_, index, np.broadcast_to(ends, (ends.shape[0], x.size))

    def _draws_checked(self, where, ends, x, tx, T_, covariates, index, n_draws, seed, random_state):
        from .intervals import sampled_models

        rng = np.random.default_rng(seed)  # the parameter draws first (as the confidence kind's), then the futures
        sim_rng = rng if random_state is None else np.random.default_rng(random_state)
        hist = self._distinct(x, tx, T_)
        if covariates is not None and getattr(self, "covariates_", None) is not None:
            self._per_customer(where.split(".")[-1], covariates, index, len(x))  # check and group the rows once
        for m in sampled_models(self, n_draws, rng):
            if covariates is not None and getattr(self, "_z_groups", None) is not None:
                m._z_cache = (covariates, index, len(x), *self._z_groups)
            yield m._simulate_checked(ends, hist, covariates, index, sim_rng)

    @staticmethod
    def _distinct(x, tx, T):
        """The histories with their distinct ``(x, t_x, T)`` rows: ``(x, tx, T, codes, ux, utx, uT)``."""
        codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([x, tx, T]))
        return (x, tx, T, codes, *(np.asarray(uniq.get_level_values(i), dtype=np.float64) for i in range(3)))

    def _simulate_checked(self, ends, hist, covariates, index, rng) -> np.ndarray:
        """:meth:`simulate_purchases` on checked histories (per covariate group when the model has covariates)."""
        x, tx, T, codes, ux, utx, uT = hist
        groups = self._per_customer("simulate_purchases", covariates, index, len(x))
        if groups is None:  # P(alive) depends on the history only: once per distinct (x, t_x, T)
            pa = np.clip(self._p_alive(ux, utx, uT), 0.0, 1.0)[codes]
            return self._sample_future(ends, x, tx, T, pa, rng)
        out = np.zeros(ends.shape, dtype=np.int64)
        for m, rows in groups:
            if rows.any():
                pa = np.clip(m._p_alive(x[rows], tx[rows], T[rows]), 0.0, 1.0)
                out[:, rows] = m._sample_future(ends[:, rows], x[rows], tx[rows], T[rows], pa, rng)
        return out

    def expected_purchases_new(self, t, covariates=None):
        """Expected repeat purchases within ``t`` time units of the first purchase, for a new customer.

        Raises DataError for a negative or non-finite ``t``.
        """
        self._check_fitted()
        t_ = check_horizon(f"{type(self).__name__}.expected_purchases_new", t)
        if covariates is not None or getattr(self, "covariates_", None) is not None:
            if np.ndim(t_) != 0:
                raise DataError(f"{type(self).__name__}.expected_purchases_new: with covariates t must be a scalar "
                                "(one horizon for every covariate row)")
            n = len(covariates) if covariates is not None else 0
            groups = self._per_customer("expected_purchases_new", covariates, None, n)
            out = self._apply(groups, lambda m, tt: m._unconditional_expected(tt), np.full(n, float(t_)))
            return pd.Series(out, index=covariates.index, name="expected_purchases")
        return wrap_like(self._unconditional_expected(t_), t, name="expected_purchases")

    @renamed_keywords(seed="random_state")
    def p_alive(self, frequency, recency, T, covariates=None, *, interval=None, kind="confidence", aggregate=False,
                n_draws=200, random_state=0):
        """Probability that a customer with this history is still alive (has not dropped out) at ``T``.

        ``covariates``, ``interval``, ``aggregate`` (the expected number of
        customers alive), ``n_draws``, ``random_state``: as in :meth:`expected_purchases`.
        ``kind``: ``"confidence"`` only (an interval for the probability,
        from parameter uncertainty): whether a customer is alive is never
        observed, so there is no outcome for a prediction interval to cover.

        Raises DataError for a history ``fit`` would refuse (see
        :func:`check_history`), a bad ``interval``, or ``kind="prediction"``.
        """
        _, x, tx, T_, shape = self._history("p_alive", frequency, recency, T)
        groups = self._per_customer("p_alive", covariates, self._index_of(frequency, recency, T), len(x))
        out = np.clip(self._apply(groups, lambda m, *a: m._p_alive(*a), x, tx, T_), 0.0, 1.0).reshape(shape)
        out = wrap_like(out, frequency, recency, T, name="p_alive")
        if interval is None:
            return out
        check_kind(f"{type(self).__name__}.p_alive", kind, allowed=("confidence",))
        return self._with_interval("p_alive", out, lambda m: m.p_alive(frequency, recency, T, covariates),
                                   interval, n_draws, random_state, aggregate, "p_alive", covariates,
                                   self._index_of(frequency, recency, T), len(x))

    def sample_frequency(self, T, random_state=None) -> np.ndarray:
        """Simulated repeat-purchase counts for customers observed for ``T`` time units each.

        Draws each customer's latent rate and dropout from the fitted
        population distributions. Used for the period-transactions fit.
        """
        self._check_fitted()
        T_ = check_horizon(f"{type(self).__name__}.sample_frequency", T)
        rng = np.random.default_rng(random_state)
        return self._sample_frequency(T_, rng)

    # subclasses
    def _conditional_expected(self, t, x, tx, T):  # pragma: no cover - abstract
        raise NotImplementedError

    def _unconditional_expected(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _p_alive(self, x, tx, T):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_frequency(self, T, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_future(self, ends, x, tx, T, p_alive, rng):
        """Cumulative purchases ``(K, n)`` at ``ends`` (``(K, n)``) of customers alive with ``p_alive`` (see
        :meth:`simulate_purchases`); a model without it offers no prediction interval."""
        raise DataError(f"{type(self).__name__}: no simulation of future purchases is implemented for this model, "
                        "so kind='prediction' is not available; use kind='confidence' (an interval for the "
                        "expected value)")
