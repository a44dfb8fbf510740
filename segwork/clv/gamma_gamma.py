"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

The story, for a student:

* each purchase of a customer has a random value, gamma distributed with
  shape ``p`` around the customer's own mean; so a customer's *average* over
  ``x`` purchases gets closer to their true mean as ``x`` grows;
* customers' true means differ: the gamma scale parameter ``nu`` follows a
  gamma distribution with shape ``q`` and rate ``v`` across customers;
* spend is assumed independent of how often a customer buys (check it: the
  correlation between frequency and average spend should be near 0).

The expected average spend of a customer is a weighted average of the
population mean ``p v / (q - 1)`` and the customer's own observed average,
with more weight on the latter the more purchases we have seen.

Reference: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "RFM and CLV:
using iso-value curves for customer base analysis", *Journal of Marketing
Research* 42(4), 415-430; B. Hardie's note 025 "The gamma-gamma model of
monetary value".
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import gammaln, psi

from .base import BaseModel, broadcast_columns, check_columns, check_integer, compress, dot, wrap_like
from ..errors import ConvergenceError, DataError

__all__ = ["GammaGamma", "check_spend_history"]


def check_spend_history(where: str, frequency, monetary_value, weights=None, broadcast: bool = False,
                        with_index: bool = False):
    """The one check of ``(frequency, monetary_value)``, used by ``fit`` and ``expected_spend``.

    Numeric, finite, >= 0 (a negative mean spend means refunds exceeding
    purchases: net them out first), whole-number frequency; DataError naming
    the customer otherwise. Returns float arrays ``(x, m, weights)`` (and the
    customers' index, None for arrays, with ``with_index``).
    """
    columns = {"frequency": frequency, "monetary_value": monetary_value}
    if broadcast:
        columns = broadcast_columns(where, columns)
    arrays, w, index = check_columns(where, columns, weights)
    x, m = arrays["frequency"], arrays["monetary_value"]
    check_integer(where, "frequency", x, index)
    if with_index:
        return x, m, w, index
    return x, m, w


