"""BG/NBD: the beta-geometric / negative binomial distribution model (Fader, Hardie & Lee 2005).

The story, for a student:

* while alive, a customer buys at random times with a steady personal rate
  ``lambda`` (a Poisson process); rates differ between customers following a
  gamma distribution with shape ``r`` and rate ``alpha`` (mean ``r / alpha``
  purchases per time unit);
* after each *repeat* purchase the customer may leave for good with a
  personal probability ``p``; these differ between customers following a beta
  distribution with parameters ``a`` and ``b`` (mean ``a / (a + b)``);
* we never see who has left: a long silence is evidence of dropout, more so
  for a customer who used to buy often.

Reference: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "Counting your
customers the easy way: an alternative to the Pareto/NBD model", *Marketing
Science* 24(2), 275-284 (likelihood eq. 6, expectations eqs. 9-10); P(alive)
from B. Hardie's note 021.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, hyp2f1, psi

from ._special import log_hyp2f1
from .base import distinct_rows
from .base import dot as _dot
from .transaction import TransactionModel

__all__ = ["BetaGeo"]


class BetaGeo(TransactionModel):
    """BG/NBD model of repeat purchases and dropout (non-contractual, continuous time).

    Parameters
    ----------
    penalizer: L2 penalty on the log parameters (0 = plain maximum
        likelihood); see :mod:`segwork.clv.base`.
    start_sample: with more customers (rows with a weight) than this, the
        search starts from the optimum of a seeded uniform random sample of
        that many rows (then of subsamples ten times larger) and finishes
        with Newton steps (analytic Hessian) on **all** customers
        (:mod:`segwork.clv.sample_start`): the estimates are still the
        maximum-likelihood estimates of every customer, to within rounding
        (measured in ``benchmarks/bench_fit_scale.py``), at a fraction of
        the time. ``None``: always L-BFGS-B on the distinct histories.
        Default 100,000; smaller data sets (e.g. CDNOW) are fitted as before.
    random_state: seed of that sample (it decides only where the search
        starts).

    Attributes (after ``fit``)
    --------------------------
    params_: dict with ``r``, ``alpha`` (gamma purchase-rate heterogeneity;
        ``alpha`` in the data's time unit), ``a``, ``b`` (beta dropout).
    log_likelihood_: total log-likelihood.
    fit_method_: how the estimates were found, in words (which route, how
        many customers, the sample size and seed); also in
        ``summary().attrs["fit_method"]``. Not set by a fit with covariates.

    Examples
    --------
    >>> summary = segwork.features.rfm_summary(tx, calibration_end="1997-09-30", time_unit="weeks")
    >>> model = BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    >>> model.p_alive(summary["frequency"], summary["recency"], summary["T"])
    """

    _param_names = ("r", "alpha", "a", "b")
    # covariates (segwork.clv.covariates): alpha_i = alpha exp(-g_purchase'z), a_i = a exp(g_a'z), b_i = b exp(g_b'z)
    _covariate_links = (("alpha", -1), ("a", 1), ("b", 1))
    _covariate_groups = ("purchase", "dropout_a", "dropout_b")
    _limit_params = ("a", "b")
    _limit_note = ("a limit of the dropout process (a -> 0: nobody leaves; b -> 0: everybody leaves at once; "
                   "a, b -> infinity: the same dropout probability for every customer)")

    def __init__(self, penalizer: float = 0.0, start_sample: int | None = 100_000, random_state=0):
        self.penalizer = penalizer
        self.start_sample = start_sample
        self.random_state = random_state

    def _fit_histories(self, x, tx, t, w) -> None:
        """More than ``start_sample`` customers: start from a seeded sample's optimum and finish on all customers
        (:func:`segwork.clv.sample_start.fit_from_sample`); otherwise the exact fit on the distinct histories."""
        from .sample_start import fit_from_sample

        if fit_from_sample(self, x, tx, t, w):
            return
        super()._fit_histories(x, tx, t, w)
        self.fit_method_ = (f"maximum likelihood on all {self.n_customers_:,.0f} customers (L-BFGS-B on their "
                            f"{self.n_rows_:,} distinct histories)")

    #: 0 for the BG/NBD (dropout only after repeat purchases); 1 for the MBG/NBD,
    #: where a customer may also leave right after the first purchase.
    _shift = 0

    def _loglik(self, params, data):
        r, alpha, a, b = params
        x, tx, T = data["x"], data["tx"], data["T"]
        sh = self._shift
        xs = x + sh
        bx1 = b + np.maximum(xs, 1.0) - 1  # b + x - 1 (BG/NBD) or b + x (MBG/NBD)
        A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        A2 = gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
        A3 = -(r + x) * np.log(alpha + T)
        A4 = np.where(xs > 0, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
        m = np.maximum(A3, A4)
        e3, e4 = np.exp(A3 - m), np.exp(A4 - m)
        ll = A1 + A2 + m + np.log(e3 + e4)
        w4 = e4 / (e3 + e4)  # share of the "dropped out after the last purchase" term
        w3 = 1.0 - w4
        grad = np.empty((4, len(x)))
        grad[0] = psi(r + x) - psi(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx)
        grad[1] = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
        grad[2] = psi(a + b) - psi(a + b + xs) + w4 / a
        grad[3] = psi(a + b) + psi(b + xs) - psi(b) - psi(a + b + xs) - w4 / bx1
        return ll, grad

    def _total_loglik(self, params, data, weights):
        """Fast path of the weighted total: the same terms as ``_loglik``, with the
        special functions evaluated once per distinct frequency / recency / T."""
        if "x_levels" not in data:
            return super()._total_loglik(params, data, weights)
        r, alpha, a, b = params
        xl, ix = data["x_levels"], data["x_codes"]
        ltl, itx = np.log(alpha + data["tx_levels"]), data["tx_codes"]
        lTl, iT = np.log(alpha + data["T_levels"]), data["T_codes"]
        x = data["x"]
        sh = self._shift
        xls = xl + sh
        with np.errstate(all="ignore"):
            wx = np.bincount(ix, weights=weights, minlength=len(xl))  # customers per frequency
            la = np.log(alpha)
            const = _dot(wx, gammaln(r + xl) - gammaln(r) + r * la
                         + gammaln(a + b) + gammaln(b + xls) - gammaln(b) - gammaln(a + b + xls))
            lbx = np.log(b + np.maximum(xls, 1.0) - 1.0)
            rx = r + x
            lT, ltx = lTl[iT], ltl[itx]
            A3 = -rx * lT
            A4 = np.where(x + sh > 0, np.log(a) - lbx[ix] - rx * ltx, -np.inf)
            m = np.maximum(A3, A4)
            e3, e4 = np.exp(A3 - m), np.exp(A4 - m)
            s = e3 + e4
            total = const + _dot(weights, m + np.log(s))
            w4 = weights * (e4 / s)
            w3 = weights - w4
            g = np.empty(4)
            g[0] = _dot(wx, psi(r + xl) - psi(r) + la) - _dot(w3, lT) - _dot(w4, ltx)
            g[1] = r / alpha * wx.sum() - _dot(w3 * rx, np.exp(-lT)) - _dot(w4 * rx, np.exp(-ltx))
            sw4 = w4.sum()
            g[2] = _dot(wx, psi(a + b) - psi(a + b + xls)) + sw4 / a
            w4x = np.bincount(ix, weights=w4, minlength=len(xl))
            g[3] = _dot(wx, psi(a + b) + psi(b + xls) - psi(b) - psi(a + b + xls)) - _dot(w4x, np.exp(-lbx))
        return float(total), g

    #: Rows per block of :meth:`_total_hessian` (its temporaries stay in the CPU cache).
    _BLOCK = 1 << 15

    def _total_hessian(self, params, data, weights, hessian: bool = True):
        """The weighted total log-likelihood, its gradient ``(4,)`` and (``hessian=True``) Hessian ``(4, 4)`` in
        ``(r, alpha, a, b)`` (natural scale; else None), in one pass over the rows of ``data`` (``x`` per row and
        the ``*_levels`` / ``*_codes`` of each column, as :func:`segwork.clv.base.compress` gives them; rows need
        not be distinct), in blocks of :attr:`_BLOCK` rows.

        Per customer ``l = C(x) + A3 + log(1 + exp(u))`` with ``u = A4 - A3`` (Fader, Hardie & Lee 2005, eq. 6;
        ``C`` the gamma-function terms, ``A3 = -(r + x) log(alpha + T)``, ``A4 = log a - log(b + x - 1) -
        (r + x) log(alpha + t_x)``), so with ``w4 = 1 / (1 + exp(-u))`` (the share of "left after the last
        purchase"), ``w3 = 1 - w4`` and ``d = grad A3 - grad A4``: ``grad l = grad C + w3 grad A3 + w4 grad A4``
        and ``hess l = hess C + w3 hess A3 + w4 hess A4 + w3 w4 d d'`` (the second derivative of a
        log-sum-exp). The terms in ``T`` alone are summed per distinct ``T``. Checked against
        :meth:`_total_loglik` and central differences of its gradient in tests/clv/test_beta_geo_large.py.
        """
        from scipy.special import polygamma

        r, alpha, a, b = (float(v) for v in params)
        xl, ix = data["x_levels"], data["x_codes"]
        txl, itx = data["tx_levels"], data["tx_codes"]
        Tl, iT = data["T_levels"], data["T_codes"]
        xls = xl + self._shift
        with np.errstate(all="ignore"):
            wx = np.bincount(ix, weights=weights, minlength=len(xl))  # customers per frequency
            wT = np.bincount(iT, weights=weights, minlength=len(Tl))  # ... per T
            wTx = np.bincount(iT, weights=weights * data["x"], minlength=len(Tl))  # their purchases
            n = float(wx.sum())
            la = np.log(alpha)
            lTl, iaTl = np.log(alpha + Tl), 1.0 / (alpha + Tl)
            ltl, iatl = np.log(alpha + txl), 1.0 / (alpha + txl)
            lbx = np.log(b + np.maximum(xls, 1.0) - 1.0)
            ibx = np.exp(-lbx)
            c4l = np.where(xls > 0, np.log(a) - lbx, -np.inf)  # log a - log(b + x - 1); no dropout yet: -inf
            rxl = r + xl
            # sums over rows of terms in T alone (A3 and its derivatives), per distinct T
            rwT = r * wT + wTx  # sum of weights * (r + x) per T
            total = (np.dot(wx, gammaln(r + xl) - gammaln(r) + r * la + gammaln(a + b) + gammaln(b + xls)
                            - gammaln(b) - gammaln(a + b + xls)) - np.dot(rwT, lTl))
            s_w4 = s_w4D = s_w4rE = s_w4E = s_w4rE2 = 0.0  # weighted sums of w4 (times D, (r+x) E, ...)
            s = np.zeros(6)  # sums of w34 D^2, D d1, d1^2, D, d1, (unused)
            w4x = np.zeros(len(xl))
            w34x, w34Dx, w34d1x = np.zeros(len(xl)), np.zeros(len(xl)), np.zeros(len(xl))
            for lo in range(0, len(weights), self._BLOCK):
                sl = slice(lo, lo + self._BLOCK)
                jx, jT, jt, wt = ix[sl], iT[sl], itx[sl], weights[sl]
                lT = lTl[jT]
                D = ltl[jt] - lT  # log((alpha + t_x) / (alpha + T)) <= 0
                rx = rxl[jx]
                u = c4l[jx] - rx * D  # A4 - A3
                s4 = expit(u)  # w4: 0 where u = -inf
                total += np.dot(wt, np.logaddexp(0.0, u))  # log(1 + e^u)
                w4 = wt * s4
                s_w4 += w4.sum()
                s_w4D += np.dot(w4, D)
                E = iatl[jt] - iaTl[jT]  # 1 / (alpha + t_x) - 1 / (alpha + T)
                rE = rx * E
                s_w4rE += np.dot(w4, rE)
                w4x += np.bincount(jx, weights=w4, minlength=len(xl))
                if hessian:
                    s_w4E += np.dot(w4, E)
                    s_w4rE2 += np.dot(w4 * rx, E * (iatl[jt] + iaTl[jT]))  # (r+x)(1/(a+tx)^2 - 1/(a+T)^2)
                    w34 = w4 * (1.0 - s4)
                    w34D, w34d1 = w34 * D, w34 * rE
                    s += (np.dot(w34D, D), np.dot(w34D, rE), np.dot(w34d1, rE), w34D.sum(), w34d1.sum(), 0.0)
                    w34x += np.bincount(jx, weights=w34, minlength=len(xl))
                    w34Dx += np.bincount(jx, weights=w34D, minlength=len(xl))
                    w34d1x += np.bincount(jx, weights=w34d1, minlength=len(xl))
            psi_ab = psi(a + b) - psi(a + b + xls)
            g = np.empty(4)
            g[0] = np.dot(wx, psi(r + xl) - psi(r) + la) - np.dot(wT, lTl) - s_w4D
            g[1] = r / alpha * n - np.dot(rwT, iaTl) - s_w4rE
            g[2] = np.dot(wx, psi_ab) + s_w4 / a
            g[3] = np.dot(wx, psi_ab + psi(b + xls) - psi(b)) - np.dot(w4x, ibx)
            if not hessian:
                return float(total), g, None
            tri_ab = polygamma(1, a + b) - polygamma(1, a + b + xls)
            h = np.zeros((4, 4))
            h[0, 0] = np.dot(wx, polygamma(1, r + xl) - polygamma(1, r)) + s[0]
            h[0, 1] = n / alpha - np.dot(wT, iaTl) - s_w4E + s[1]
            h[1, 1] = -r * n / alpha ** 2 + np.dot(rwT, iaTl ** 2) + s_w4rE2 + s[2]
            h[0, 2] = -s[3] / a
            h[1, 2] = -s[4] / a
            h[0, 3] = np.dot(w34Dx, ibx)
            h[1, 3] = np.dot(w34d1x, ibx)
            h[2, 2] = np.dot(wx, tri_ab) - s_w4 / a ** 2 + w34x.sum() / a ** 2
            h[2, 3] = np.dot(wx, tri_ab) - np.dot(w34x, ibx) / a
            h[3, 3] = (np.dot(wx, tri_ab + polygamma(1, b + xls) - polygamma(1, b)) + np.dot(w4x, ibx ** 2)
                       + np.dot(w34x, ibx ** 2))
        h = np.triu(h) + np.triu(h, 1).T
        return float(total), g, h

    # ----------------------------------------------------------------- predictions
    def _log_odds_dead(self, x, tx, T):
        r, alpha, a, b = self._params()
        xs = x + self._shift  # purchases after which the customer may have left
        with np.errstate(divide="ignore"):
            lo = np.log(a) - np.log(b + np.maximum(xs, 1.0) - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(xs > 0, lo, -np.inf)  # BG/NBD: no repeat purchase, no chance to leave yet

    def _p_alive(self, x, tx, T):
        return expit(-self._log_odds_dead(x, tx, T))

    @staticmethod
    def _bracket(a, n, bp, z):
        """``[1 - (1 - z)^n 2F1(n, bp; a + bp - 1; z)] / (a - 1)``, the common part of the BG/NBD and MBG/NBD expectations.

        Evaluated on the log scale (:func:`segwork.clv._special.log_hyp2f1`), with the 2F1 in whichever
        of its two forms has no large cancelling terms: as written (positive terms when ``a + bp > 1``)
        or after Euler's transformation, ``(1 - z)^(a - 1) 2F1(a + bp - 1 - n, a - 1; a + bp - 1; z)``,
        choosing the one whose terms grow less (frequent buyers with long horizons no longer overflow). ``1 - X`` is ``-expm1(log X)``. ``a = 1`` is a removable singularity: within 5e-7
        of it the mean of the values at ``1 -+ 1e-6`` is used (error ~1e-10).
        """
        if abs(a - 1.0) < 5e-7:
            return 0.5 * (BetaGeo._bracket(1.0 - 1e-6, n, bp, z) + BetaGeo._bracket(1.0 + 1e-6, n, bp, z))
        n, bp, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (n, bp, z)))
        c = a + bp - 1.0
        # Euler's form when its parameters are not negative below -1 (no large alternating terms) and its
        # terms grow less (A B z / c: the leading ratio) than those of the form as written, or c <= 0
        euler = (c - n >= -1.0) & ((np.abs((c - n) * (a - 1.0)) <= n * bp) | (c <= 0))
        A, B = np.where(euler, c - n, n), np.where(euler, a - 1.0, bp)
        with np.errstate(all="ignore"):
            # scipy's hyp2f1 where its parameters are moderate (fast; checked against the model's definition
            # in tests/clv/test_closed_forms.py), the log-scale series elsewhere or where scipy gives no value
            fast = (np.abs(A) <= 50) & (np.abs(B) <= 50) & (c <= 50) & (c > 0)
            lin = np.where(fast, hyp2f1(np.where(fast, A, 0.0), np.where(fast, B, 0.0), np.where(fast, c, 1.0),
                                        np.where(fast, z, 0.0)), np.nan)
            ok = fast & np.isfinite(lin) & (lin > 0)
            lf, sign = np.asarray(np.log(np.where(ok, lin, 1.0))), np.ones(lin.shape)  # 0-d stays an array
            slow = ~ok
            if slow.any():
                lf[slow], sign[slow] = log_hyp2f1(A[slow], B[slow], c[slow], z[slow])
            log_x = np.where(euler, (a - 1.0), n) * np.log1p(-z) + lf
            one_minus_x = np.where(sign > 0, -np.expm1(log_x), 1.0 + np.exp(log_x))
            return np.where(z > 0, one_minus_x / (a - 1.0), 0.0)

    def _conditional_expected(self, t, x, tx, T):
        r, alpha, a, b = self._params()
        sh = self._shift
        # the 2F1 part depends on a customer through (x, T) only, not t_x: evaluated once per distinct (t, x, T)
        # (the CLV's months x histories grid repeats it ~5x) and gathered back, the same numbers elementwise
        rows, first = distinct_rows(t, x, T)
        tu, xu, Tu = t[first], x[first], T[first]
        z = tu / (alpha + Tu + tu)
        value = ((a + b + xu + (sh - 1)) * self._bracket(a, r + xu, b + xu + sh, z))[rows]
        return np.where(t > 0, value * self._p_alive(x, tx, T), 0.0)

    def _unconditional_expected(self, t):
        r, alpha, a, b = self._params()
        value = (a + b - 1) * self._bracket(a, r, b, t / (alpha + t))
        return np.where(t > 0, value, 0.0)

    def _sample_future(self, ends, x, tx, T, p_alive, rng):
        """Cumulative future purchases ``(K, n)`` at ``ends`` (see ``TransactionModel.simulate_purchases``).

        Alive at ``T`` with ``p_alive``; then lambda ~ Gamma(r + x, rate alpha + T)
        and p ~ Beta(a, b + x + shift) (the posterior given survival through
        the ``x + shift`` purchases seen; Fader, Hardie & Lee 2005), Poisson
        purchases, and dropout after each with probability p: the customer
        makes ``min(N(t), G)`` purchases by ``t``, ``G`` ~ Geometric(p) the
        purchase after which they leave.
        """
        r, alpha, a, b = self._params()
        n = x.size
        alive = rng.random(n) < p_alive
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        p = np.clip(rng.beta(a, b + x + self._shift), 1e-12, 1.0)
        last = rng.geometric(p)
        widths = np.diff(ends, axis=0, prepend=0.0)
        made = np.minimum(np.cumsum(rng.poisson(lam * widths), axis=0), last)
        return np.where(alive, made, 0)

    def _sample_frequency(self, T, rng):
        n, last = self._sample_latent(T, rng)
        return np.minimum(n, last)

    def _sample_latent(self, T, rng):
        """Draw each customer's purchases-if-alive ``n`` in ``(0, T]`` and the repeat purchase ``last``
        after which they leave; the observed frequency is ``min(n, last)``, alive at T iff ``n < last``.

        ``T`` is an array of observation times (in the unit of ``alpha``); ``rng`` a numpy Generator.
        The draws, in this order: rate, dropout probability, Poisson count, geometric dropout point
        (:func:`segwork.clv.simulate.simulate_bg_nbd` relies on the same stream).
        """
        r, alpha, a, b = self._params()
        lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
        p = np.clip(rng.beta(a, b, size=T.shape), 1e-12, 1.0)
        n = rng.poisson(lam * T)
        # The repeat purchase after which the customer leaves: 1, 2, ... (BG/NBD); 0, 1, ... (MBG/NBD,
        # who may leave right after the first purchase).
        last = rng.geometric(p) - self._shift
        return n, last
