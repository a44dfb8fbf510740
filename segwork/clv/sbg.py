"""sBG: the shifted-beta-geometric model of contract retention (Fader & Hardie 2007).

The story, for a student (contractual / subscription business):

* at the end of each period every customer renews or cancels; a customer
  cancels with a personal probability ``theta`` that stays the same over time;
* ``theta`` differs between customers following a beta distribution with
  parameters ``alpha`` and ``beta``.

Because the customers most likely to cancel leave first, the *cohort's*
retention rate rises over time even though no individual's does: the model
explains the familiar rising retention curve and projects it forward far
better than a line or an exponential fitted to the survival curve.

References: P. S. Fader and B. G. S. Hardie (2007), "How to project customer
retention", *Journal of Interactive Marketing* 21(1), 76-90; (2010),
"Customer-base valuation in a contractual setting: the perils of ignoring
heterogeneity", *Marketing Science* 29(1), 85-93 (DEL / DERL).
"""
from __future__ import annotations

import numpy as np
from scipy.special import betaln, psi

from ..errors import DataError
from ._special import log_hyp2f1_one
from .base import BaseModel, check_horizon, wrap_like

__all__ = ["ShiftedBetaGeometric"]


class ShiftedBetaGeometric(BaseModel):
    """sBG model of a cohort's survival over discrete contract periods.

    Attributes (after ``fit``)
    --------------------------
    params_: dict with ``alpha``, ``beta`` (beta distribution of the
        per-period cancellation probability; mean ``alpha / (alpha + beta)``).
    log_likelihood_: total log-likelihood of the cohort's cancellations.
    n_periods_: number of periods observed after the start.
    """

    _param_names = ("alpha", "beta")
    _limit_params = ("alpha", "beta")
    _limit_note = ("alpha, beta -> infinity with alpha / (alpha + beta) fixed: every customer has the same "
                   "churn probability (a geometric survival curve)")
    _fit_signature = "fit(survivors)"

    def fit(self, survivors, weights=None):
        """Fit on a cohort's survivor counts.

        Parameters
        ----------
        survivors: customers alive at the start of each period, the cohort
            size first (period 0), e.g. ``[1000, 869, 743, ...]``; counts (or
            shares) that never increase.
        weights: not used (the counts are the weights); present for a
            uniform interface.
        """
        name = "ShiftedBetaGeometric.fit"
        try:
            s = np.asarray(survivors.to_numpy() if hasattr(survivors, "to_numpy") else survivors, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{name}: survivors must be numbers (customers alive at the start of each period)") from None
        if s.ndim != 1 or len(s) < 2:
            raise DataError(f"{name}: survivors needs the cohort size and at least one later count, got {s.tolist()!r}")
        if not np.isfinite(s).all() or (s < 0).any():
            raise DataError(f"{name}: survivors must be finite counts >= 0, got {s.tolist()!r}")
        if s[0] <= 0:
            raise DataError(f"{name}: the cohort size (first value) must be > 0, got {s[0]:g}")
        rise = np.flatnonzero(np.diff(s) > 0)
        if rise.size:
            i = int(rise[0]) + 1
            raise DataError(
                f"{name}: survivors must not increase (a cohort only loses customers), but period {i} has "
                f"{s[i]:g} > {s[i - 1]:g}; pass one cohort's counts, cohort size first"
            )
        lost = -np.diff(s)
        if lost.sum() <= 0:
            raise DataError(f"{name}: nobody left the cohort in {len(s) - 1} period(s); retention cannot be estimated")
        if s[-1] <= 0 and (lost > 0).sum() < 2:
            raise DataError(f"{name}: everybody left in one period; heterogeneity cannot be estimated")
        n = len(s) - 1
        t = np.arange(1, n + 1, dtype=np.float64)
        data = {"t": np.r_[t, n], "alive": np.r_[np.zeros(n), 1.0]}
        w = np.r_[lost, s[-1]]
        keep = w > 0
        self.n_periods_ = n
        self.survivors_ = s
        self._converge(lambda m: m._optimise({k: v[keep] for k, v in data.items()}, w[keep], np.ones(2)))
        return self

    def _loglik(self, params, data):
        alpha, beta = params
        t, alive = data["t"], data["alive"] > 0
        # churn in period t: B(alpha + 1, beta + t - 1) / B(alpha, beta); still alive after n: B(alpha, beta + n) / B(alpha, beta)
        a_ = np.where(alive, alpha, alpha + 1)
        b_ = np.where(alive, beta + t, beta + t - 1)
        ll = betaln(a_, b_) - betaln(alpha, beta)
        d_common = psi(a_ + b_)
        grad = np.empty((2, len(t)))
        grad[0] = psi(a_) - d_common - psi(alpha) + psi(alpha + beta)
        grad[1] = psi(b_) - d_common - psi(beta) + psi(alpha + beta)
        return ll, grad

    # ----------------------------------------------------------------- predictions
    @staticmethod
    def _periods(method: str, t, minimum: int) -> np.ndarray:
        """Periods given to a prediction: finite numbers >= ``minimum``; DataError naming the value otherwise."""
        where = f"ShiftedBetaGeometric.{method}"
        t_ = check_horizon(where, t)
        low = t_ < minimum
        if low.any():
            raise DataError(f"{where}: periods must be >= {minimum} (counted from the start of the contract), "
                            f"got {t_[low].reshape(-1)[0]:g}")
        return t_

    def survival(self, t):
        """Share of the cohort still alive after ``t`` periods: ``B(alpha, beta + t) / B(alpha, beta)``."""
        alpha, beta = self._params()
        t_ = self._periods("survival", t, 0)
        return wrap_like(np.exp(betaln(alpha, beta + t_) - betaln(alpha, beta)), t, name="survival")

    def retention_rate(self, t):
        """Share of those alive at the end of period ``t - 1`` who renew in period ``t`` (t = 1, 2, ...).

        ``(beta + t - 1) / (alpha + beta + t - 1)``: rises with ``t`` as the
        cancellation-prone customers leave first.
        """
        alpha, beta = self._params()
        t_ = self._periods("retention_rate", t, 1)
        return wrap_like((beta + t_ - 1) / (alpha + beta + t_ - 1), t, name="retention_rate")

    def churn_probability(self, t):
        """P(a new customer cancels in period ``t``) = ``B(alpha + 1, beta + t - 1) / B(alpha, beta)``."""
        alpha, beta = self._params()
        t_ = self._periods("churn_probability", t, 1)
        return wrap_like(np.exp(betaln(alpha + 1, beta + t_ - 1) - betaln(alpha, beta)), t, name="churn_probability")

    def expected_survivors(self, periods, cohort_size=None):
        """Expected customers alive at the start of periods ``0..periods`` (cohort size first)."""
        self._check_fitted()
        size = float(self.survivors_[0] if cohort_size is None else cohort_size)
        return size * np.asarray(self.survival(np.arange(periods + 1)), dtype=np.float64)

    def discounted_expected_lifetime(self, discount_rate: float):
        """DEL: expected discounted number of payments of a new customer (the first, certain one counts 1).

        ``sum_{t>=0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d))``
        (Fader & Hardie 2010), ``d`` the discount rate per period (> 0).
        """
        alpha, beta = self._params()
        if not discount_rate > 0:
            raise DataError(f"discount_rate must be > 0 per period, got {discount_rate!r}")
        return float(np.exp(log_hyp2f1_one(beta, alpha + beta, 1.0 / (1.0 + discount_rate))))

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewals=0):
        """DERL: expected discounted number of further payments of a customer who has made ``renewals`` renewals.

        ``sum_{k>=0} P(T > n + k | T > n - 1) / (1 + d)^k`` with ``n = renewals + 1``
        ``= (beta + n - 1) / (alpha + beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))``
        (Fader & Hardie 2010, eq. 6): the next renewal (made with the
        retention probability) counts 1, later ones are discounted by
        ``(1 + d)`` per period. Multiply by the margin per period for the
        customer's residual value. ``renewals`` may be an array.
        """
        alpha, beta = self._params()
        if not discount_rate > 0:
            raise DataError(f"discount_rate must be > 0 per period, got {discount_rate!r}")
        n = self._periods("discounted_expected_residual_lifetime", renewals, 0) + 1.0
        # 2F1(1, b; c; z) with b < c: positive terms, evaluated on the log scale (no overflow for large
        # beta + n or a discount rate near 0; scipy's hyp2f1 is unreliable there)
        value = (beta + n - 1) / (alpha + beta + n - 1) * np.exp(
            log_hyp2f1_one(beta + n, alpha + beta + n, 1.0 / (1.0 + discount_rate)))
        return wrap_like(value, renewals, name="derl")