class GammaGamma(BaseModel):
    """Gamma-Gamma spend model: expected average value per purchase.

    Fit on repeat buyers: ``frequency`` (repeat purchases, x >= 1) and
    ``monetary_value`` (their mean value, the first purchase excluded, as in
    :func:`segwork.features.rfm_summary`). Pass the whole summary: ``fit``
    leaves out the rows the model cannot describe and counts them:

    * ``frequency == 0``: no repeat purchase, so no spend information;
    * repeat buyers with ``monetary_value == 0`` (e.g. only free or fully
      refunded repeat purchases): a gamma-distributed spend is > 0, so the
      model has no place for them (counted in ``n_zero_spend_``).

    A *negative* ``monetary_value`` is treated as a data error
    (:class:`~segwork.errors.DataError`): it means refunds were booked as
    purchases and exceed them, which should be netted out or dropped while
    preparing the data, not silently ignored.

    Attributes (after ``fit``)
    --------------------------
    params_: dict with ``p``, ``q``, ``v`` (``v`` in the data's currency).
    log_likelihood_: total log-likelihood of the repeat buyers' mean spends.
    n_customers_: customers used (repeat buyers with monetary_value > 0).
    n_excluded_: customers left out (frequency 0, or zero spend).
    n_zero_spend_: repeat buyers left out because their monetary_value is 0.
    coef_ (fitted with ``covariates``): Series of the spend coefficients
        ``gamma``, index ``spend:<column>``; ``params_`` are then a customer's
        with all covariates 0, and ``v_i = v exp(gamma' z_i)`` (see
        :mod:`segwork.clv.covariates`).
    """

    _param_names = ("p", "q", "v")
    _limit_params = ("p", "q", "v")
    _limit_note = ("q, v -> infinity with v / q fixed (every customer has the same expected spend per purchase) "
                   "or p -> infinity, v -> 0 with p v fixed (every purchase of a customer has the same value, "
                   "so a repeat buyer's expected spend is their observed mean)")
    _fit_signature = "fit(frequency, monetary_value)"
    _data_hint = ("check that monetary_value is each repeat buyer's mean spend per repeat purchase, in one currency, "
                  "and that there are enough repeat buyers")
    #: covariates act on the scale ``v`` (see :mod:`segwork.clv.covariates`): ``v_i = v exp(gamma' z_i)``
    _covariate_links = (("v", 1),)
    _covariate_groups = ("spend",)

    def fit(self, frequency, monetary_value, weights=None, covariates=None):
        """Fit on the repeat buyers with a positive mean spend.

        Parameters
        ----------
        frequency: repeat purchases per customer (whole numbers >= 0).
        monetary_value: mean value of those repeat purchases, in the data's
            currency (>= 0; ignored where frequency is 0; repeat buyers with
            0 are left out and counted).
        weights: optional number of customers per row.
        covariates: optional DataFrame of time-invariant customer covariates
            ``z_i`` indexed by customer_id, one row for every customer of
            ``frequency`` (matched by label when the inputs are Series, by
            position otherwise; only the rows of the repeat buyers used are
            fitted). Numeric columns are used as they are; categorical,
            string and boolean columns are one-hot encoded with a named
            reference level (:class:`segwork.clv.covariates.CovariateDesign`).
            They act on the spend scale, ``v_i = v exp(gamma' z_i)``, so a
            customer's expected mean spend per purchase ``p v_i / (q - 1)``
            is multiplied by ``exp(gamma' z_i)`` (positive = spends more);
            ``params_`` are then those of a customer with ``z = 0``, the
            coefficients ``gamma`` are in ``coef_`` and in :meth:`summary`
            (rows ``spend:<column>``), and :meth:`expected_spend` needs the
            customers' covariates too.

        Returns
        -------
        self, with ``params_``, ``log_likelihood_``, ``n_customers_`` (repeat
        buyers used), ``n_excluded_`` (customers left out: frequency 0 or
        monetary_value 0) and ``n_zero_spend_`` (repeat buyers left out for
        monetary_value 0); counts are weighted (numbers of customers).

        Raises
        ------
        DataError: negative or missing values, fewer than 2 usable repeat
            buyers, or no spread in their monetary_value; covariates with no
            row for some customers, more than one row for a customer, missing
            or non-finite values, a column constant over the repeat buyers
            fitted, or linearly dependent columns (the same checks and
            messages as the transaction models').
        ConvergenceError: the fit failed. The message names a penalizer only
            after trying it on the same data (:meth:`BaseModel._converge`),
            and when the repeat buyers' mean spends hardly vary (coefficient
            of variation below 1 %) it leads with that and their mean spend,
            and names no penalizer (one converges there, but far from the data:
            9.99 +- 1 cent gave a population mean spend of 14.7): the data
            then support one expected spend per purchase for everyone, a number
            that :func:`segwork.clv.customer_lifetime_value` takes as the spend
            model (:func:`segwork.clv.fit_spend_model` does this for a
            customer table).
        """
        name = "GammaGamma.fit"
        for attr in ("covariates_", "coef_", "_cov_full", "_theta"):
            self.__dict__.pop(attr, None)
        x, m, w, index = check_spend_history(name, frequency, monetary_value, weights, with_index=True)
        zero = (x > 0) & (m <= 0)  # m < 0 was rejected by check_columns
        rep = (x > 0) & (m > 0) & (w > 0)
        n_rep = float(w[rep].sum())
        if n_rep < 2:
            raise DataError(
                f"{name}: needs at least 2 repeat buyers (frequency > 0) with monetary_value > 0, got {n_rep:g} "
                f"({float(w[zero].sum()):g} more with monetary_value 0); "
                "spend per purchase cannot be estimated from one-time or zero-spend buyers"
            )
        if np.unique(m[rep]).size < 2:
            raise DataError(f"{name}: every repeat buyer has the same monetary_value {m[rep][0]:g}; "
                            "spend heterogeneity cannot be estimated")
        if covariates is not None:
            from .covariates import CovariateDesign, fit_with_covariates

            # every customer needs a row (as for the transaction models); the design (encoder levels, the
            # constant-column check) is built on the repeat buyers the likelihood uses
            frame = CovariateDesign._align(name, covariates, index, len(x)).iloc[np.flatnonzero(rep)]
            design = CovariateDesign(name, frame, None if index is None else frame.index, len(frame))
        self.n_excluded_ = float(w[~rep].sum())
        self.n_zero_spend_ = float(w[zero].sum())
        if covariates is not None:
            excluded = (self.n_excluded_, self.n_zero_spend_)
            self._converge(lambda g: fit_with_covariates(g, {"x": x[rep], "m": m[rep]}, w[rep], design))
            self.n_excluded_, self.n_zero_spend_ = excluded  # the plain start fit saw the repeat buyers only
        else:
            data, counts = compress({"x": x[rep], "m": m[rep]}, w[rep])
            start = self._start(data, counts)
            note = _homogeneous_spend_note(data, counts)
            if note:  # a penalizer would converge, away from the one spend the data show: no ladder, say that
                try:
                    self._optimise(data, counts, start)
                except ConvergenceError as exc:
                    raise ConvergenceError(f"GammaGamma.fit did not converge: {note}; a penalizer is no remedy here "
                                           "(it pulls the log parameters towards 0, away from that one spend). "
                                           f"The optimiser said: {str(exc).split(';')[0]}") from None
            else:
                self._converge(lambda g: g._optimise(data, counts, start))
        if self.params_["q"] <= 1:
            warnings.warn(
                f"GammaGamma: q = {self.params_['q']:.3g} <= 1, so the population mean spend is infinite; "
                "expected_spend of customers without repeat purchases is undefined (NaN)",
                RuntimeWarning, stacklevel=2,
            )
        return self

    def _start(self, data, counts) -> np.ndarray:
        """The optimiser's start ``(p, q, v)``: ``(1, 2, the repeat buyers' mean spend)``."""
        return np.array([1.0, 2.0, dot(counts, data["m"]) / counts.sum()])

    def _loglik(self, params, data):
        p, q, v = params
        x, m = data["x"], data["m"]
        px = p * x
        far = px > _FAR  # towards the limit p -> infinity (every purchase of a customer has the same value)
        if far.any():
            return self._loglik_far(p, q, v, x, m, far)
        lvxm = np.log(v + x * m)
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
              + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * lvxm)
        d_common = psi(px + q)
        grad = np.empty((3, len(x)))
        grad[0] = x * (d_common - psi(px) + np.log(m) + np.log(x) - lvxm)
        grad[1] = d_common - psi(q) + np.log(v) - lvxm
        grad[2] = q / v - (px + q) / (v + x * m)
        return ll, grad

    @staticmethod
    def _loglik_far(p, q, v, x, m, far):
        """``_loglik`` where ``p x`` is beyond :data:`_FAR`, evaluated without cancellation.

        Along the ridge towards the limit p -> infinity, v -> 0 (``p v`` fixed) the plain form subtracts
        numbers of size ``p x`` (``gammaln(px + q) - gammaln(px)``, ``psi(px + q) - psi(px)``,
        ``log(x m) - log(v + x m)``) whose differences are of size 1 or ``1 / (p x)``: at p ~ 1e13 the
        rounding error of the log-likelihood exceeds the identification check's tolerance and the gradient
        on the log scale is noise of size ~ 10, so a fit stopped wherever the noise let it (usable limit,
        "ran off" or "flat" by chance). Here the differences come from Stirling's series (Abramowitz &
        Stegun 6.1.41 and 6.3.18: ``gammaln(a + q) - gammaln(a) = (a - 1/2) log1p(q / a) + q log(a + q) - q
        - q / (12 a (a + q)) + O(a^-3)``, ``psi(a + q) - psi(a) = log1p(q / a) + q / (2 a (a + q)) +
        q (2a + q) / (12 a^2 (a + q)^2) + O(a^-4)``) and ``log1p``; rows with ``p x <= _FAR`` (all rows of a
        fit away from the limit) keep the plain form, so such fits are unchanged to the last bit.
        """
        px = p * x
        a = np.where(far, px, 1.0)  # the series only where it applies (elsewhere a placeholder)
        lgd = np.where(far, (a - 0.5) * np.log1p(q / a) + q * np.log(a + q) - q - q / (12 * a * (a + q)),
                       gammaln(px + q) - gammaln(px))
        psd = np.where(far, np.log1p(q / a) + q / (2 * a * (a + q)) + q * (2 * a + q) / (12 * a * a * (a + q) ** 2),
                       psi(px + q) - psi(px))
        lvxm = np.log(v + x * m)
        shrink = np.log1p(v / (x * m))  # log(v + x m) - log(x m) >= 0
        ll = lgd - gammaln(q) + q * np.log(v) - np.log(m) - q * lvxm - px * shrink
        grad = np.empty((3, len(x)))
        grad[0] = x * (psd - shrink)
        grad[1] = psi(px + q) - psi(q) + np.log(v) - lvxm
        grad[2] = q / v - (px + q) / (v + x * m)
        return ll, grad

    def expected_spend(self, frequency, monetary_value, covariates=None):
        """Expected mean value of a customer's future purchases (the data's currency).

        ``p (v_i + x m) / (p x + q - 1)`` (Fader, Hardie & Lee 2005;
        Hardie's note 025): for ``frequency == 0`` the population mean
        ``p v_i / (q - 1)``. ``v_i = v`` for a model fitted without
        covariates, ``v exp(gamma' z_i)`` with them. Returns a float, an array
        or a Series (indexed like the input), shape of the broadcast inputs.

        ``covariates``: the customers' covariates (DataFrame indexed by
        customer_id, matched to the Series' index, by position for arrays),
        required for (and only for) a model fitted with covariates.

        Raises DataError for inputs ``fit`` would refuse (missing, negative,
        fractional frequency), naming the customer; for covariates: missing
        where the model needs them (or passed to a model fitted without),
        no row for a customer, a missing column, NaN, or a category level
        not seen in fit.
        """
        p, q, v = self._params()
        where = "GammaGamma.expected_spend"
        shape = np.broadcast_shapes(np.shape(frequency), np.shape(monetary_value))
        x, m, _, index = check_spend_history(where, frequency, monetary_value, broadcast=True, with_index=True)
        x, m = (np.broadcast_to(a, (int(np.prod(shape)),)) for a in (x, m))
        v = self._customer_scale(where, covariates, index, len(x))
        with np.errstate(all="ignore"):
            denom = p * x + q - 1
            value = np.where(denom > 0, p * (v + x * np.where(x > 0, m, 0.0)) / denom, np.nan)
        value = value.reshape(shape)
        return wrap_like(value, frequency, monetary_value, name="expected_spend")

    def _customer_scale(self, where, covariates, index, n):
        """``v`` (a float) without covariates, the per-customer ``v exp(Z gamma)`` (shape ``(n,)``) with them."""
        v = self.params_["v"]
        if getattr(self, "covariates_", None) is None and covariates is None:
            return v
        from .covariates import per_customer_params, prediction_matrix

        Z = prediction_matrix(self, where, covariates, index, n)
        base = np.array([self.params_[k] for k in self._param_names])
        return per_customer_params(self, base, self.coef_.to_numpy().reshape(1, -1), Z)[self._param_names.index("v")]

    def population_mean_spend(self, covariates=None):
        """Mean spend per purchase across the population, ``p v / (q - 1)`` (NaN if q <= 1).

        For a model fitted with covariates pass ``covariates`` (a DataFrame
        of profiles): returns a Series, one mean per row, ``p v_i / (q - 1)``
        with ``v_i = v exp(gamma' z_i)``; without them, a float.
        """
        p, q, _ = self._params()
        if covariates is None and getattr(self, "covariates_", None) is None:
            return float(p * self.params_["v"] / (q - 1)) if q > 1 else float("nan")
        n = len(covariates) if covariates is not None else 0
        v = self._customer_scale("GammaGamma.population_mean_spend", covariates, None, n)
        out = p * v / (q - 1) if q > 1 else np.full(n, np.nan)
        return pd.Series(out, index=covariates.index, name="mean_spend")


