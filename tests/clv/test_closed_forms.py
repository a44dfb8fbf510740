"""Issue 13, kind 5: the closed forms of clv/ against high-precision references (mpmath), over wide ranges.

The field case is ``tests/clv/field_cases/pareto_frequent_buyers.py`` (a copy of
``../shared/field-cases/pareto_frequent_buyers.py``): Pareto/NBD data with frequencies in the hundreds and
slow dropout. Fader, Hardie & Lee's 2F1(r+s+x, .; r+s+x+1; z) overflowed in linear space for them (NaN
log-likelihood for 128 customers at the true parameters, a false ConvergenceError, NaN P(alive)).

The references are computed independently of segwork's formulas: the Pareto/NBD likelihood from its
definition with the death-time integral done by mpmath in 40 digits, FHL's *original* (not
Euler-transformed) 2F1 in mpmath, and plain sums for the discrete-time models. Parameters span 1e-3 to
1e4, frequencies up to thousands, T up to hundreds of weeks.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from segwork.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD
from segwork.clv._special import log_hyp2f1_one

mp = pytest.importorskip("mpmath")


def _grid(seed, n, log_range=(-3, 4)):
    """n random points: parameters log-uniform in 10**log_range, frequency up to ~3000, T up to ~500."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        params = 10 ** rng.uniform(*log_range, 4)
        x = int(10 ** rng.uniform(0, 3.5)) if rng.random() < 0.8 else 0
        T = 10 ** rng.uniform(-1, 2.7)
        tx = float(np.round(T * rng.uniform(), 2)) if x else 0.0
        out.append((*params, x, min(tx, T), T))
    return out


# ----------------------------------------------------------------------------- the 2F1 evaluator

def _quad(f, a, b, scale, extra=()):
    """mpmath's tanh-sinh quadrature of f over [a, b] with breakpoints at a + scale * 10^j (peaks at a)."""
    pts = {a, b} | {a + scale * 10.0 ** j for j in range(-4, 4)} | set(extra)
    pts = sorted(p for p in pts if a <= p <= b)
    value, err = mp.quad(f, pts, error=True, maxdegree=10)
    assert err <= 1e-13 * abs(value)
    return value


def _hyp2f1_one_reference(b, c, z):
    """2F1(1, b; c; z) by summing its power series in 30-digit arithmetic until the tail bound
    ``term / (1 - z)`` is below 1e-25 of the sum (all terms positive for b, c > 0, 0 <= z < 1).

    mpmath's own hyp2f1 is not used: it returns e.g. -1.2e126 for 2F1(1, 1647.5; 2454.9; 0.866), whose
    terms are all positive.
    """
    mp.mp.dps = 30
    b, c, z = mp.mpf(b), mp.mpf(c), mp.mpf(z)
    term, total, n = mp.mpf(1), mp.mpf(1), 0
    while True:
        term *= (b + n) / (c + n) * z
        total += term
        n += 1
        ratio = (b + n) / (c + n) * z
        if ratio < 1 and term * ratio / (1 - ratio) < mp.mpf(10) ** -25 * total:
            return total


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_log_hyp2f1_one_matches_mpmath(seed):
    rng = np.random.default_rng(seed)
    n = 40
    b = 10 ** rng.uniform(-3, 4, n)
    c = b + 1 + 10 ** rng.uniform(-3, 4, n)  # c > b + 1: converges at z = 1 (the Pareto/NBD case)
    c = np.where(rng.random(n) < 0.3, b + 10 ** rng.uniform(-3, 0, n), c)  # b < c < b + 1: diverges at z = 1
    z = 1 - 10 ** rng.uniform(-2.5, -0.3, n)  # the continued fraction (z > 0.5)
    z[:10] = rng.uniform(0, 0.5, 10)  # the series branch
    got = log_hyp2f1_one(b, c, z)
    for bi, ci, zi, gi in zip(b, c, z, got):
        ref = float(mp.log(_hyp2f1_one_reference(bi, ci, zi)))
        assert gi == pytest.approx(ref, rel=1e-11, abs=1e-11), (bi, ci, zi)


# ----------------------------------------------------------------------------- Pareto/NBD

