"""BG/BB: the beta-geometric / beta-Bernoulli model for discrete purchase opportunities (Fader, Hardie & Shang 2010).

The story, for a student: some businesses offer a fixed set of chances to buy
(a yearly fund-raising drive, an annual conference, a weekly event):

* while alive, a customer takes each chance with a personal probability
  ``p`` (beta distributed across customers with ``alpha``, ``beta``);
* before each opportunity an alive customer may leave for good with a
  personal probability ``theta`` (beta distributed with ``gamma``, ``delta``).

A customer is described by ``frequency`` (x, repeat transactions),
``recency`` (t_x, the opportunity of the last transaction, 0 if none) and
``n_periods`` (n, the opportunities observed).

Reference: P. S. Fader, B. G. S. Hardie and J. Shang (2010), "Customer-base
analysis in a discrete-time noncontractual setting", *Marketing Science*
29(6), 1086-1108 (likelihood eq. 5, P(alive) eq. 11, expectations eqs. 7, 13).
"""
from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, psi

from ..errors import DataError
from .base import (BaseModel, row_label, broadcast_columns, broadcast_history, check_columns, check_horizon,
                   check_integer, compress, wrap_like)

__all__ = ["BetaGeoBetaBinom", "check_bgbb_history"]

#: |gamma - 1| below this uses the gamma -> 1 limit formulas: (1 - e^(B-A)) / (gamma - 1) divides a
#: difference of gammaln values (absolute error ~1e-14) by gamma - 1, so it loses precision near 1;
#: the limit formula's own error is O(|gamma - 1|).
_GAMMA_ONE = 1e-8


def check_bgbb_history(where: str, frequency, recency, n_periods, weights=None, broadcast: bool = False):
    """The one check of BG/BB histories ``(frequency, recency, n_periods)``, used by ``fit`` and the predictions.

    Whole numbers, finite, >= 0, ``n_periods >= 1``, ``frequency <= recency
    <= n_periods`` and ``recency == 0`` without repeat transactions;
    DataError naming the first offending customer (index label or row)
    otherwise. ``broadcast=True`` broadcasts scalars against columns first.
    Returns float arrays ``(x, t_x, n, weights)``.
    """
    columns = {"frequency": frequency, "recency": recency, "n_periods": n_periods}
    if broadcast:
        columns = broadcast_columns(where, columns)
    arrays, w, index = check_columns(where, columns, weights)
    x, tx, n = arrays["frequency"], arrays["recency"], arrays["n_periods"]
    for col, a in arrays.items():
        check_integer(where, col, a, index)
    for bad, what in (
        (n < 1, "n_periods must be >= 1"),
        (tx > n, "recency (opportunity of the last transaction) cannot exceed n_periods"),
        (x > tx, "frequency cannot exceed recency (one transaction per opportunity at most)"),
        ((x == 0) & (tx > 0), "recency must be 0 without repeat transactions"),
    ):
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}: {what}; {int(bad.sum())} row(s) break this (e.g. {row_label(index, pos)}: "
                f"frequency={x[pos]:g}, recency={tx[pos]:g}, n_periods={n[pos]:g})"
            )
    return x, tx, n, w


