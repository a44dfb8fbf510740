"""The log-likelihood of the Pareto/NBD with time-varying covariates, its gradient, and its closed form.

Model (Bachmann, Meierer & Naef 2021, "The role of time-varying contextual
factors in latent attrition models for customer base analysis", *Marketing
Science* 40(4); CLVTools' ``pnbd`` with dynamic covariates): while
alive a customer buys at rate ``lambda a(t)`` and leaves at rate ``mu c(t)``,
with ``a(t) = exp(b' x(t))``, ``c(t) = exp(g' z(t))`` piecewise constant
(one piece per covariate period), ``lambda ~ Gamma(r, alpha)``,
``mu ~ Gamma(s, beta)``. With ``A(t) = int_0^t a``, ``B(t) = int_0^t c`` from
the first purchase, a customer with ``x`` repeat purchases at ``t_1..t_x``
observed until ``T`` has, after integrating ``lambda`` and ``mu`` out,

``L = prod_j a(t_j) Gamma(r+x)/Gamma(r) alpha^r [E1 + E2]``,
``E1 = (alpha + A(T))^-(r+x) (beta / (beta + B(T)))^s`` (alive at T),
``E2 = int_{t_x}^T c(tau) s beta^s (beta + B(tau))^-(s+1) (alpha + A(tau))^-(r+x) dtau``
(left between the last purchase and T). With every multiplier 1 this is the
Pareto/NBD likelihood (Fader & Hardie 2005).

On one piece ``[lo, hi]`` with multipliers ``a``, ``c`` and ``u = tau - lo``
the integrand is ``s beta^s c^-s a^-(r+x) (u + P)^-(s+1) (u + Q)^-(r+x)`` with
``P = (beta + B(lo)) / c``, ``Q = (alpha + A(lo)) / a``: the static Pareto/NBD's
death-time integral with shifted bases. Two evaluations:

* :func:`evaluate`, what the model uses (fit, log-likelihood, P(alive)):
  Gauss-Legendre quadrature with ``n_nodes`` nodes per piece (every term
  positive, summed on the log scale), with the analytic gradient (chain rule
  through the cumulative ``A`` and ``B``: every coefficient's gradient is one
  pass over the pieces);
* :func:`exact_parts`, the closed form per piece (Euler-transformed 2F1 on
  the log scale, the same expression as :meth:`segwork.clv.ParetoNBD._log_a0`,
  checked against mpmath there): the reference the tests hold the quadrature
  to.

Why the quadrature: the closed form is exact for every base and exponent but
has no cheap derivative in ``r`` and ``s`` (they sit in the 2F1's parameters),
while the quadrature gives the whole gradient in the same pass, and it is fast: the
closed form's continued fraction needs about ``1 / sqrt(1 - z)`` terms, which
grow without bound when a multiplier is near 0 (17 s for one evaluation on
CLVTools' apparel data at the maximum likelihood, whose dropout multiplier in
the high season is e^-23, against 0.02 s by quadrature). Pieces are at most one
period long and the bases are at least ``alpha / a`` and ``beta / c``, so 6
nodes per period agree with 12 to ~1e-13 in each customer's log-likelihood on
the apparel data and on the simulated data of the tests (with 4: 1e-8); the
fit checks this at its optimum, customer by customer, and doubles the nodes
while they differ by more than 1e-10 (``TimeVaryingParetoNBD.quadrature_error_``).
The tests check the quadrature against the closed form to 1e-10 (also with
small ``alpha`` and ``beta``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from ._special import log_hyp2f1_one

__all__ = ["Geometry", "make_geometry", "evaluate", "mean_objective", "exact_parts", "log_pair_integral", "legendre_01"]


def legendre_01(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (``numpy.polynomial.legendre.leggauss`` mapped)."""
    x, w = np.polynomial.legendre.leggauss(int(m))
    return (x + 1.0) / 2.0, w / 2.0


