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

import numpy as np
import pandas as pd

from ..errors import DataError
from .base import BaseModel, _label, check_columns, check_integer, compress, dot, wrap_like

__all__ = ["TransactionModel", "check_histories"]


def check_histories(where: str, frequency, recency, T, weights=None):
    """The checks every ``fit(frequency, recency, T)`` makes on customer histories, for use before predicting too.

    Numeric, same length, finite, non-negative (:func:`check_columns`);
    ``frequency`` whole numbers; ``recency <= T`` (one time unit, one period
    end); ``recency == 0`` when ``frequency == 0``. Messages name ``where``
    and the first customer at fault (the index label of a Series input).

    Returns ``(frequency, recency, T, weights, index)`` as float arrays
    (``weights`` ones when None) and the index of the first Series input or
    None. Raises DataError.
    """
    arrays, w, index = check_columns(where, {"frequency": frequency, "recency": recency, "T": T}, weights)
    x, tx, t = arrays["frequency"], arrays["recency"], arrays["T"]
    check_integer(where, "frequency", x, index)
    tol = 1e-9 * np.maximum(t, 1.0)
    late = tx > t + tol
    if late.any():
        pos = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{where}: recency is larger than T for {int(late.sum())} customer(s) (e.g. {_label(index, pos)}: "
            f"recency={tx[pos]:g}, T={t[pos]:g}); recency (first to last purchase) cannot exceed T (first "
            "purchase to the end of the period): check that both are in the same time unit and computed at "
            "the same period end (segwork.features.rfm_summary does this)"
        )
    odd = (x == 0) & (tx > 0)
    if odd.any():
        pos = int(np.flatnonzero(odd)[0])
        raise DataError(
            f"{where}: {int(odd.sum())} customer(s) have no repeat purchase (frequency 0) but recency > 0 "
            f"(e.g. {_label(index, pos)}: recency={tx[pos]:g}); recency must be 0 without repeat purchases"
        )
    return x, tx, t, w, index


class TransactionModel(BaseModel):
    """Base of the models fitted on ``(frequency, recency, T)``."""

    _fit_signature = "fit(frequency, recency, T)"

    # ----------------------------------------------------------------- fitting
    def _validate(self, frequency, recency, T, weights):
        name = f"{type(self).__name__}.fit"
        x, tx, t, w, _index = check_histories(name, frequency, recency, T, weights)
        tx = np.minimum(tx, t)
        live = w > 0
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
        return x, tx, t, w

    def fit(self, frequency, recency, T, weights=None):
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
        units), ``n_customers_`` and :meth:`summary`.

        Raises
        ------
        DataError: unusable input (missing or negative values, recency > T,
            no repeat purchases at all, fewer than 2 customers, ...).
        ConvergenceError: the optimiser failed; the message says what to try.
        """
        x, tx, t, w = self._validate(frequency, recency, T, weights)
        data, counts = compress({"x": x, "tx": tx, "T": t}, w)
        self._optimise(self._prepare(data), counts, self._start(data, counts))
        return self

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
    @staticmethod
    def _arrays(*values):
        arrs = [np.asarray(v.to_numpy() if isinstance(v, pd.Series) else v, dtype=np.float64) for v in values]
        return np.broadcast_arrays(*arrs)

    def expected_purchases(self, t, frequency, recency, T):
        """Expected repeat purchases in the next ``t`` time units, given a customer's history.

        ``t`` may be a scalar or one value per customer; all in the model's
        time unit. Returns a float, an array or a Series (indexed like the
        input Series).
        """
        self._check_fitted()
        t_, x, tx, T_ = self._arrays(t, frequency, recency, T)
        return wrap_like(self._conditional_expected(t_, x, tx, T_), frequency, recency, T, t, name="expected_purchases")

    def expected_purchases_new(self, t):
        """Expected repeat purchases within ``t`` time units of the first purchase, for a new customer."""
        self._check_fitted()
        t_ = np.asarray(t, dtype=np.float64)
        return wrap_like(self._unconditional_expected(t_), t, name="expected_purchases")

    def p_alive(self, frequency, recency, T):
        """Probability that a customer with this history is still alive (has not dropped out) at ``T``."""
        self._check_fitted()
        x, tx, T_ = self._arrays(frequency, recency, T)
        return wrap_like(np.clip(self._p_alive(x, tx, T_), 0.0, 1.0), frequency, recency, T, name="p_alive")

    def sample_frequency(self, T, random_state=None) -> np.ndarray:
        """Simulated repeat-purchase counts for customers observed for ``T`` time units each.

        Draws each customer's latent rate and dropout from the fitted
        population distributions. Used for the period-transactions fit.
        """
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        return self._sample_frequency(np.asarray(T, dtype=np.float64), rng)

    # subclasses
    def _conditional_expected(self, t, x, tx, T):  # pragma: no cover - abstract
        raise NotImplementedError

    def _unconditional_expected(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _p_alive(self, x, tx, T):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_frequency(self, T, rng):  # pragma: no cover - abstract
        raise NotImplementedError
