"""BG/NBD on many customers: the analytic Hessian, and the sample-start route (segwork.clv.sample_start).

The route must find the same maximum of the likelihood as the L-BFGS-B fit on all customers: compared
within that fit's own tolerance (a fraction of a standard error, and the log-likelihood), never on where
an optimiser happens to stop.
"""
from __future__ import annotations

import numpy as np
import pytest

from segwork.clv import BetaGeo, ModifiedBetaGeo
from segwork.clv.base import compress
from segwork.clv.sample_start import collapse
from segwork.clv.simulate import simulate_bg_nbd


@pytest.fixture(scope="module")
def histories():
    sim = simulate_bg_nbd(20_000, r=0.3, alpha=2.0, a=0.8, b=3.0, T=(20.0, 80.0), random_state=3)
    return sim["frequency"].to_numpy(float), sim["recency"].to_numpy(float), sim["T"].to_numpy(float)


@pytest.mark.parametrize("cls, params", [(BetaGeo, [0.3, 2.0, 0.8, 3.0]), (BetaGeo, [1.5, 9.0, 4.0, 150.0]),
                                         (ModifiedBetaGeo, [0.5, 3.0, 0.7, 2.5])])
def test_hessian_matches_loglik_and_differences_of_its_gradient(histories, cls, params):
    x, tx, T = histories
    data, w = compress({"x": x, "tx": tx, "T": T}, np.ones(len(x)))
    rows, ones = collapse(x, tx, T, np.ones(len(x)))
    p = np.array(params)
    m = cls()
    total0, g0 = m._total_loglik(p, data, w)
    for d, ww in ((data, w), (rows, ones)):  # the two ways of collapsing the histories
        total, g, h = m._total_hessian(p, d, ww)
        assert total == pytest.approx(total0, rel=1e-12)
        np.testing.assert_allclose(g, g0, rtol=1e-9, atol=1e-9 * np.abs(g0).max())
        assert m._total_hessian(p, d, ww, hessian=False)[2] is None
    num = np.empty((4, 4))
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * p[i]
        num[i] = (m._total_loglik(p + e, data, w)[1] - m._total_loglik(p - e, data, w)[1]) / (2 * e[i])
    # central differences are exact to ~1e-8 relative here; the Hessian is symmetric by construction
    np.testing.assert_allclose(h, num, rtol=1e-5, atol=1e-7 * np.abs(num).max())


@pytest.mark.parametrize("weights", [None, "random"])
def test_collapse_counts_the_same_histories_as_compress(histories, weights):
    x, tx, T = histories
    w = np.ones(len(x)) if weights is None else np.random.default_rng(0).integers(0, 4, len(x)).astype(float)
    a, ca = compress({"x": x, "tx": tx, "T": T}, w)
    b, cb = collapse(x, tx, T, w)
    key = lambda d: list(zip(d["x"], d["tx"], d["T"]))  # noqa: E731
    assert dict(zip(key(a), ca)) == dict(zip(key(b), cb))
    for name in ("x", "tx", "T"):  # codes point at the values
        np.testing.assert_array_equal(b[name + "_levels"][b[name + "_codes"]], b[name])


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_sample_start_finds_the_same_maximum(histories, penalizer):
    x, tx, T = histories
    exact = BetaGeo(penalizer=penalizer, start_sample=None).fit(x, tx, T)
    fast = BetaGeo(penalizer=penalizer, start_sample=3000, random_state=1).fit(x, tx, T)
    se = exact.summary()["std_error"]
    for k, v in exact.params_.items():
        # within a small fraction of a standard error: L-BFGS-B's own tolerance (gtol 1e-10, ftol 1e-15)
        assert abs(fast.params_[k] - v) < 1e-3 * se[k], k
    # the Newton end point is the optimum to rounding: its objective (the mean negative log-likelihood plus
    # the penalty) is at least as low as L-BFGS-B's, up to rounding of a mean over 20,000 customers
    fun = fast._objective_factory(*fast._fit_data)
    assert fun.value(fast._log_params) <= fun.value(exact._log_params) + 1e-12
    assert fast.log_likelihood_ == pytest.approx(exact.log_likelihood_, abs=1e-4)
    # standard errors from the analytic Hessian of all customers (central differences in the exact fit)
    np.testing.assert_allclose(fast.summary()["std_error"], se, rtol=1e-4)
    assert fast.n_customers_ == exact.n_customers_ == len(x)
    # the gradient of the mean objective at the end point is at rounding level
    assert np.max(np.abs(fun(fast._log_params)[1])) < 1e-8