@dataclass
class Geometry:
    """The fixed part of a design for the likelihood: pieces, the integral's pieces, chunks of customers."""

    n: int
    x: np.ndarray
    S_total: np.ndarray  # (p_purchase,) purchase design summed over every repeat purchase
    S: np.ndarray  # (n, p_purchase)
    offsets: np.ndarray
    cust: np.ndarray
    col: np.ndarray  # position of each piece among its customer's pieces
    length: np.ndarray
    x_code: np.ndarray
    z_code: np.ndarray
    X_rows: np.ndarray
    Z_rows: np.ndarray
    J: np.ndarray  # pieces of the integral over [t_x, T] (positive overlap)
    j_from: np.ndarray  # where the integral starts within piece J (time from the piece's start)
    j_span: np.ndarray  # length of the integral within piece J
    chunks: list  # (first customer, end customer, first piece, end piece, first J, end J)
    nodes: np.ndarray
    weights: np.ndarray


def make_geometry(design, n_nodes: int = 6, budget: int = 1_000_000) -> Geometry:
    """The :class:`Geometry` of a :class:`~segwork.clv.dynamic_covariates.DynamicDesign`.

    ``budget``: quadrature nodes per chunk of customers (memory: about 15
    arrays of that many floats at a time).
    """
    d = design
    tx_c = d.tx[d.cust]
    hi = d.lo + d.length
    start = np.maximum(d.lo, tx_c)
    J = np.flatnonzero(hi > start)
    j_from = start[J] - d.lo[J]
    j_span = hi[J] - start[J]
    per_cust = np.bincount(d.cust[J], minlength=len(d.x)) * int(n_nodes) + np.diff(d.offsets)
    chunks = []
    c0 = 0
    csum = np.cumsum(per_cust)
    n = len(d.x)
    j_at = np.searchsorted(d.cust[J], np.arange(n + 1), side="left")
    while c0 < n:
        base = csum[c0 - 1] if c0 else 0
        c1 = int(np.searchsorted(csum, base + budget, side="right"))
        c1 = min(max(c1, c0 + 1), n)
        chunks.append((c0, c1, int(d.offsets[c0]), int(d.offsets[c1]), int(j_at[c0]), int(j_at[c1])))
        c0 = c1
    t, w = legendre_01(n_nodes)
    return Geometry(n=n, x=d.x, S_total=d.S_purchase.sum(axis=0), S=d.S_purchase, offsets=d.offsets, cust=d.cust,
                    col=(np.arange(len(d.cust)) - d.offsets[d.cust]).astype(np.int32),
                    length=d.length, x_code=d.x_code, z_code=d.z_code, X_rows=d.X_rows, Z_rows=d.Z_rows, J=J,
                    j_from=j_from, j_span=j_span, chunks=chunks, nodes=t, weights=w)


def _split(theta, geo):
    pb, pg = geo.X_rows.shape[1], geo.Z_rows.shape[1]
    r, alpha, s, beta = np.exp(theta[:4])
    return r, alpha, s, beta, theta[4:4 + pb], theta[4 + pb:4 + pb + pg]


def _segment_exclusive_prefix(values, cu, col, width):
    """Sum of the earlier values of the same customer (pieces sorted by customer; ``col`` a piece's position in
    its customer's pieces). Each customer's running sum starts from 0 (a padded 2-d cumsum): a running sum over
    every customer would carry the rounding of the large totals into every customer's values."""
    pad = np.zeros((int(cu[-1]) + 1 if len(cu) else 0, width))
    pad[cu, col] = values
    np.cumsum(pad, axis=1, out=pad)
    return pad[cu, col] - values


def _chunk_state(geo, ch, r, alpha, s, beta, ea_rows, ec_rows):
    """Per-chunk arrays shared by :func:`evaluate` and :func:`exact_parts`."""
    c0, c1, p0, p1, j0, j1 = ch
    a = ea_rows[geo.x_code[p0:p1]]
    c = ec_rows[geo.z_code[p0:p1]]
    ln = geo.length[p0:p1]
    la, lc = a * ln, c * ln
    offs = geo.offsets[c0:c1 + 1] - p0
    starts = offs[:-1]
    cu = geo.cust[p0:p1] - c0
    A_T = np.add.reduceat(la, starts)
    B_T = np.add.reduceat(lc, starts)
    col = geo.col[p0:p1]
    width = int(col.max()) + 1
    A_lo = _segment_exclusive_prefix(la, cu, col, width)
    B_lo = _segment_exclusive_prefix(lc, cu, col, width)
    xc = geo.x[c0:c1]
    e2 = r + xc
    log_e1 = -e2 * np.log(alpha + A_T) + s * (np.log(beta) - np.log(beta + B_T))
    Jl = geo.J[j0:j1] - p0
    return a, c, ln, starts, cu, A_T, B_T, A_lo, B_lo, xc, e2, log_e1, Jl, cu[Jl], col, width