def _pareto_ll_reference(r, alpha, s, beta, x, tx, T):
    """log L and log(P(alive) odds) from the Pareto/NBD's definition (SMC 1987), in 40-digit arithmetic.

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) [(alpha+T)^-(r+x) (beta+T)^-s
        + s int_tx^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau]    (death at tau between t_x and T),
    the integral by mpmath's quadrature (no hypergeometric function).
    """
    mp.mp.dps = 40
    r, alpha, s, beta, x, tx, T = (mp.mpf(float(v)) for v in (r, alpha, s, beta, x, tx, T))
    term1 = 1 / ((alpha + T) ** (r + x) * (beta + T) ** s)
    if T > tx:
        # in u = log(alpha + tau) the integrand is smooth
        def f(u):
            tau = mp.exp(u) - alpha
            return mp.exp(u - (r + x) * u - (s + 1) * mp.log(beta + tau))
        u0, u1 = mp.log(alpha + tx), mp.log(alpha + T)
        # panels that start tiny at t_x, where the integrand falls fastest (cubic spacing)
        value = mp.quad(f, [u0 + (u1 - u0) * (mp.mpf(j) / 60) ** 3 for j in range(61)])
        term2 = s * value
    else:
        term2 = mp.mpf(0)
    lead = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
    log_odds = mp.log(term1) - mp.log(term2) if term2 > 0 else mp.inf
    return lead + mp.log(term1 + term2), log_odds


def _model(r, alpha, s, beta):
    m = ParetoNBD()
    m.params_ = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    return m


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_pareto_nbd_likelihood_and_p_alive_match_mpmath_over_wide_ranges(seed):
    rows = _grid(seed, 9)
    rows += [(0.5, 10.0, 0.6, 10.0, 3, 20.0, 39.0), (2.0, 3.0, 1.0, 3.0, 1000, 300.0, 400.0)]  # alpha == beta
    for r, alpha, s, beta, x, tx, T in rows:
        m = _model(r, alpha, s, beta)
        data = {"x": np.array([x], float), "tx": np.array([tx]), "T": np.array([T])}
        ll = float(m._loglik(np.array([r, alpha, s, beta]), data)[0][0])
        ref_ll, ref_log_odds = _pareto_ll_reference(r, alpha, s, beta, x, tx, T)
        assert np.isfinite(ll), (r, alpha, s, beta, x, tx, T)
        assert ll == pytest.approx(float(ref_ll), rel=1e-8, abs=1e-8), (r, alpha, s, beta, x, tx, T)
        pa = m.p_alive(x, tx, T)
        ref_pa = float(1 / (1 + mp.exp(-ref_log_odds))) if ref_log_odds != mp.inf else 1.0
        assert np.isfinite(pa) and pa == pytest.approx(ref_pa, rel=1e-8, abs=1e-12), (r, alpha, s, beta, x, tx, T)


def test_pareto_nbd_short_gap_and_alpha_equal_beta_are_continuous():
    # alpha == beta is a removable singularity of FHL's split by alpha >= beta; a tiny gap T - t_x keeps precision
    base = _model(0.55, 10.0, 0.6, 10.0)
    near = _model(0.55, 10.0 * (1 + 1e-9), 0.6, 10.0)
    for x, tx, T in [(0, 0.0, 30.0), (5, 20.0, 30.0), (500, 29.99, 30.0)]:
        assert near.p_alive(x, tx, T) == pytest.approx(base.p_alive(x, tx, T), rel=1e-7)
        assert np.isfinite(base.expected_purchases(10.0, x, tx, T))


def test_field_case_pareto_frequent_buyers():
    """pareto_frequent_buyers.py: r 3.01, alpha 7.04, s 1.81, beta 1753, LL -730390.09 (README), P(alive) finite.

    The script itself runs (its simulation and its fit), not a re-typed copy of it.
    """
    script = runpy.run_path(str(Path(__file__).parent / "field_cases" / "pareto_frequent_buyers.py"))
    x, t_x, T, fit = script["x"], script["t_x"], script["T"], script["m"]
    r, alpha, s, beta = script["r"], script["alpha"], script["s"], script["beta"]
    assert x.max() > 500
    # at the true parameters every customer's log-likelihood is finite (it was NaN for 128)
    m = _model(r, alpha, s, beta)
    ll = m._loglik(np.array([r, alpha, s, beta]), {"x": x.astype(float), "tx": t_x, "T": T})[0]
    assert np.isfinite(ll).all()
    assert isinstance(fit, ParetoNBD)
    assert fit.log_likelihood_ == pytest.approx(-730390.09, abs=0.01)
    for k, v in {"r": 3.01, "alpha": 7.04, "s": 1.81}.items():
        assert fit.params_[k] == pytest.approx(v, abs=0.01), k
    assert fit.params_["beta"] == pytest.approx(1753, rel=0.01)  # flat direction: se(beta) ~ 1100
    pa = np.asarray(fit.p_alive(x, t_x, T))
    assert np.isfinite(pa).all() and ((pa >= 0) & (pa <= 1)).all()
    assert np.isfinite(np.asarray(fit.expected_purchases(30.0, x, t_x, T))).all()


