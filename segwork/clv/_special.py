"""Numerically careful special-function helpers shared by the models."""
from __future__ import annotations

import numpy as np

__all__ = ["log_hyp2f1", "log_hyp2f1_one"]


def log_hyp2f1_one(b, c, z, max_iter: int = 200_000):
    """log 2F1(1, b; c; z) for 0 <= z < 1, c > 0 and real b with b < c, evaluated on the log scale.

    Uses the continued fraction of the incomplete beta function (DLMF 8.17.22,
    evaluated with the modified Lentz method as in Numerical Recipes' ``betacf``):
    ``2F1(a + b', 1; a + 1; z)`` with ``a = c - 1`` and ``b' = b - c + 1`` (which may be
    negative). Unlike the power series, and unlike ``scipy.special.hyp2f1`` (which
    returns NaN or wrong finite values for large ``b`` and ``c`` with ``z`` near 1), it
    converges for every ``z < 1`` and never overflows: the value lies between 1 and
    ``(c - 1) / (c - b - 1)``. About ``1 / sqrt(1 - z)`` iterations are needed near
    ``z = 1``; each element stops when its last factor is within 1e-15 of 1.

    For ``z <= 0.5`` the power series (positive terms, each at most ``z`` times the one before
    since ``b < c``) is summed instead: the same value, faster.

    Broadcasts its arguments; returns a float array of that shape.
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b, c, z)))
    shape = b.shape
    small = z <= 0.5
    if small.all():
        return _log_hyp2f1_one_series(b, c, z)
    if small.any():
        out = np.empty(shape)
        out[small] = _log_hyp2f1_one_series(b[small], c[small], z[small])
        out[~small] = log_hyp2f1_one(b[~small], c[~small], z[~small], max_iter)
        return out
    a = (c - 1.0).reshape(-1)
    bb = (b - c + 1.0).reshape(-1)
    x = z.reshape(-1)
    tiny = 1e-300
    qab, qap, qam = a + bb, a + 1.0, a - 1.0
    with np.errstate(all="ignore"):
        d = 1.0 - qab * x / qap
        d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
        cc = np.ones_like(x)
        logh = np.log(np.abs(d))
        sign = np.sign(d)
        active = np.flatnonzero(x > 0)
        m = 0
        while active.size and m < max_iter:
            m += 1
            m2 = 2.0 * m
            ai, bi, xi, ci, di = a[active], bb[active], x[active], cc[active], d[active]
            aa = m * (bi - m) * xi / ((qam[active] + m2) * (ai + m2))
            di = 1.0 + aa * di
            di = 1.0 / np.where(np.abs(di) < tiny, tiny, di)
            ci = 1.0 + aa / ci
            ci = np.where(np.abs(ci) < tiny, tiny, ci)
            f1 = di * ci
            aa = -(ai + m) * (qab[active] + m) * xi / ((ai + m2) * (qap[active] + m2))
            di = 1.0 + aa * di
            di = 1.0 / np.where(np.abs(di) < tiny, tiny, di)
            ci = 1.0 + aa / ci
            ci = np.where(np.abs(ci) < tiny, tiny, ci)
            f2 = di * ci
            f = f1 * f2
            logh[active] += np.log(np.abs(f))
            sign[active] *= np.sign(f)
            cc[active], d[active] = ci, di
            active = active[np.abs(f2 - 1.0) >= 1e-15]
        out = np.where(sign > 0, logh, np.nan)
        if active.size:  # did not converge (not seen in the tested range): no value rather than a wrong one
            out[active] = np.nan
    out[x == 0] = 0.0
    return out.reshape(shape)


def _log_hyp2f1_one_series(b, c, z):
    """log 2F1(1, b; c; z) by its power series, for 0 <= z <= 0.5 and b < c (terms shrink by at least z)."""
    if z.size == 0:
        return np.zeros(z.shape)
    zmax = float(np.max(z))
    if zmax <= 0.0:
        return np.zeros(z.shape)
    n_terms = int(np.ceil(np.log(1e-17) / np.log(zmax))) + 1
    term = np.ones(z.shape)
    total = np.ones(z.shape)
    with np.errstate(all="ignore"):
        for n in range(n_terms):
            term = term * ((b + n) / (c + n) * z)
            total = total + term
    return np.log(total)


def log_hyp2f1(a, b, c, z, max_terms: int = 200_000):
    """``(log|2F1(a, b; c; z)|, sign)`` for 0 <= z < 1 by the power series summed on the log scale.

    For ``a, b > 0`` and ``c`` not a non-positive integer (the cases of the BG/NBD, MBG/NBD and sBG
    expressions). Every term is kept as a logarithm and a sign, and the positive and the negative terms
    are summed separately relative to their running maximum, so large parameters (frequencies in the
    thousands) neither overflow nor lose the small terms; the terms are positive once ``c + k > 0``, so
    cancellation is limited to the first ``-c`` terms. The sum stops when the remaining terms, bounded by
    a geometric series, are below 1e-17 of it; about ``max(a, b) z / (1 - z) + 40 / (1 - z)`` terms.
    Elements that have not converged after ``max_terms`` terms are NaN. Broadcasts its arguments.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    shape = a.shape
    a, b, c, z = (v.reshape(-1).copy() for v in (a, b, c, z))
    n = a.size
    log_z = np.log(np.where(z > 0, z, 1.0))
    log_t = np.zeros(n)  # log |term k|
    sgn = np.ones(n)  # sign of term k
    mpos, spos = np.zeros(n), np.ones(n)  # positive terms: running max and sum relative to it
    mneg, sneg = np.full(n, -np.inf), np.zeros(n)
    active = np.flatnonzero(z > 0)
    k = 0
    with np.errstate(all="ignore"):
        while active.size and k < max_terms:
            ai, bi, ci = a[active] + k, b[active] + k, c[active] + k
            ratio = ai * bi / (ci * (k + 1.0))
            lt = log_t[active] + np.log(np.abs(ratio)) + log_z[active]
            sg = sgn[active] * np.sign(ratio)
            log_t[active], sgn[active] = lt, sg
            for m_arr, s_arr, pick in ((mpos, spos, sg > 0), (mneg, sneg, sg < 0)):
                idx = active[pick]
                if idx.size:
                    m_old, l_new = m_arr[idx], lt[pick]
                    up = l_new > m_old
                    s_arr[idx] = np.where(up, s_arr[idx] * np.exp(m_old - l_new) + 1.0,
                                          s_arr[idx] + np.exp(l_new - m_old))
                    m_arr[idx] = np.where(up, l_new, m_old)
            k += 1
            # the next ratio; once it is < 1 and every later one stays below max(it, z), the tail is geometric
            nxt = (ai + 1.0) * (bi + 1.0) / ((ci + 1.0) * (k + 1.0)) * z[active]
            bound = np.maximum(np.abs(nxt), z[active])
            total = mpos[active] + np.log(spos[active])
            done = (ci + 1.0 > 0) & (nxt > 0) & (bound < 1.0) & \
                   (lt + np.log(np.abs(nxt)) - np.log1p(-bound) < total + np.log(1e-17))
            active = active[~done]
        lp = mpos + np.log(spos)
        ln = np.where(sneg > 0, mneg + np.log(sneg), -np.inf)
        sign = np.where(lp >= ln, 1.0, -1.0)
        hi, lo = np.maximum(lp, ln), np.minimum(lp, ln)
        out = hi + np.log1p(-np.exp(lo - hi))
    out[active] = np.nan
    return out.reshape(shape), sign.reshape(shape)
