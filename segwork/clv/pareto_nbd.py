"""Pareto/NBD: the original "counting your customers" model (Schmittlein, Morrison & Colombo 1987).

The story, for a student:

* while alive, a customer buys at random times with a personal rate
  ``lambda``, gamma distributed across customers (shape ``r``, rate
  ``alpha``), as in the BG/NBD;
* each customer has an unobserved lifetime that ends at a random moment in
  continuous time (exponential with a personal dropout rate ``mu``, gamma
  distributed across customers with shape ``s`` and rate ``beta``); unlike the
  BG/NBD, dropout can happen at any time, not only right after a purchase.

The likelihood needs the Gauss hypergeometric function; we use the
formulation of Fader, Hardie & Lee's MATLAB note (2005), computed on the log
scale (the difference of the two 2F1 terms with ``log1p``; the sum with
``logaddexp``), with ``scipy.special.hyp2f1``. The gradient is numerical
(central differences of the log-likelihood on the log-parameter scale).

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

from ._special import hyp2f1_safe
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
    def _log_f(r, alpha, s, beta, x, t):
        """log[2F1(k, b; k + 1; z(t)) / (base + t)^k] of FHL's MATLAB note, k = r + s + x."""
        k = r + s + x
        if alpha >= beta:
            b, base, diff = s + 1.0, alpha, alpha - beta
        else:
            b, base, diff = r + x, beta, beta - alpha
        return np.log(hyp2f1_safe(k, b, k + 1.0, diff / (base + t))) - k * np.log(base + t)

    @classmethod
    def _log_a0(cls, r, alpha, s, beta, x, tx, T, pairs=None):
        """log of FHL's A0 (the integral over death times between t_x and T), -inf where t_x == T."""
        if pairs is None:
            l1 = cls._log_f(r, alpha, s, beta, x, tx)
            l2 = cls._log_f(r, alpha, s, beta, x, T)
        else:
            (c1, x1, t1), (c2, x2, t2) = pairs
            l1 = cls._log_f(r, alpha, s, beta, x1, t1)[c1]
            l2 = cls._log_f(r, alpha, s, beta, x2, t2)[c2]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))
        return np.where(T > tx, out, -np.inf)

    def _loglik(self, params, data):
        r, alpha, s, beta = params
        x, tx, T = data["x"], data["tx"], data["T"]
        log_t1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        pairs = (data["pair_tx"], data["pair_T"]) if "pair_tx" in data else None
        log_t2 = np.log(s / (r + s + x)) + self._log_a0(r, alpha, s, beta, x, tx, T, pairs)
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(log_t1, log_t2)
        return ll, None

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

    def _sample_frequency(self, T, rng):
        r, alpha, s, beta = self._params()
        lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
        mu = rng.gamma(s, 1.0 / beta, size=T.shape)
        life = rng.exponential(1.0 / np.maximum(mu, 1e-300))
        return rng.poisson(lam * np.minimum(life, T))