def _per_customer_logsumexp(log_e1, lg_piece_max, cj, nc):
    """Per-customer maximum of ``log_e1`` and the pieces' maxima (pieces sorted by customer)."""
    M = log_e1.copy()
    if len(cj):
        first = np.flatnonzero(np.r_[True, cj[1:] != cj[:-1]])
        M[cj[first]] = np.maximum(M[cj[first]], np.maximum.reduceat(lg_piece_max, first))
    return M


def evaluate(theta, geo: Geometry, want_grad: bool = True, want_customers: bool = False):
    """Total log-likelihood by quadrature and its gradient in ``theta`` = (log r, log alpha, log s, log beta,
    purchase coefficients, dropout coefficients).

    Returns ``(total, grad)``; with ``want_customers`` also a dict of per-customer
    arrays (length ``n``): ``ll`` (log-likelihood), ``log_alive`` (log P(alive at
    T) = log E1 - log(E1 + E2)), ``A_T``, ``B_T``. Non-finite values are returned
    as they are (the caller decides).
    """
    r, alpha, s, beta, b, g = _split(theta, geo)
    ea_rows = np.exp(geo.X_rows @ b)
    ec_rows = np.exp(geo.Z_rows @ g)
    t, w = geo.nodes, geo.weights
    log_w = np.log(w)
    const = gammaln(r + geo.x) - gammaln(r) + r * np.log(alpha)
    total = float(np.sum(const)) + float(geo.S_total @ b)
    grad = np.zeros(len(theta))
    dr = dalpha = ds = dbeta = 0.0
    Wx = np.zeros(len(geo.X_rows))
    Vz = np.zeros(len(geo.Z_rows))
    per_customer = {k: np.empty(geo.n) for k in ("ll", "log_alive", "A_T", "B_T")} if want_customers else None
    log_s_beta = np.log(s) + s * np.log(beta)
    for ch in geo.chunks:
        c0, c1, p0, p1, j0, j1 = ch
        a, c, ln, starts, cu, A_T, B_T, A_lo, B_lo, xc, e2, log_e1, Jl, cj, col, width = _chunk_state(
            geo, ch, r, alpha, s, beta, ea_rows, ec_rows)
        nc = c1 - c0
        # nodes as rows (m, pieces of the integral): sums over the nodes are sums of a few long rows
        j_from, j_span = geo.j_from[j0:j1], geo.j_span[j0:j1]
        aj, cjv, e2j = a[Jl], c[Jl], e2[cj]
        off = j_from + j_span * t[:, None]
        # alpha + A(tau) and beta + B(tau) at the nodes, and their logarithms (in place: fewer temporaries)
        dA = aj * off
        dA += A_lo[Jl] + alpha
        dB = cjv * off
        dB += B_lo[Jl] + beta
        lA = np.log(dA)
        lB = np.log(dB)
        piece_term = np.log(j_span) + np.log(cjv) + log_s_beta
        # a bound of each piece's largest term (its integrand is largest at its start) keeps exp() in range
        top = (piece_term + log_w.max() - (s + 1.0) * np.log(beta + B_lo[Jl] + cjv * j_from)
               - e2j * np.log(alpha + A_lo[Jl] + aj * j_from))
        M = _per_customer_logsumexp(log_e1, top, cj, nc)
        ex = lB * -(s + 1.0)
        ex -= e2j * lA
        ex += piece_term - M[cj]
        ex += log_w[:, None]
        np.exp(ex, out=ex)
        E2s = np.bincount(cj, weights=ex.sum(axis=0), minlength=nc)
        L = M + np.log(np.exp(log_e1 - M) + E2s)
        total += float(np.sum(L))
        if want_customers:
            per_customer["ll"][c0:c1] = const[c0:c1] + geo.S[c0:c1] @ b + L
            per_customer["log_alive"][c0:c1] = log_e1 - L
            per_customer["A_T"][c0:c1], per_customer["B_T"][c0:c1] = A_T, B_T
        if not want_grad:
            continue
        pi1 = np.exp(log_e1 - L)
        pin = ex
        pin *= np.exp(M - L)[cj]
        rho = pin * e2j
        rho /= dA
        q = pin * (s + 1.0)
        q /= dB
        lAT, lBT = np.log(alpha + A_T), np.log(beta + B_T)
        pin_tot = float(np.sum(1.0 - pi1))  # the nodes of a customer sum to 1 - pi1
        dr += float(np.sum(-pi1 * lAT)) - float(np.sum(pin * lA))
        dalpha += float(np.sum(-pi1 * e2 / (alpha + A_T))) - float(np.sum(rho))
        ds += float(np.sum(pi1 * (np.log(beta) - lBT))) + pin_tot * (1.0 / s + np.log(beta)) - float(np.sum(pin * lB))
        dbeta += float(np.sum(pi1 * s * (1.0 / beta - 1.0 / (beta + B_T)))) + pin_tot * s / beta - float(np.sum(q))
        npc = p1 - p0
        R0, R1, Q0, Q1, P0 = (np.zeros(npc) for _ in range(5))
        R0[Jl] = rho.sum(axis=0)
        R1[Jl] = j_from * R0[Jl] + j_span * (rho * t[:, None]).sum(axis=0)
        Q0[Jl] = q.sum(axis=0)
        Q1[Jl] = j_from * Q0[Jl] + j_span * (q * t[:, None]).sum(axis=0)
        P0[Jl] = pin.sum(axis=0)
        # the pieces after this one (same customer): their A(lo) and B(lo) contain this piece
        R_after = np.add.reduceat(R0, starts)[cu] - _segment_exclusive_prefix(R0, cu, col, width) - R0
        Q_after = np.add.reduceat(Q0, starts)[cu] - _segment_exclusive_prefix(Q0, cu, col, width) - Q0
        rho1 = pi1 * e2 / (alpha + A_T)
        q1 = pi1 * s / (beta + B_T)
        W = a * ln * (rho1[cu] + R_after) + a * R1
        V = P0 - c * ln * (q1[cu] + Q_after) - c * Q1
        Wx += np.bincount(geo.x_code[p0:p1], weights=W, minlength=len(Wx))
        Vz += np.bincount(geo.z_code[p0:p1], weights=V, minlength=len(Vz))
    if want_grad:
        n_x = geo.n
        dr += float(np.sum(digamma(r + geo.x))) - n_x * digamma(r) + n_x * np.log(alpha)
        dalpha += n_x * r / alpha
        pb = geo.X_rows.shape[1]
        grad[:4] = np.array([dr * r, dalpha * alpha, ds * s, dbeta * beta])
        grad[4:4 + pb] = geo.S_total - geo.X_rows.T @ Wx
        grad[4 + pb:] = geo.Z_rows.T @ Vz
    if want_customers:
        return total, grad, per_customer
    return total, grad