# ----------------------------------------------------------------------------- BG/NBD and MBG/NBD

def _bg_expected_reference(r, alpha, a, b, x, tx, T, t, shift):
    """E[Y(t) | x, t_x, T] from the model's definition, without a hypergeometric function (30 digits).

    Alive at T, a customer's p is Beta(a, b + x + shift) and lambda Gamma(r + x, alpha + T) distributed;
    given both, E[Y(t)] = (1 - exp(-lambda p t)) / p (geometric dropout after each purchase). Averaging
    over lambda: (1 - (1 + p t / (alpha + T))^-(r + x)) / p; over p: mpmath's quadrature in
    y = log(p / (1 - p)). Times P(alive) (Fader, Hardie & Lee 2005, eq. 10 with Hardie's note 021).
    """
    mp.mp.dps = 30
    r, alpha, a, b, x, tx, T, t = (mp.mpf(float(v)) for v in (r, alpha, a, b, x, tx, T, t))
    bp = b + x + shift
    u = t / (alpha + T)
    log_beta = mp.loggamma(a) + mp.loggamma(bp) - mp.loggamma(a + bp)

    def f(y):  # p = 1 / (1 + e^-y), dp = p (1 - p) dy
        log_p, log_q = -mp.log1p(mp.exp(-y)), -mp.log1p(mp.exp(y))  # log p, log(1 - p) without rounding
        p = mp.exp(log_p)
        g = -mp.expm1(-(r + x) * mp.log1p(p * u)) / p
        return g * mp.exp(a * log_p + bp * log_q - log_beta)

    mode = mp.log(a / bp)
    width = 4 + 40 / mp.sqrt(min(a, bp))
    J = mp.quad(f, [-mp.inf] + [mode + width * j for j in range(-10, 11)] + [mp.inf])
    if x + shift > 0:
        odds = a / (b + max(x + shift, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
        J = J / (1 + odds)
    return J


@pytest.mark.slow
@pytest.mark.parametrize("M, shift", [(BetaGeo, 0), (ModifiedBetaGeo, 1)])
def test_bg_nbd_expected_purchases_match_the_definition(M, shift):
    rng = np.random.default_rng(21)
    for _ in range(14):
        r, alpha, a, b = 10 ** rng.uniform(-2, 2, 4)
        x = int(10 ** rng.uniform(0, 3.3)) if rng.random() < 0.8 else 0
        T = 10 ** rng.uniform(0, 2.5)
        tx = float(np.round(T * rng.uniform(), 2)) if x else 0.0
        t = 10 ** rng.uniform(-1, 2)
        m = M()
        m.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
        got = m.expected_purchases(t, x, tx, T)
        ref = float(_bg_expected_reference(r, alpha, a, b, x, tx, T, t, shift))
        assert np.isfinite(got), (r, alpha, a, b, x, tx, T, t)
        assert got == pytest.approx(ref, rel=1e-7, abs=1e-300), (r, alpha, a, b, x, tx, T, t)


def test_bg_nbd_expectation_continuous_at_a_equal_one():
    # (a + b + x - 1) / (a - 1) [1 - ...]: a = 1 is a removable singularity
    for M in (BetaGeo, ModifiedBetaGeo):
        vals = []
        for a in (1.0 - 1e-4, 1.0, 1.0 + 1e-4):
            m = M()
            m.params_ = {"r": 0.25, "alpha": 4.4, "a": a, "b": 2.4}
            vals.append((m.expected_purchases(39.0, 3, 20.0, 38.0), m.expected_purchases_new(39.0)))
        for i in range(2):
            assert np.isfinite(vals[1][i])
            assert vals[1][i] == pytest.approx(0.5 * (vals[0][i] + vals[2][i]), rel=1e-6)


# ----------------------------------------------------------------------------- sBG

@pytest.mark.parametrize("alpha, beta", [(0.7, 1.2), (1e-3, 1e-3), (50.0, 1e4), (1e4, 0.5), (0.3, 3000.0)])
@pytest.mark.parametrize("d", [0.5, 0.1, 0.01])
def test_sbg_derl_matches_the_discounted_sum(alpha, beta, d):
    """DERL = sum_k P(T > n + k | T > n - 1) / (1 + d)^k, summed directly in 30 digits (Fader & Hardie 2010)."""
    from segwork.clv import ShiftedBetaGeometric

    m = ShiftedBetaGeometric()
    m.params_ = {"alpha": alpha, "beta": beta}
    mp.mp.dps = 30
    a, b, D = mp.mpf(alpha), mp.mpf(beta), mp.mpf(d)
    for renewals in (0, 5, 200):
        n = renewals + 1
        # survival ratio S(n + k) / S(n - 1) = prod_{j = n-1}^{n+k-1} (b + j) / (a + b + j)
        ratio = (b + n - 1) / (a + b + n - 1)
        total, k = mp.mpf(0), 0
        while True:
            total += ratio / (1 + D) ** k
            k += 1
            step = (b + n - 1 + k) / (a + b + n - 1 + k)
            ratio *= step
            if ratio / (1 + D) ** k < mp.mpf(10) ** -22 * total * (1 - step / (1 + D)):
                break
        got = m.discounted_expected_residual_lifetime(d, renewals=renewals)
        assert got == pytest.approx(float(total), rel=1e-10), (alpha, beta, d, renewals)
    # DEL = 1 + DERL(0) / (1 + d): the first payment is certain
    assert m.discounted_expected_lifetime(d) == pytest.approx(1 + m.discounted_expected_residual_lifetime(d) / (1 + d),
                                                             rel=1e-12)


@pytest.mark.parametrize("M, shift", [(BetaGeo, 0), (ModifiedBetaGeo, 1)])
def test_bg_nbd_frequent_buyers_long_horizons(M, shift):
    # 2F1(r + x, b + x; a + b + x - 1; z) with x in the thousands and z near 1 overflowed or gave NaN
    cases = [(0.0046, 1.45, 7130.0, 0.14, 1270, 0.084, 0.206, 304.0), (0.243, 4.414, 0.793, 2.426, 2000, 300.0, 310.0, 260.0),
             (3.0, 7.0, 2.0, 50.0, 900, 480.0, 500.0, 520.0)]
    for r, alpha, a, b, x, tx, T, t in cases:
        m = M()
        m.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
        got = m.expected_purchases(t, x, tx, T)
        ref = float(_bg_expected_reference(r, alpha, a, b, x, tx, T, t, shift))
        assert np.isfinite(got) and got == pytest.approx(ref, rel=1e-7, abs=1e-300), (r, alpha, a, b, x, tx, T, t)


# ----------------------------------------------------------------------------- Gamma-Gamma

@pytest.mark.slow
def test_gamma_gamma_likelihood_and_expected_spend_match_the_definition():
    """The mean spend m of x purchases is Gamma(p x, rate x nu) given nu ~ Gamma(q, rate v) (Fader, Hardie &
    Lee 2005; Colombo & Jiang 1999): the marginal density by mpmath's quadrature over nu (30 digits), and
    E[spend | x, m] = E[p / nu | x, m] by the same quadrature."""
    from segwork.clv import GammaGamma

    rng = np.random.default_rng(31)
    mp.mp.dps = 30
    for _ in range(14):
        p, q, v = 10 ** rng.uniform(-3, 4, 3)
        q = q + 1.0  # q > 1: a finite population mean (q <= 1 is another issue's subject)
        x = int(10 ** rng.uniform(0, 3.3))
        m = 10 ** rng.uniform(-2, 4)
        P, Q, V, X, Mv = (mp.mpf(float(u)) for u in (p, q, v, x, m))

        def log_joint(nu):  # log[Gamma(m; p x, x nu) Gamma(nu; q, v)]
            return (P * X * mp.log(X * nu) + (P * X - 1) * mp.log(Mv) - X * nu * Mv - mp.loggamma(P * X)
                    + Q * mp.log(V) + (Q - 1) * mp.log(nu) - V * nu - mp.loggamma(Q))

        mode = (P * X + Q - 1) / (X * Mv + V)  # of the integrand in nu (the posterior of nu)
        sd = mp.sqrt(P * X + Q) / (X * Mv + V)
        near0 = [sd * mp.mpf(10) ** -j for j in range(0, 30, 2)]  # shape p x + q may be < 1: mass near 0
        pts = sorted({mp.mpf(0), *near0, *[mode + sd * j for j in range(-40, 41, 4) if mode + sd * j > 0], mp.inf})
        peak = log_joint(mode)
        dens = mp.quad(lambda nu: mp.exp(log_joint(nu) - peak), pts)
        mean = mp.quad(lambda nu: P / nu * mp.exp(log_joint(nu) - peak), pts) / dens
        gg = GammaGamma()
        gg.params_ = {"p": p, "q": q, "v": v}
        ll = float(gg._loglik(np.array([p, q, v]), {"x": np.array([float(x)]), "m": np.array([m])})[0][0])
        assert ll == pytest.approx(float(peak + mp.log(dens)), rel=1e-9, abs=1e-9), (p, q, v, x, m)
        # (the reference integrand is singular at nu = 0 when p x + q < 2: its quadrature is good to ~1e-6)
        assert gg.expected_spend(x, m) == pytest.approx(float(mean), rel=1e-6), (p, q, v, x, m)
