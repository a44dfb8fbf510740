"""BG/BB on the donations data and sBG on the Fader & Hardie (2007) cohorts: published estimates, checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from scipy.special import roots_jacobi

from segwork.clv import BetaGeoBetaBinom, ShiftedBetaGeometric
from segwork.clv.base import compress
from segwork.errors import DataError, NotFittedError

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def donations():
    return pd.read_csv(DATA / "donations.csv")


@pytest.fixture(scope="module")
def bgbb(donations):
    d = donations
    return BetaGeoBetaBinom().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])


@pytest.fixture(scope="module")
def cohorts():
    return pd.read_csv(DATA / "sbg_cohorts.csv")


# --------------------------------------------------------------------------- BG/BB


def test_bgbb_reproduces_fader_hardie_shang_2010(bgbb, donations):
    # Marketing Science 29(6): alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6
    assert donations["weights"].sum() == 11104
    for k, v in {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}.items():
        assert bgbb.params_[k] == pytest.approx(v, rel=1e-3, abs=6e-4), k
    assert bgbb.log_likelihood_ == pytest.approx(-33225.6, abs=0.1)


def _beta_nodes(a, b, k=30):
    """Nodes and weights of E[f(p)] under Beta(a, b) by Gauss-Jacobi quadrature (exact for polynomials)."""
    z, w = roots_jacobi(k, b - 1, a - 1)  # weight (1 - z)^(b-1) (1 + z)^(a-1) on [-1, 1]
    return (1 + z) / 2, w / w.sum()


def _bgbb_by_integration(params, x, tx, n, alive_next=False):
    """BG/BB likelihood from the individual-level model: a polynomial in p and theta, averaged over the
    beta mixing distributions by Gauss-Jacobi quadrature (independent of the beta-function formula)."""
    a, b, g, d = params
    p, wp = _beta_nodes(a, b)
    th, wt = _beta_nodes(g, d)
    P, TH = np.meshgrid(p, th, indexing="ij")
    alive = P**x * (1 - P) ** (n - x) * (1 - TH) ** (n + (1 if alive_next else 0))
    lik = alive
    if not alive_next:
        lik = alive + sum(P**x * (1 - P) ** (tx - x + i) * TH * (1 - TH) ** (tx + i) for i in range(int(n - tx)))
    return float(wp @ lik @ wt)


@pytest.mark.parametrize("x, tx, n", [(0, 0, 6), (3, 5, 6), (1, 1, 6), (6, 6, 6), (2, 4, 8)])
def test_bgbb_likelihood_and_p_alive_match_integration(bgbb, x, tx, n):
    params = (1.2, 0.75, 0.66, 2.8)
    ll, _ = bgbb._loglik(np.array(params), {"x": np.array([x], float), "tx": np.array([tx], float),
                                             "n": np.array([n], float)})
    lik = _bgbb_by_integration(params, x, tx, n)
    assert np.exp(ll[0]) == pytest.approx(lik, rel=1e-9)
    pa = bgbb.p_alive(x, tx, n)
    p = tuple(bgbb.params_[k] for k in ("alpha", "beta", "gamma", "delta"))
    expected = _bgbb_by_integration(p, x, tx, n, alive_next=True) / _bgbb_by_integration(p, x, tx, n)
    assert pa == pytest.approx(expected, rel=1e-9)


def test_bgbb_gradient(donations):
    d = donations
    data, w = compress({"x": d["frequency"].to_numpy(float), "tx": d["recency"].to_numpy(float),
                        "n": d["periods"].to_numpy(float)}, d["weights"].to_numpy(float))
    m = BetaGeoBetaBinom()
    for p in ([1.2, 0.75, 0.66, 2.8], [0.5, 2.0, 3.0, 0.7]):
        p = np.array(p)
        g = m._total_loglik(p, data, w)[1]
        num = approx_fprime(p, lambda q: m._total_loglik(q, data, w)[0], 1e-7 * p)
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-2)


def test_bgbb_expectations(bgbb):
    # E[X(n)] of a new customer by simulation from the fitted population (independent of the closed form)
    rng = np.random.default_rng(0)
    a, b, g, d = (bgbb.params_[k] for k in ("alpha", "beta", "gamma", "delta"))
    size = 400_000
    p, th = rng.beta(a, b, size), rng.beta(g, d, size)
    alive = np.ones(size, bool)
    total = np.zeros(size)
    for _ in range(6):
        alive &= rng.random(size) >= th  # may leave before each opportunity
        total += alive & (rng.random(size) < p)
    assert total.mean() == pytest.approx(bgbb.expected_purchases_new(6), rel=0.01)
    # conditional expectation over 5 more opportunities is increasing in the horizon and >= 0
    e = bgbb.expected_purchases(np.arange(1, 6), 3, 5, 6)
    assert (np.diff(e) > 0).all() and (e > 0).all()
    assert bgbb.expected_purchases(5, 3, 5, 6) > bgbb.expected_purchases(5, 3, 3, 6)  # more recent -> more


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), data=st.data())
def test_bgbb_p_alive_bounds_and_recency(bgbb_hyp, n, data):
    tx = data.draw(st.integers(0, n))
    x = 0 if tx == 0 else data.draw(st.integers(1, tx))
    pa = bgbb_hyp.p_alive(x, tx, n)
    assert 0.0 <= pa <= 1.0
    if 0 < tx < n:
        assert bgbb_hyp.p_alive(x, tx + 1, n) >= pa - 1e-12


@pytest.fixture(scope="module")
def bgbb_hyp(donations):
    d = donations
    return BetaGeoBetaBinom().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])


def test_bgbb_weights_equivalence(donations):
    d = donations
    rows = d.loc[d.index.repeat(d["weights"])]
    a = BetaGeoBetaBinom().fit(rows["frequency"], rows["recency"], rows["periods"])
    b = BetaGeoBetaBinom().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-6)


@pytest.mark.parametrize(
    "x, tx, n, match",
    [
        ([1, 2], [3, 1], [6, 6], "frequency cannot exceed recency"),
        ([1, 2], [7, 3], [6, 6], "cannot exceed n_periods"),
        ([0, 2], [2, 3], [6, 6], "recency must be 0"),
        ([0, 0], [0, 0], [6, 6], "no customer made a repeat"),
        ([1, 2], [1.5, 3], [6, 6], "whole numbers"),
    ],
)
def test_bgbb_bad_input(x, tx, n, match):
    with pytest.raises(DataError, match=match):
        BetaGeoBetaBinom().fit(x, tx, n)


# --------------------------------------------------------------------------- sBG


@pytest.mark.parametrize("cohort, alpha, beta", [("regular", 0.704, 1.182), ("high_end", 0.668, 3.806)])
def test_sbg_reproduces_fader_hardie_2007(cohorts, cohort, alpha, beta):
    # "How to project customer retention": fit on years 0-7.
    m = ShiftedBetaGeometric().fit(cohorts[cohort].iloc[:8])
    assert m.params_["alpha"] == pytest.approx(alpha, rel=1e-3)
    assert m.params_["beta"] == pytest.approx(beta, rel=1e-3)
    # the projection to year 12 is far better than an exponential curve fitted to years 0-7 (the paper's point)
    actual = cohorts[cohort].to_numpy(float)
    proj = m.expected_survivors(12)
    t = np.arange(8)
    slope, icpt = np.polyfit(t, np.log(actual[:8]), 1)
    expo = np.exp(icpt + slope * np.arange(13))
    assert abs(proj[12] - actual[12]) / actual[12] < 0.06
    assert abs(proj[12] - actual[12]) < abs(expo[12] - actual[12]) / 3


def test_sbg_likelihood_by_hand(cohorts):
    s = cohorts["high_end"].to_numpy(float)[:8]
    m = ShiftedBetaGeometric().fit(s)
    a, b = m.params_["alpha"], m.params_["beta"]
    # the paper's recursion: P(T=1) = a/(a+b); P(T=t) = (b+t-2)/(a+b+t-1) P(T=t-1); S(t) = S(t-1) - P(T=t)
    p, surv, ll = a / (a + b), 1.0, 0.0
    for t in range(1, 8):
        if t > 1:
            p = p * (b + t - 2) / (a + b + t - 1)
        surv -= p
        ll += (s[t - 1] - s[t]) * np.log(p)
    ll += s[7] * np.log(surv)
    assert m.log_likelihood_ == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(m.survival(7), surv, rtol=1e-10)


def test_sbg_retention_rises_and_derl(cohorts):
    m = ShiftedBetaGeometric().fit(cohorts["regular"].iloc[:8])
    r = m.retention_rate(np.arange(1, 13))
    assert (np.diff(r) > 0).all()
    # survival is the product of retention rates
    np.testing.assert_allclose(m.survival(np.arange(1, 13)), np.cumprod(r), rtol=1e-12)
    d = 0.1
    S = m.survival(np.arange(0, 3000))
    assert m.discounted_expected_lifetime(d) == pytest.approx(np.sum(S / (1 + d) ** np.arange(len(S))), rel=1e-6)
    for renewals in (0, 1, 4):
        n = renewals + 1
        brute = np.sum(S[n:] / S[n - 1] / (1 + d) ** np.arange(len(S) - n))
        assert m.discounted_expected_residual_lifetime(d, renewals) == pytest.approx(brute, rel=1e-6)
    # those who stayed longer are worth more (heterogeneity sorts the cohort)
    derl = m.discounted_expected_residual_lifetime(d, np.arange(6))
    assert (np.diff(derl) > 0).all()
    assert m.discounted_expected_residual_lifetime(0.2, 2) < m.discounted_expected_residual_lifetime(0.05, 2)


@pytest.mark.parametrize(
    "survivors, match",
    [
        ([1000], "at least one later count"),
        ([1000, 900, 950], "must not increase"),
        ([0, 0, 0], "cohort size"),
        ([1000, 1000, 1000], "nobody left"),
        ([1000, -5], ">= 0"),
        (["a", "b"], "must be numbers"),
    ],
)
def test_sbg_bad_input(survivors, match):
    with pytest.raises(DataError, match=match):
        ShiftedBetaGeometric().fit(survivors)


def test_not_fitted():
    with pytest.raises(NotFittedError, match=r"fit\(survivors\)"):
        ShiftedBetaGeometric().survival(3)
    with pytest.raises(NotFittedError, match="n_periods"):
        BetaGeoBetaBinom().p_alive(1, 1, 6)


def _bgbb_at(gamma):
    m = BetaGeoBetaBinom()
    m.params_ = {"alpha": 1.204, "beta": 0.750, "gamma": gamma, "delta": 2.783}
    return m


def test_bgbb_expectations_continuous_at_gamma_one():
    # gamma = 1 has its own limit formulas; next to 1 the general ones divide by gamma - 1.
    x, tx, n, t = np.array([0, 2, 5, 6]), np.array([0, 4, 5, 6]), np.array([6, 6, 6, 6]), np.array([1, 5, 10, 30])

    def both(g):
        m = _bgbb_at(g)
        return np.concatenate([m.expected_purchases(t, x, tx, n), m.expected_purchases_new(t)])

    at_one = both(1.0)
    assert np.isfinite(at_one).all() and (at_one > 0).all()
    for g in (1 - 1e-10, 1 + 1e-10):
        np.testing.assert_allclose(both(g), at_one, rtol=1e-8)
    # the limit formula itself: the general formula's central average at 1 +- h is f(1) + O(h^2)
    h = 1e-4
    np.testing.assert_allclose((both(1 - h) + both(1 + h)) / 2, at_one, rtol=1e-7)
    # just outside the limit band the general branch still agrees (its cancellation error there is ~1e-6)
    for g in (1 - 2e-8, 1 + 2e-8):
        np.testing.assert_allclose(both(g), at_one, rtol=5e-6)