def mean_objective(geo: Geometry, full: np.ndarray, free: np.ndarray, n: float, penalizer: float):
    """The objective the time-varying Pareto/NBD minimises: ``fun(theta) -> (value, gradient)`` with ``value =
    -LL / n + penalizer |theta|^2``, ``LL`` the total log-likelihood (:func:`evaluate`) at ``full`` with the
    entries where ``free`` is True replaced by ``theta``, ``n`` the number of customers. A non-finite value or
    gradient is returned as ``(1e300, zeros)``, so the optimisers step back."""
    def fun(theta):
        v = full.copy()
        v[free] = theta
        with np.errstate(all="ignore"):
            total, grad = evaluate(v, geo)
        f = -total / n + penalizer * float(np.sum(theta * theta))
        g = -grad[free] / n + 2 * penalizer * theta
        if not (np.isfinite(f) and np.isfinite(g).all()):
            return 1e300, np.zeros(len(theta))
        return f, g
    return fun


def log_pair_integral(eQ, Q, eP, P, u1, u2):
    """``log int_{u1}^{u2} (u + Q)^-eQ (u + P)^-eP du`` for ``Q, P > 0``, ``eQ + eP > 1``, ``0 <= u1 <= u2``.

    The expression of :meth:`segwork.clv.ParetoNBD._log_a0` (Fader & Hardie
    2005 after Euler's transformation): with ``p`` the smaller base
    (exponent ``e_p``), ``q`` the larger (``e_q``) and ``k = e_p + e_q - 1``,
    ``G(t) = int_t^inf = (p + t)^(1 - e_p) (q + t)^(-e_q) / k * 2F1(1, e_q; k + 1; (q - p) / (q + t))``
    and the integral is ``G(u1) (1 - G(u2) / G(u1))`` with the ratio's powers as
    ``log1p`` of the gap. -inf where ``u2 == u1``. Broadcasts.
    """
    eQ, Q, eP, P, u1, u2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (eQ, Q, eP, P, u1, u2)))
    first = Q <= P
    p, ep = np.where(first, Q, P), np.where(first, eQ, eP)
    q, eq = np.where(first, P, Q), np.where(first, eP, eQ)
    k = ep + eq - 1.0
    h1 = log_hyp2f1_one(eq, k + 1.0, (q - p) / (q + u1))
    h2 = log_hyp2f1_one(eq, k + 1.0, (q - p) / (q + u2))
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = u2 - u1
        log_g1 = (1.0 - ep) * np.log(p + u1) - eq * np.log(q + u1) + h1
        delta = (1.0 - ep) * np.log1p(gap / (p + u1)) - eq * np.log1p(gap / (q + u1)) + h2 - h1
        out = log_g1 + np.log(-np.expm1(np.minimum(delta, 0.0))) - np.log(k)
    return np.where(u2 > u1, out, -np.inf)