class BetaGeoBetaBinom(BaseModel):
    """BG/BB model of repeat transactions over discrete opportunities (non-contractual).

    Attributes (after ``fit``)
    --------------------------
    params_: dict with ``alpha``, ``beta`` (transaction probability) and
        ``gamma``, ``delta`` (dropout probability per opportunity).
    log_likelihood_: total log-likelihood.
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _limit_params = ("gamma", "delta")
    _limit_note = "a limit of the dropout process (gamma -> 0: nobody leaves; or everybody leaves at once)"
    _fit_signature = "fit(frequency, recency, n_periods)"

    def fit(self, frequency, recency, n_periods, weights=None):
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency: repeat transactions x (whole numbers, 0 <= x <= n).
        recency: opportunity of the last transaction t_x (x <= t_x <= n; 0 if x = 0).
        n_periods: opportunities observed n (whole numbers >= 1).
        weights: optional number of customers per row (e.g. the ``weights``
            column of ``data/donations.csv``).
        """
        name = "BetaGeoBetaBinom.fit"
        x, tx, n, w = check_bgbb_history(name, frequency, recency, n_periods, weights)
        live = w > 0
        if w[live].sum() < 2:
            raise DataError(f"{name}: needs at least 2 customers, got {w[live].sum():g}")
        if not (x[live] > 0).any():
            raise DataError(f"{name}: no customer made a repeat transaction; the model cannot be estimated")
        data, counts = compress({"x": x, "tx": tx, "n": n}, w)
        self._converge(lambda m: m._optimise(data, counts, np.ones(4)))
        return self

    # ----------------------------------------------------------------- likelihood
    @staticmethod
    def _terms(params, x, tx, n):
        """Log of the likelihood's terms: column 0 = alive through n, columns 1.. = left after t_x + i."""
        alpha, beta, gamma, delta = params
        width = int(np.max(n - tx)) if len(n) else 0
        i = np.arange(width)[None, :]
        x_, tx_, n_ = x[:, None], tx[:, None], n[:, None]
        mask = i < (n_ - tx_)
        base_ab, base_gd = betaln(alpha, beta), betaln(gamma, delta)
        t0 = betaln(alpha + x, beta + n - x) - base_ab + betaln(gamma, delta + n) - base_gd
        ti = betaln(alpha + x_, beta + tx_ - x_ + i) - base_ab + betaln(gamma + 1, delta + tx_ + i) - base_gd
        ti = np.where(mask, ti, -np.inf)
        return np.column_stack([t0, ti]), i, mask

    def _loglik(self, params, data):
        alpha, beta, gamma, delta = params
        x, tx, n = data["x"], data["tx"], data["n"]
        terms, i, mask = self._terms(params, x, tx, n)
        m = terms.max(axis=1, keepdims=True)
        e = np.exp(terms - m)
        tot = e.sum(axis=1, keepdims=True)
        ll = (m + np.log(tot))[:, 0]
        wts = e / tot  # each term's share of the likelihood
        w0, wi = wts[:, 0], wts[:, 1:]
        x_, tx_ = x[:, None], tx[:, None]
        d_ab = psi(alpha + beta)
        d_gd = psi(gamma + delta)
        # d/d(alpha, beta) of betaln(alpha + x, beta + y) - betaln(alpha, beta), y = n - x or t_x - x + i
        y0 = n - x
        yi = np.where(mask, tx_ - x_ + i, 0.0)
        ga0 = psi(alpha + x) - psi(alpha + beta + x + y0) - psi(alpha) + d_ab
        gb0 = psi(beta + y0) - psi(alpha + beta + x + y0) - psi(beta) + d_ab
        gai = psi(alpha + x_) - psi(alpha + beta + x_ + yi) - psi(alpha) + d_ab
        gbi = psi(beta + yi) - psi(alpha + beta + x_ + yi) - psi(beta) + d_ab
        # d/d(gamma, delta): alive term betaln(gamma, delta + n); dropout terms betaln(gamma + 1, delta + t_x + i)
        gg0 = d_gd - psi(gamma + delta + n)
        gd0 = psi(delta + n) - psi(gamma + delta + n) - psi(delta) + d_gd
        ki = np.where(mask, tx_ + i, 0.0)
        ggi = psi(gamma + 1) - psi(gamma + delta + 1 + ki) - psi(gamma) + d_gd
        gdi = psi(delta + ki) - psi(gamma + delta + 1 + ki) - psi(delta) + d_gd
        grad = np.empty((4, len(x)))
        grad[0] = w0 * ga0 + (wi * gai).sum(axis=1)
        grad[1] = w0 * gb0 + (wi * gbi).sum(axis=1)
        grad[2] = w0 * gg0 + (wi * ggi).sum(axis=1)
        grad[3] = w0 * gd0 + (wi * gdi).sum(axis=1)
        return ll, grad

    # ----------------------------------------------------------------- predictions
    def _flat(self, method, frequency, recency, n_periods, t=None):
        """Checked history (the same check as ``fit``) as flat float arrays, ``t`` first if given, and the shape."""
        self._check_fitted()
        where = f"BetaGeoBetaBinom.{method}"
        t_, arrays, shape = broadcast_history(
            where, {"frequency": frequency, "recency": recency, "n_periods": n_periods},
            lambda: check_bgbb_history(where, frequency, recency, n_periods, broadcast=True)[:3], t)
        return ([] if t_ is None else [t_]) + arrays, shape

    def _log_lik_of(self, x, tx, n):
        terms, _, _ = self._terms(np.array(self._params()), x, tx, n)
        m = terms.max(axis=1)
        return m + np.log(np.exp(terms - m[:, None]).sum(axis=1))

    def p_alive(self, frequency, recency, n_periods):
        """Probability that the customer is alive at the next opportunity (n + 1)."""
        (x, tx, n), shape = self._flat("p_alive", frequency, recency, n_periods)
        alpha, beta, gamma, delta = self._params()
        log_alive = (betaln(alpha + x, beta + n - x) - betaln(alpha, beta)
                     + betaln(gamma, delta + n + 1) - betaln(gamma, delta))
        out = np.clip(np.exp(log_alive - self._log_lik_of(x, tx, n)), 0.0, 1.0)
        return wrap_like(out.reshape(shape), frequency, recency, n_periods, name="p_alive")

    def expected_purchases(self, t, frequency, recency, n_periods):
        """Expected transactions in the next ``t`` opportunities (n+1 .. n+t), given the history."""
        (t_, x, tx, n), shape = self._flat("expected_purchases", frequency, recency, n_periods, t)
        alpha, beta, gamma, delta = self._params()
        with np.errstate(all="ignore"):
            la = (betaln(alpha + x + 1, beta + n - x) - betaln(alpha, beta)
                  + gammaln(gamma + delta) - gammaln(1 + delta))
            A = gammaln(1 + delta + n) - gammaln(gamma + delta + n)
            B = gammaln(1 + delta + n + t_) - gammaln(gamma + delta + n + t_)
            if abs(gamma - 1.0) < _GAMMA_ONE:  # limit gamma -> 1 of (e^A - e^B)/(gamma-1) / e^A
                bracket_over = psi(delta + n + 1 + t_) - psi(delta + n + 1)
            else:
                bracket_over = -np.expm1(B - A) / (gamma - 1)
            value = delta * np.exp(la + A - self._log_lik_of(x, tx, n)) * bracket_over
        value = np.where(t_ > 0, value, 0.0).reshape(shape)
        return wrap_like(value, frequency, recency, n_periods, t, name="expected_purchases")

    def expected_purchases_new(self, n_periods):
        """Expected transactions of a new customer in the first ``n_periods`` opportunities."""
        alpha, beta, gamma, delta = self._params()
        n = check_horizon("BetaGeoBetaBinom.expected_purchases_new", n_periods)
        with np.errstate(all="ignore"):
            D = gammaln(gamma + delta) - gammaln(gamma + delta + n) + gammaln(1 + delta + n) - gammaln(1 + delta)
            if abs(gamma - 1.0) < _GAMMA_ONE:  # the limit gamma -> 1
                value = alpha / (alpha + beta) * delta * (psi(1 + delta + n) - psi(1 + delta))
            else:
                value = alpha / (alpha + beta) * delta / (gamma - 1) * -np.expm1(D)
        return wrap_like(np.where(n > 0, value, 0.0), n_periods, name="expected_purchases")
