"""GGom/NBD: the gamma-Gompertz / NBD model (Bemmaor & Glady 2012).

The story, for a student: purchases while alive as in the Pareto/NBD
(Poisson with a gamma-distributed rate: shape ``r``, rate ``alpha``); the
lifetime has a Gompertz hazard ``eta * b * exp(b tau)``, so dropout speeds up
with the customer's age when ``b > 0`` (``b`` -> 0 is the Pareto/NBD's
constant hazard); ``eta`` is gamma distributed across customers (shape ``s``,
rate ``beta``). The population survival is
``S(tau) = (beta / (beta + exp(b tau) - 1)) ** s``.

Likelihood of ``(x, t_x, T)``:

``L = Gamma(r + x) / Gamma(r) alpha^r [S(T) / (alpha + T)^(r + x) + int_{t_x}^{T} f(tau) / (alpha + tau)^(r + x) dtau]``

with the lifetime density ``f = -S'``. The integral has no closed form
(Bemmaor & Glady 2012, eq. 6; CLVTools integrates it numerically too): here
Gauss-Legendre quadrature with 64 nodes on ``[t_x, T]`` on the log scale
(checked against ``scipy.integrate.quad`` in tests/clv/test_ggom_nbd.py). The
gradient is analytic: differentiation under the integral sign with the same
quadrature (checked against central differences). Nested case: ``b -> 0``
with ``beta / b`` fixed is the Pareto/NBD with its ``beta = beta / b``
(tested). When the likelihood's maximum is on that boundary (no ageing of
dropout, as on CDNOW) the fit reports it with ``b`` fixed at a tiny value
(``at_boundary_``; see ``GGomNBD._optimise``).

Predictions: given alive at ``T`` the rate is Gamma(r + x, alpha + T) and
``eta`` Gamma(s, beta + exp(b T) - 1), so

``E[X(T, T + t) | x, t_x, T] = P(alive) (r + x) / (alpha + T) int_T^{T+t} ((beta + e^{bT} - 1) / (beta + e^{bu} - 1))^s du``

and for a new customer ``E[X(t)] = r / alpha int_0^t S(u) du`` (both by the
same quadrature).

Reference: A. C. Bemmaor and N. Glady (2012), "Modeling purchasing behavior
with sudden 'death': a flexible customer lifetime model", *Management
Science* 58(5), 1012-1021.

Published CDNOW estimates (Bemmaor & Glady 2012, Table 2: r = 0.553,
alpha = 10.578, b = 0.0002, s = 0.603, beta = 0.0026, LL = -9594.98): the
data identify r, alpha, s (given b) and the LL, which are reproduced to the
printed digits; ``b`` and ``beta`` lie on a ridge (``b -> 0``, ``beta / b``
fixed) along which the LL changes by 0.0015, so the paper's optimiser,
CLVTools' (b = 1.1e-6) and ours (the boundary) stop at different points of
it. See tests/clv/test_ggom_nbd.py.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma, expit, gammaln

from ..errors import ConvergenceError, IdentificationWarning
from .transaction import TransactionModel

__all__ = ["GGomNBD"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)


def _log_expm1(y):
    """log(exp(y) - 1) for y >= 0 (-inf at 0), without overflow and accurate for tiny y."""
    y = np.asarray(y, float)
    with np.errstate(divide="ignore"):
        return y + np.log(-np.expm1(-y))


def _log_surv(b, s, beta, tau):
    """log S(tau) = s [log beta - log(beta + exp(b tau) - 1)]."""
    return s * (np.log(beta) - np.logaddexp(np.log(beta), _log_expm1(b * tau)))


def _logsumexp_rows(v):
    """log sum exp over the last axis (-inf for an all -inf row); scipy's logsumexp is slower on small rows."""
    m = np.max(v, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return m[..., 0] + np.log(np.sum(np.exp(v - m), axis=-1))


def _quad_log(logf, lo, hi):
    """log int_lo^hi exp(logf(tau)) dtau by 64-node Gauss-Legendre (rows of lo/hi); -inf where hi <= lo."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    half = 0.5 * (hi - lo)
    tau = (0.5 * (hi + lo))[..., None] + half[..., None] * _NODES
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = logf(tau) + np.log(_WEIGHTS)
        out = np.log(np.where(half > 0, half, 1.0)) + _logsumexp_rows(vals)
    return np.where(hi > lo, out, -np.inf)


class GGomNBD(TransactionModel):
    """GGom/NBD model of repeat purchases and age-dependent dropout (non-contractual, continuous time).

    Attributes (after ``fit``): ``params_`` with ``r``, ``alpha`` (gamma
    purchase rates; ``alpha`` in the data's time unit), ``b`` (Gompertz
    ageing, per time unit), ``s``, ``beta`` (gamma heterogeneity of the
    dropout scale ``eta``); ``log_likelihood_``.
    """

    _param_names = ("r", "alpha", "b", "s", "beta")
    _limit_params = ("b", "s", "beta")
    _limit_note = ("a limit of the dropout process (b -> 0 with beta / b fixed: the Pareto/NBD, no ageing; "
                   "or nobody leaves)")
    #: True after a fit whose maximum is on the Pareto/NBD boundary (``b`` fixed at a tiny value, see ``_optimise``).
    at_boundary_ = False

    def _start(self, data, w):
        start = super()._start(data, w)
        start[2] = 0.05  # mild ageing
        start[4] = 1.0
        return start

    def _optimise(self, data, weights, x0):
        """Maximum likelihood with the Pareto/NBD boundary ``b -> 0`` handled explicitly.

        On data without ageing of dropout (CDNOW, constant-hazard data) the
        likelihood keeps rising along the ridge ``b -> 0`` with ``beta / b``
        fixed (the nested Pareto/NBD) and the five-parameter search runs off
        towards ``b = 0``. So: first fit the boundary, ``b = b0`` tiny
        (``b0 max(T) = 1e-6``) with ``r, alpha, s, c = beta / b`` free; if the
        likelihood falls when ``b`` grows from there (with ``beta / b`` fixed),
        the boundary is the maximum and is the fit (``b = b0``, standard
        error 0: fixed on its bound); otherwise the five-parameter fit starts
        from it, falling back to the boundary if it runs off towards 0. When
        the boundary fit itself does not converge (strong ageing: the
        Pareto/NBD limit runs off), the five-parameter fit starts from ``x0``.
        """
        t_max = max(float(np.max(data["T"])), 1e-12)
        b0 = 1e-6 / t_max
        edge = _AtBoundary(b0, penalizer=self.penalizer)
        try:
            edge._optimise(data, weights, np.array([x0[0], x0[1], x0[3], x0[1]]))
        except ConvergenceError:  # no Pareto/NBD limit to speak of (e.g. strong ageing): the plain search
            super()._optimise(data, weights, x0)
            return
        r, alpha, s, c = edge._params()
        at_edge = np.array([r, alpha, b0, s, c * b0])
        _, g = self._loglik(at_edge, data)
        slope = float(weights @ (g[2] + c * g[4]))  # d LL / d b along beta = c b
        if slope > 0 and not self.penalizer:
            try:
                b1 = 0.1 / t_max
                super()._optimise(data, weights, np.array([r, alpha, b1, s, c * b1]))
                return
            except ConvergenceError:
                pass
        self.params_ = dict(zip(self._param_names, map(float, at_edge)))
        self.log_likelihood_ = edge.log_likelihood_
        for attr in ("n_customers_", "n_rows_", "n_iter_"):
            setattr(self, attr, getattr(edge, attr))
        self._log_params = np.log(at_edge)
        self._fit_data = None
        cov4 = edge._cov_log()  # (log r, log alpha, log s, log c); log beta = log c + log b0, b fixed
        cov = np.zeros((5, 5))
        keep = [0, 1, 3, 4]
        cov[np.ix_(keep, keep)] = cov4
        cov[2, 2] = 1e-12  # b fixed on its bound (a tiny variance keeps the parameter draws' Cholesky defined)
        self._cov_cache = cov
        # b sits on its bound (no standard error); what the boundary fit could not identify maps back by name
        self.unidentified_ = ("b", *("beta" if p == "c" else p for p in getattr(edge, "unidentified_", ())))
        self.at_boundary_ = True
        # said like every other fit at a usable limit (check_identification's IdentificationWarning, whose
        # "the likelihood is flat towards" makes segwork.clv.record count it "at limit"), in the model's words
        warnings.warn(
            f"GGomNBD.fit: b={b0:.2g} is not identified by these data (the likelihood is flat towards the "
            f"Pareto/NBD limit b -> 0 with beta / b fixed, and highest there: dropout does not speed up or slow down "
            f"with the customer's age in these data); the fit is that limit, the Pareto/NBD with r={r:.4g}, "
            f"alpha={alpha:.4g}, s={s:.4g}, beta={c:.4g} (beta / b), and its predictions are those of the Pareto/NBD; "
            "b has no standard error or interval (NaN in summary())",
            IdentificationWarning, stacklevel=4,
        )

    @staticmethod
    def _terms(r, alpha, b, s, beta, x, tx, T):
        x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
        log_alive = _log_surv(b, s, beta, T) - (r + x) * np.log(alpha + T)

        def logf(tau):
            xx = x[..., None]
            return (np.log(s) + np.log(b) + b * tau + s * np.log(beta)
                    - (s + 1.0) * np.logaddexp(np.log(beta), _log_expm1(b * tau)) - (r + xx) * np.log(alpha + tau))

        log_dead = _quad_log(logf, tx, T)
        return log_alive, log_dead

    def _loglik(self, params, data):
        """Per-row log-likelihood and its analytic gradient in ``(r, alpha, b, s, beta)`` (shape ``(5, n)``).

        The gradient differentiates under the integral sign, with the same
        64-node quadrature as the likelihood: ``d log L = d log A +
        (E1 d log E1 + int f d log f) / (E1 + int f)`` (checked against
        central differences in tests/clv/test_ggom_nbd.py).
        """
        r, alpha, b, s, beta = params
        x, tx, T = (np.asarray(data[k], float) for k in ("x", "tx", "T"))
        lb = np.log(beta)
        lc_T = np.logaddexp(lb, _log_expm1(b * T))  # log(beta + e^{bT} - 1)
        log_alive = s * (lb - lc_T) - (r + x) * np.log(alpha + T)
        half = 0.5 * (T - tx)  # the death-time integral over (t_x, T]: quadrature nodes
        tau = (0.5 * (T + tx))[:, None] + half[:, None] * _NODES
        lc = np.logaddexp(lb, _log_expm1(b * tau))
        la = np.log(alpha + tau)
        xx = x[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            logf = np.log(s) + np.log(b) + b * tau + s * lb - (s + 1.0) * lc - (r + xx) * la
            lw = logf + np.log(_WEIGHTS) + np.log(np.where(half > 0, half, 1.0))[:, None]
            lw = np.where((half > 0)[:, None], lw, -np.inf)
            log_total = np.logaddexp(log_alive, _logsumexp_rows(lw))
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + log_total
        p_alive = np.exp(log_alive - log_total)  # shares of the alive term and of each node in the sum
        wk = np.exp(lw - log_total[:, None])
        share_T = np.exp(b * T - lc_T)  # e^{bT} / (beta + e^{bT} - 1)
        share = np.exp(b * tau - lc)
        g = np.empty((5, x.size))
        g[0] = digamma(r + x) - digamma(r) + np.log(alpha) - p_alive * np.log(alpha + T) - (wk * la).sum(1)
        g[1] = r / alpha - p_alive * (r + x) / (alpha + T) - (wk * (r + xx) / (alpha + tau)).sum(1)
        g[2] = -p_alive * s * T * share_T + (wk * (1.0 / b + tau - (s + 1.0) * tau * share)).sum(1)
        g[3] = p_alive * (lb - lc_T) + (wk * (1.0 / s + lb - lc)).sum(1)
        g[4] = p_alive * s * (1.0 / beta - np.exp(-lc_T)) + (wk * (s / beta - (s + 1.0) * np.exp(-lc))).sum(1)
        return ll, g

    def _p_alive(self, x, tx, T):
        log_alive, log_dead = self._terms(*self._params(), x, tx, T)
        return expit(log_alive - log_dead)

    def _conditional_expected(self, t, x, tx, T):
        r, alpha, b, s, beta = self._params()
        T = np.asarray(T, float)
        t = np.broadcast_to(np.asarray(t, float), T.shape)
        # the expected alive time in (T, T + t] depends on (T, t) only: one quadrature per distinct pair
        pairs, inverse = np.unique(np.stack([T.reshape(-1), t.reshape(-1)], axis=1), axis=0, return_inverse=True)
        uT, ut = pairs[:, 0], pairs[:, 1]
        log_c = np.logaddexp(np.log(beta), _log_expm1(b * uT))  # log(beta + e^{bT} - 1)

        def logf(u):
            return s * (log_c[..., None] - np.logaddexp(np.log(beta), _log_expm1(b * u)))

        alive_time = np.exp(_quad_log(logf, uT, uT + ut))[inverse.reshape(-1)].reshape(T.shape)
        value = (r + x) / (alpha + T) * alive_time * self._p_alive(x, tx, T)
        return np.where(t > 0, value, 0.0)

    def _unconditional_expected(self, t):
        r, alpha, b, s, beta = self._params()
        t = np.asarray(t, float)
        flat = t.reshape(-1)
        out = np.exp(_quad_log(lambda u: _log_surv(b, s, beta, u), np.zeros_like(flat), flat)) * r / alpha
        return np.where(t > 0, out.reshape(t.shape), 0.0)

    def _sample_future(self, ends, x, tx, T, p_alive, rng):
        """Cumulative future purchases ``(K, n)`` at ``ends`` (see ``TransactionModel.simulate_purchases``).

        Alive at ``T`` with ``p_alive``; then lambda ~ Gamma(r + x, rate alpha + T)
        and eta ~ Gamma(s, rate beta + e^(bT) - 1) (module docstring); the
        Gompertz remaining lifetime given survival to T solves
        ``eta e^(bT) (e^(bu) - 1) = E``, E ~ Exp(1): ``u = log1p(E / (eta e^(bT))) / b``.
        """
        r, alpha, b, s, beta = self._params()
        alive = rng.random(x.size) < p_alive
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        rate = np.exp(np.logaddexp(np.log(beta), _log_expm1(b * T)))  # beta + e^{bT} - 1
        eta = np.maximum(rng.gamma(s, 1.0 / rate), 1e-300)
        life = np.log1p(rng.exponential(1.0, size=x.size) / (eta * np.exp(b * T))) / b
        exposure = np.diff(np.minimum(ends, life), axis=0, prepend=0.0)
        return np.where(alive, np.cumsum(rng.poisson(lam * exposure), axis=0), 0)

    def _sample_frequency(self, T, rng):
        r, alpha, b, s, beta = self._params()
        lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
        eta = rng.gamma(s, 1.0 / beta, size=T.shape)
        life = np.log1p(rng.exponential(1.0, size=T.shape) / np.maximum(eta, 1e-300)) / b
        return rng.poisson(lam * np.minimum(life, T))


class _AtBoundary(TransactionModel):
    """The GGom/NBD at a fixed tiny ``b`` with ``c = beta / b`` free: the Pareto/NBD limit (fit helper)."""

    _param_names = ("r", "alpha", "s", "c")

    def __init__(self, b0=1e-8, penalizer=0.0):
        self.b0 = b0
        self.penalizer = penalizer

    def _loglik(self, params, data):
        r, alpha, s, c = params
        ll, g = GGomNBD._loglik(self, np.array([r, alpha, self.b0, s, c * self.b0]), data)
        return ll, np.stack([g[0], g[1], g[3], g[4] * self.b0])