def exact_parts(theta, geo: Geometry):
    """Per-customer ``(log-likelihood, log E1 - log(E1 + E2), A(T), B(T))`` with the integral in closed form.

    ``exp`` of the second is P(alive at T). Arrays of length ``n``.
    """
    r, alpha, s, beta, b, g = _split(theta, geo)
    ea_rows = np.exp(geo.X_rows @ b)
    ec_rows = np.exp(geo.Z_rows @ g)
    ll = np.empty(geo.n)
    log_alive = np.empty(geo.n)
    A_out, B_out = np.empty(geo.n), np.empty(geo.n)
    const = gammaln(r + geo.x) - gammaln(r) + r * np.log(alpha) + geo.S @ b
    for ch in geo.chunks:
        c0, c1, p0, p1, j0, j1 = ch
        a, c, ln, starts, cu, A_T, B_T, A_lo, B_lo, xc, e2, log_e1, Jl, cj, col, width = _chunk_state(
            geo, ch, r, alpha, s, beta, ea_rows, ec_rows)
        aj, cjv = a[Jl], c[Jl]
        P = (beta + B_lo[Jl]) / cjv
        Q = (alpha + A_lo[Jl]) / aj
        u1 = geo.j_from[j0:j1]
        lg = (np.log(s) + s * np.log(beta) - s * np.log(cjv) - e2[cj] * np.log(aj)
              + log_pair_integral(e2[cj], Q, s + 1.0, P, u1, u1 + geo.j_span[j0:j1]))
        M = _per_customer_logsumexp(log_e1, lg, cj, c1 - c0)
        E2s = np.bincount(cj, weights=np.exp(lg - M[cj]), minlength=c1 - c0)
        L = M + np.log(np.exp(log_e1 - M) + E2s)
        ll[c0:c1] = const[c0:c1] + L
        log_alive[c0:c1] = log_e1 - L
        A_out[c0:c1], B_out[c0:c1] = A_T, B_T
    return ll, log_alive, A_out, B_out