def test_sample_start_with_weights_equals_the_rows(histories):
    x, tx, T = histories
    data, counts = compress({"x": x, "tx": tx, "T": T}, np.ones(len(x)))
    rows = BetaGeo(start_sample=3000).fit(x, tx, T)
    weighted = BetaGeo(start_sample=3000).fit(data["x"], data["tx"], data["T"], weights=counts)
    assert weighted.n_customers_ == rows.n_customers_
    for k, v in rows.params_.items():
        assert weighted.params_[k] == pytest.approx(v, rel=1e-7), k
    assert weighted.log_likelihood_ == pytest.approx(rows.log_likelihood_, rel=1e-12)


def test_fit_says_how_it_was_found(histories, cdnow):
    x, tx, T = histories
    fast = BetaGeo(start_sample=3000, random_state=7).fit(x, tx, T)
    assert "20,000 customers" in fast.fit_method_ and "sample of 3,000 rows" in fast.fit_method_
    assert "random_state=7" in fast.fit_method_ and "Newton" in fast.fit_method_
    assert fast.summary().attrs["fit_method"] == fast.fit_method_
    # small data (CDNOW, 2,357 customers) takes the L-BFGS-B fit on its distinct histories, as always
    small = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert "L-BFGS-B" in small.fit_method_ and "sample" not in small.fit_method_
    assert small.summary().attrs["fit_method"] == small.fit_method_
    assert BetaGeo(start_sample=None).fit(x, tx, T).fit_method_.startswith("maximum likelihood on all 20,000")


def test_subsample_stage_and_its_record(histories):
    x, tx, T = histories
    exact = BetaGeo(start_sample=None).fit(x, tx, T)
    staged = BetaGeo(start_sample=400, random_state=2).fit(x, tx, T)
    # then a seeded subsample of about 4,000 of the distinct histories (a Bernoulli draw: about that many)
    assert "then of a seeded subsample of" in staged.fit_method_ and "distinct histories" in staged.fit_method_
    se = exact.summary()["std_error"]
    for k, v in exact.params_.items():
        assert abs(staged.params_[k] - v) < 1e-3 * se[k], k


def test_newton_failure_falls_back_to_lbfgsb_and_says_so(histories, monkeypatch):
    import segwork.clv.sample_start as ss

    x, tx, T = histories
    exact = BetaGeo(start_sample=None).fit(x, tx, T)
    monkeypatch.setattr(ss, "_newton", lambda fgh, logp, stage_tol=None: (logp, np.nan, None, None, None, 0, False))
    fell = BetaGeo(start_sample=3000).fit(x, tx, T)
    assert "Newton steps from there did not converge" in fell.fit_method_
    assert fell.summary().attrs["fit_method"] == fell.fit_method_
    se = exact.summary()["std_error"]
    for k, v in exact.params_.items():
        assert abs(fell.params_[k] - v) < 1e-3 * se[k], k


def test_a_limit_of_the_dropout_process_is_reported_as_by_the_exact_fit():
    # nobody leaves (as tests/clv/test_identification.py, on 3,000 customers): the Newton route meets a
    # Hessian that is not positive definite or a flat likelihood, and the L-BFGS-B fit decides, as always
    from segwork.errors import IdentificationWarning

    rng = np.random.default_rng(3)
    T = rng.uniform(20, 40, 3000)
    x = rng.poisson(rng.gamma(2.0, 1 / 4.0, 3000) * T)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    with pytest.warns(IdentificationWarning, match="not identified"):
        exact = BetaGeo(start_sample=None).fit(x, tx, T)
    with pytest.warns(IdentificationWarning, match="not identified"):
        fast = BetaGeo(start_sample=500).fit(x, tx, T)
    assert set(fast.unidentified_) == set(exact.unidentified_) == {"a", "b"}
    for k in ("r", "alpha"):
        assert fast.params_[k] == pytest.approx(exact.params_[k], rel=1e-4), k
