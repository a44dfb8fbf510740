"""GGom/NBD (Bemmaor & Glady 2012): the quadrature against scipy's adaptive integration, the nested
Pareto/NBD case (b -> 0 with beta / b fixed), recovery of planted parameters, the CDNOW fit.

The published CDNOW estimates of the GGom/NBD are not checked (no published table for this sample at hand).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

from segwork.clv import GGomNBD, ParetoNBD


def _lik_by_quad(params, x, tx, T):
    """The likelihood from the model's definition, the death-time integral by scipy.integrate.quad."""
    r, alpha, b, s, beta = params
    surv = lambda u: (beta / (beta + np.expm1(b * u))) ** s  # noqa: E731
    dens = lambda u: s * b * np.exp(b * u) * beta ** s / (beta + np.expm1(b * u)) ** (s + 1)  # noqa: E731
    dead = integrate.quad(lambda u: dens(u) * (alpha + u) ** -(r + x), tx, T, epsabs=0, epsrel=1e-12)[0] if T > tx else 0
    return np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha)) * (surv(T) * (alpha + T) ** -(r + x) + dead)


@pytest.mark.parametrize("params", [(0.5, 10.0, 0.05, 0.6, 2.0), (2.0, 3.0, 0.3, 1.5, 0.5), (0.3, 8.0, 0.01, 3.0, 0.1)])
@pytest.mark.parametrize("x, tx, T", [(0, 0, 39), (2, 10.5, 39), (30, 38.0, 39), (12, 4.0, 52), (1, 1.0, 1.0)])
def test_likelihood_matches_adaptive_integration(params, x, tx, T):
    ll, _ = GGomNBD()._loglik(np.array(params), {"x": np.array([x], float), "tx": np.array([tx], float),
                                                  "T": np.array([T], float)})
    assert np.exp(ll[0]) == pytest.approx(_lik_by_quad(params, x, tx, T), rel=1e-8)


@pytest.fixture(scope="module")
def pareto(cdnow):
    return ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_nested_pareto_nbd_case(cdnow, pareto):
    b = 1e-7
    g = GGomNBD()
    g.params_ = dict(r=pareto.params_["r"], alpha=pareto.params_["alpha"], b=b, s=pareto.params_["s"],
                     beta=pareto.params_["beta"] * b)
    f, rec, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    data = {"x": f.to_numpy(float), "tx": rec.to_numpy(float), "T": T.to_numpy(float)}
    ll = g._loglik(np.array(list(g.params_.values())), data)[0].sum()
    assert ll == pytest.approx(pareto.log_likelihood_, rel=1e-8)
    np.testing.assert_allclose(g.p_alive(f, rec, T), pareto.p_alive(f, rec, T), atol=1e-5)
    np.testing.assert_allclose(g.expected_purchases(39, f, rec, T), pareto.expected_purchases(39, f, rec, T),
                               rtol=1e-4, atol=1e-6)
    assert g.expected_purchases_new(39) == pytest.approx(pareto.expected_purchases_new(39), rel=1e-5)


def test_cdnow_fit_reaches_the_pareto_nbd_limit(cdnow, pareto):
    g = GGomNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    # the GGom/NBD nests the Pareto/NBD: its optimum is at least as good
    assert g.log_likelihood_ >= pareto.log_likelihood_ - 1e-3
    assert set(g.params_) == {"r", "alpha", "b", "s", "beta"}


def test_recovers_planted_parameters():
    truth = dict(r=0.9, alpha=6.0, b=0.08, s=1.2, beta=3.0)
    true = GGomNBD()
    true.params_ = truth
    rng = np.random.default_rng(12)
    n = 4000
    T = np.full(n, 52.0)
    lam = rng.gamma(truth["r"], 1 / truth["alpha"], n)
    eta = rng.gamma(truth["s"], 1 / truth["beta"], n)
    life = np.log1p(rng.exponential(1.0, n) / eta) / truth["b"]
    end = np.minimum(life, T)
    x = rng.poisson(lam * end)
    tx = np.where(x > 0, end * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    g = GGomNBD().fit(x, tx, T)
    s = g.summary()
    z = np.abs(np.log(s["estimate"]) - np.log(pd.Series(truth))) / (s["std_error"] / s["estimate"])
    assert (z < 2.5).all(), z
    # sampling from the fitted model: the mean frequency matches the model's expectation
    sim = true.sample_frequency(T, random_state=1)
    assert sim.mean() == pytest.approx(float(true.expected_purchases_new(52.0)), rel=0.05)