#: ``p x`` beyond which :meth:`GammaGamma._loglik` uses Stirling's series for the differences of ``gammaln`` and
#: ``psi`` (their error there is below 1e-20 relative); fits away from the limit p -> infinity never get there.
_FAR = 1e6

#: Below this coefficient of variation of the repeat buyers' mean spends, a failed fit says that the data
#: support one expected spend for everyone (the Gamma-Gamma's limit p, q, v -> infinity, where its
#: likelihood cannot be evaluated to the precision the optimiser needs).
HOMOGENEOUS_SPEND_CV = 0.01


def spend_spread(monetary_value, weights=None) -> tuple[float, float]:
    """Mean and coefficient of variation (SD / mean) of the repeat buyers' mean spends.

    ``monetary_value``: each repeat buyer's mean spend per purchase (> 0, the
    data's currency); ``weights``: customers per row (default 1). Returns
    ``(mean, cv)``, the mean in the data's currency and ``cv`` as a fraction.
    """
    m = np.asarray(monetary_value, dtype=float)
    w = np.ones_like(m) if weights is None else np.asarray(weights, dtype=float)
    mean = float(dot(w, m) / w.sum())
    return mean, float(np.sqrt(dot(w, (m - mean) ** 2) / w.sum())) / mean


def _homogeneous_spend_note(data: dict, counts: np.ndarray) -> str:
    """What a failed fit says when the mean spends hardly vary ('' otherwise)."""
    mean, cv = spend_spread(data["m"], counts)
    if cv >= HOMOGENEOUS_SPEND_CV:
        return ""
    return (f"the repeat buyers' mean spends hardly vary (mean {mean:.4g}, coefficient of variation "
            f"{100 * cv:.2g} %), so these data support one expected spend per purchase for everyone, about "
            f"{mean:.4g}: use that number as the spend model (customer_lifetime_value takes a number; "
            "segwork.clv.fit_spend_model does this for a customer table, with a warning)")
