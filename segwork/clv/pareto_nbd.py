"""Pareto/NBD: the original "counting your customers" model (Schmittlein, Morrison & Colombo 1987).

The story, for a student:

* while alive, a customer buys at random times with a personal rate
  ``lambda``, gamma distributed across customers (shape ``r``, rate
  ``alpha``), as in the BG/NBD;
* each customer has an unobserved lifetime that ends at a random moment in
  continuous time (exponential with a personal dropout rate ``mu``, gamma
  distributed across customers with shape ``s`` and rate ``beta``); unlike the
  BG/NBD, dropout can happen at any time, not only right after a purchase.

The likelihood needs the Gauss hypergeometric function. Fader, Hardie &
Lee's MATLAB note (2005) writes it as 2F1(r+s+x, .; r+s+x+1; z), which grows
like (1 - z)^(1 - r - x) and overflows in linear space for frequent buyers
who leave slowly (large x, alpha far from beta). We evaluate the same
integral after Euler's transformation, 2F1(1, .; r+s+x+1; z), whose terms are
positive and bounded, with a continued fraction on the log scale (see
``_log_a0``); the difference of the two terms with ``expm1``/``log1p``, the
sum with ``logaddexp``. Checked against mpmath at high precision in
tests/clv/test_closed_forms.py. The gradient is numerical (central
differences of the log-likelihood on the log-parameter scale).

References: D. C. Schmittlein, D. G. Morrison and R. Colombo (1987),
"Counting your customers: who are they and what will they do next?",
*Management Science* 33(1); P. S. Fader, B. G. S. Hardie and K. L. Lee (2005),
"A note on implementing the Pareto/NBD model in MATLAB"; P. S. Fader and
B. G. S. Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions" (P(alive), conditional expectation).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln

from ._special import log_hyp2f1_one
from .transaction import TransactionModel

__all__ = ["ParetoNBD"]


class ParetoNBD(TransactionModel):
    """Pareto/NBD model of repeat purchases and dropout (non-contractual, continuous time).

    Parameters
    ----------
    penalizer: L2 penalty on the log parameters (see :mod:`segwork.clv.base`).

    Attributes (after ``fit``)
    --------------------------
    params_: dict with ``r``, ``alpha`` (gamma purchase rates) and ``s``,
        ``beta`` (gamma dropout rates); ``alpha`` and ``beta`` in the data's
        time unit.
    log_likelihood_: total log-likelihood.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _has_gradient = False
    # covariates (segwork.clv.covariates): alpha_i = alpha exp(-g_purchase'z), beta_i = beta exp(-g_dropout'z)
    _covariate_links = (("alpha", -1), ("beta", -1))
    _covariate_groups = ("purchase", "dropout")
    _limit_params = ("s", "beta")
    _limit_note = "a limit of the dropout process (s -> 0 or beta -> infinity: nobody leaves)"

    def _prepare(self, data):
        # The 2F1 terms depend on (x, t_x) and on (x, T): evaluate them once per distinct pair.
        out = dict(data)
        for col in ("tx", "T"):
            key = data["x_codes"] * len(data[col + "_levels"]) + data[col + "_codes"]
            codes, uniq = pd.factorize(key)
            first = np.zeros(len(uniq), dtype=np.int64)
            first[codes] = np.arange(len(codes))
            out[f"pair_{col}"] = (codes, data["x"][first], data[col][first])
        return out

    def _start(self, data, w):
        start = super()._start(data, w)
        start[3] = start[1]  # beta on the same time scale as alpha
        return start

    @staticmethod
    def _bases(r, alpha, s, beta, x):
        """The smaller base ``p`` with its exponent ``e_p`` and the larger ``q`` with ``e_q``.

        The death-time integral ``I(t1, t2) = int_t1^t2 (alpha + tau)^-(r + x) (beta + tau)^-(s + 1) dtau``
        has one factor per base: ``r + x`` belongs to ``alpha``, ``s + 1`` to ``beta``.
        """
        if np.ndim(alpha) == 0 and np.ndim(beta) == 0:
            if alpha <= beta:
                return alpha, r + x, beta, s + 1.0 + 0.0 * x
            return beta, s + 1.0 + 0.0 * x, alpha, r + x
        # per-customer parameters (covariates): choose the bases row by row
        first = alpha <= beta
        e_a, e_b = r + x, s + 1.0 + 0.0 * x
        return np.where(first, alpha, beta), np.where(first, e_a, e_b), np.where(first, beta, alpha), np.where(first, e_b, e_a)

    @classmethod
    def _log_h(cls, r, alpha, s, beta, x, t):
        """log 2F1(1, e_q; r + s + x + 1; (q - p) / (q + t)) (see :meth:`_log_a0`)."""
        p, e_p, q, e_q = cls._bases(r, alpha, s, beta, x)
        return log_hyp2f1_one(e_q, r + s + x + 1.0, (q - p) / (q + t))

    @classmethod
    def _log_a0(cls, r, alpha, s, beta, x, tx, T, pairs=None):
        """log of FHL's A0 = (r + s + x) I(t_x, T), the integral over death times between t_x and T; -inf where t_x == T.

        With ``G(t) = I(t, inf)`` and the smaller base ``p`` (exponent ``e_p``), the larger ``q`` (``e_q``),
        ``k = r + s + x``:

        ``G(t) = (p + t)^(1 - e_p) (q + t)^(-e_q) / k * 2F1(1, e_q; k + 1; (q - p) / (q + t))``

        (Fader & Hardie 2005's expression after Euler's transformation). Its 2F1 has positive
        terms and lies between 1 and ``k / (e_p - 1)``, so unlike FHL's form (whose 2F1 grows like
        ``(1 - z)^(1 - e_p)`` and overflows for frequent buyers) it is evaluated without overflow, on the
        log scale (:func:`segwork.clv._special.log_hyp2f1_one`); ``alpha == beta`` gives ``z = 0`` (no
        special case). ``A0 = k G(t_x) (1 - G(T) / G(t_x))`` with the ratio's powers taken as
        ``log1p((T - t_x) / (base + t_x))``, so short gaps ``T - t_x`` keep their precision.
        """
        p, e_p, q, e_q = cls._bases(r, alpha, s, beta, x)
        if pairs is None:
            h1 = cls._log_h(r, alpha, s, beta, x, tx)
            h2 = cls._log_h(r, alpha, s, beta, x, T)
        else:
            (c1, x1, t1), (c2, x2, t2) = pairs
            h1 = cls._log_h(r, alpha, s, beta, x1, t1)[c1]
            h2 = cls._log_h(r, alpha, s, beta, x2, t2)[c2]
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = T - tx
            log_g1 = (1.0 - e_p) * np.log(p + tx) - e_q * np.log(q + tx) + h1  # log(k G(t_x))
            delta = (1.0 - e_p) * np.log1p(gap / (p + tx)) - e_q * np.log1p(gap / (q + tx)) + h2 - h1
            out = log_g1 + np.log(-np.expm1(np.minimum(delta, 0.0)))
        return np.where(T > tx, out, -np.inf)

    def _loglik(self, params, data):
        if "x_levels" in data and "pair_tx" in data:
            return self._loglik_levels(params, data), None
        r, alpha, s, beta = params
        x, tx, T = data["x"], data["tx"], data["T"]
        log_t1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        pairs = (data["pair_tx"], data["pair_T"]) if "pair_tx" in data else None
        log_t2 = np.log(s / (r + s + x)) + self._log_a0(r, alpha, s, beta, x, tx, T, pairs)
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(log_t1, log_t2)
        return ll, None

    def _loglik_levels(self, params, data):
        """The same log-likelihood as :meth:`_loglik` on the compressed fit data, with the logarithms
        taken once per distinct frequency, recency and T, and the 2F1 once per distinct (x, t) pair."""
        r, alpha, s, beta = params
        x, tx, T = data["x"], data["tx"], data["T"]
        xl, ix = data["x_levels"], data["x_codes"]
        itx, iT = data["tx_codes"], data["T_codes"]
        la_tx, lb_tx = np.log(alpha + data["tx_levels"])[itx], np.log(beta + data["tx_levels"])[itx]
        la_T, lb_T = np.log(alpha + data["T_levels"])[iT], np.log(beta + data["T_levels"])[iT]
        _, e_pl, _, e_ql = self._bases(r, alpha, s, beta, xl)
        e_p, e_q = e_pl[ix], e_ql[ix]
        lp_tx, lq_tx, lp_T, lq_T = (la_tx, lb_tx, la_T, lb_T) if alpha <= beta else (lb_tx, la_tx, lb_T, la_T)
        (c1, x1, t1), (c2, x2, t2) = data["pair_tx"], data["pair_T"]
        h1 = self._log_h(r, alpha, s, beta, x1, t1)[c1]
        h2 = self._log_h(r, alpha, s, beta, x2, t2)[c2]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_g1 = (1.0 - e_p) * lp_tx - e_q * lq_tx + h1
            delta = (1.0 - e_p) * (lp_T - lp_tx) - e_q * (lq_T - lq_tx) + h2 - h1
            log_a0 = np.where(T > tx, log_g1 + np.log(-np.expm1(np.minimum(delta, 0.0))), -np.inf)
            log_share = np.log(s / (r + s + xl))
            const = (gammaln(r + xl) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + log_share)[ix]
            log_t1 = -(r + x) * la_T - s * lb_T - log_share[ix]
            return const + np.logaddexp(log_t1, log_a0)

    # ----------------------------------------------------------------- predictions
    def _log_alive_odds(self, x, tx, T):
        """log[P(alive) / P(dead)] = log term1 - log(s/(r+s+x) A0)."""
        r, alpha, s, beta = self._params()
        log_t1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        log_t2 = np.log(s / (r + s + x)) + self._log_a0(r, alpha, s, beta, x, tx, T)
        return log_t1 - log_t2

    def _p_alive(self, x, tx, T):
        return expit(self._log_alive_odds(x, tx, T))

    def _conditional_expected(self, t, x, tx, T):
        # E[Y(t) | x, t_x, T] = (r + x)(beta + T) / ((alpha + T)(s - 1)) [1 - ((beta + T)/(beta + T + t))^(s-1)] P(alive)
        r, alpha, s, beta = self._params()
        with np.errstate(all="ignore"):
            if abs(s - 1.0) < 1e-8:  # the limit s -> 1
                bracket = (beta + T) * np.log1p(t / (beta + T))
            else:
                bracket = (beta + T) / (s - 1.0) * -np.expm1((s - 1.0) * (np.log(beta + T) - np.log(beta + T + t)))
            value = (r + x) / (alpha + T) * bracket * self._p_alive(x, tx, T)
        return np.where(t > 0, value, 0.0)

    def _unconditional_expected(self, t):
        # E[X(t)] = r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s-1)]
        r, alpha, s, beta = self._params()
        with np.errstate(all="ignore"):
            if abs(s - 1.0) < 1e-8:
                value = r * beta / alpha * np.log1p(t / beta)
            else:
                value = r * beta / (alpha * (s - 1.0)) * -np.expm1((s - 1.0) * (np.log(beta) - np.log(beta + t)))
        return np.where(t > 0, value, 0.0)

    def _sample_future(self, ends, x, tx, T, p_alive, rng):
        """Cumulative future purchases ``(K, n)`` at ``ends`` (see ``TransactionModel.simulate_purchases``).

        Alive at ``T`` with ``p_alive``; then lambda ~ Gamma(r + x, rate alpha + T)
        and mu ~ Gamma(s, rate beta + T) (the posterior given survival to T;
        Fader & Hardie 2005, derivation note), an exponential remaining
        lifetime with rate mu and Poisson purchases while alive.
        """
        r, alpha, s, beta = self._params()
        alive = rng.random(x.size) < p_alive
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        mu = rng.gamma(s, 1.0 / (beta + T))
        life = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        exposure = np.diff(np.minimum(ends, life), axis=0, prepend=0.0)
        return np.where(alive, np.cumsum(rng.poisson(lam * exposure), axis=0), 0)

    def _sample_frequency(self, T, rng):
        r, alpha, s, beta = self._params()
        lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
        mu = rng.gamma(s, 1.0 / beta, size=T.shape)
        life = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        return rng.poisson(lam * np.minimum(life, T))
