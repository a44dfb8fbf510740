"""Identification of every fit (segwork.clv.base.check_identification): tiny or degenerate data end in a
ConvergenceError that says why and what to do, a usable limit of the model in an IdentificationWarning with
NaN standard errors (never infinite interval limits), and published fits stay silent."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segwork.clv import (BetaGeo, BetaGeoBetaBinom, GammaGamma, GGomNBD, ModifiedBetaGeo, ParetoNBD,
                         ShiftedBetaGeometric, fit_models)
from segwork.errors import ConvergenceError, DataError, IdentificationWarning

from .helpers import the_named_penalizer_works

TRANSACTION = [BetaGeo, ModifiedBetaGeo, ParetoNBD, GGomNBD]

# the review's case: 5 customers with T = 0 and one repeat buyer (BG/NBD ran off to r ~ 1.5e7, alpha ~ 1.5e7)
REVIEW = (np.array([0, 0, 0, 0, 0, 1.0]), np.array([0, 0, 0, 0, 0, 5.0]), np.array([0, 0, 0, 0, 0, 10.0]))
# 20 identical customers: no heterogeneity to estimate
IDENTICAL = (np.full(20, 2.0), np.full(20, 5.0), np.full(20, 10.0))


@pytest.mark.parametrize("M", TRANSACTION)
@pytest.mark.parametrize("data", [REVIEW, IDENTICAL], ids=["review_case", "identical_customers"])
def test_degenerate_data_raise_convergence_error_saying_what_to_do(M, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no half-way result with a warning either
        with pytest.raises(ConvergenceError, match=rf"{M.__name__}\.fit did not converge") as exc:
            M().fit(*data)
    msg = str(exc.value)
    assert "flat" in msg or "ran off" in msg
    if "flat" in msg:
        assert "more data" in msg
    the_named_penalizer_works(M, data, msg)


@pytest.mark.parametrize("M", TRANSACTION)
def test_a_single_customer_or_no_repeat_purchase_is_a_data_error(M):
    with pytest.raises(DataError, match="at least 2 customers"):
        M().fit([1], [2.0], [5.0])
    with pytest.raises(DataError, match="no customer made a repeat purchase"):
        M().fit([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0])


def test_a_penalizer_fixes_the_review_case():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = BetaGeo(penalizer=0.01).fit(*REVIEW)
    s = m.summary()
    assert np.isfinite(s.to_numpy()).all() and m.unidentified_ == ()
    assert all(1e-3 < v < 1e3 for v in m.params_.values())


def _nobody_leaves(n=400, seed=3):
    """Everybody buys steadily until the end (gamma rates r = 2, alpha = 4): nobody seems to leave."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 40, n)
    lam = rng.gamma(2.0, 1 / 4.0, n)
    x = rng.poisson(lam * T)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return x, tx, T


def test_a_limit_of_the_dropout_process_warns_and_keeps_the_identified_part():
    # nobody leaves: a -> 0 / b -> infinity for the BG/NBD; the purchase rate is still identified by 400 customers
    x, tx, T = _nobody_leaves()
    with pytest.warns(IdentificationWarning, match=r"BetaGeo\.fit: .*a=.*b=.* not identified.*nobody leaves"):
        m = BetaGeo().fit(x, tx, T)
    assert set(m.unidentified_) == {"a", "b"}
    s = m.summary()
    assert s.loc[["a", "b"], ["std_error", "lower_95", "upper_95"]].isna().all().all()  # NaN, never infinite
    assert np.isfinite(s.loc[["r", "alpha"]].to_numpy()).all()
    # the identified part agrees with the truth (r = 2, alpha = 4) within 3 standard errors
    z = (np.log(s.loc[["r", "alpha"], "estimate"]) - np.log([2.0, 4.0])) / (
        s.loc[["r", "alpha"], "std_error"] / s.loc[["r", "alpha"], "estimate"])
    assert (np.abs(z) < 3).all(), z
    # predictions are usable, and intervals move only the identified parameters
    p = m.p_alive(x, tx, T)
    assert np.isfinite(p).all() and p.min() > 0.99
    iv = m.expected_purchases(10.0, x[:5], tx[:5], T[:5], interval=0.9, n_draws=50)
    assert np.isfinite(iv.to_numpy()).all() and (iv["lower"] <= iv["expected_purchases"]).all()


#: starts for (a, b) along the "nobody leaves" ridge, from near the optimiser's usual stopping point to far beyond
#: it: where a CPU's or BLAS' rounding lets the search stop (a ~ 1e-9 on one machine, 1e-7 on another) must not
#: change the outcome (issue 17: a = 6.8e-9 was once a ConvergenceError, "ran off", on an AMD EPYC)
RIDGE_STARTS = [None, (1e-6, 1e2), (1e-10, 1.0), (1e-12, 1e6), (1e-3, 1e4)]


def _start_on_the_ridge(monkeypatch, start):
    if start is None:
        return
    plain = BetaGeo._start

    def far_along(self, data, w):
        return np.array([*plain(self, data, w)[:2], *start])

    monkeypatch.setattr(BetaGeo, "_start", far_along)


@pytest.fixture(scope="module")
def ridge_reference():
    x, tx, T = _nobody_leaves()
    with pytest.warns(IdentificationWarning):
        return BetaGeo().fit(x, tx, T)


@pytest.mark.parametrize("start", RIDGE_STARTS, ids=lambda s: "default" if s is None else f"a{s[0]:g}_b{s[1]:g}")
def test_the_outcome_on_a_flat_ridge_does_not_depend_on_where_the_optimiser_stops(monkeypatch, start,
                                                                                  ridge_reference):
    x, tx, T = _nobody_leaves()
    _start_on_the_ridge(monkeypatch, start)
    with pytest.warns(IdentificationWarning, match=r"BetaGeo\.fit: .*a=.*b=.* not identified.*nobody leaves"):
        m = BetaGeo().fit(x, tx, T)
    assert set(m.unidentified_) == {"a", "b"}
    # the same fit wherever it stopped: the identified part, the likelihood and the predictions agree with the
    # reference to tolerances far inside their standard errors (r, alpha: se ~ 5 % of the estimate)
    for p in ("r", "alpha"):
        assert m.params_[p] == pytest.approx(ridge_reference.params_[p], rel=1e-3), p
    assert m.log_likelihood_ == pytest.approx(ridge_reference.log_likelihood_, abs=1e-3)
    assert m.params_["a"] / (m.params_["a"] + m.params_["b"]) < 1e-6  # the limit: nobody leaves after a purchase
    np.testing.assert_allclose(m.p_alive(x, tx, T), ridge_reference.p_alive(x, tx, T), atol=1e-5)
    np.testing.assert_allclose(m.expected_purchases(10.0, x, tx, T), ridge_reference.expected_purchases(10.0, x, tx, T),
                               rtol=1e-3)


@pytest.mark.parametrize("start", RIDGE_STARTS[2:4], ids=["a1e-10_b1", "a1e-12_b1e6"])
def test_the_covariate_fit_far_along_the_ridge_warns_the_same(monkeypatch, start):
    x, tx, T = _nobody_leaves()
    z = pd.DataFrame({"group": np.where(np.arange(len(x)) % 2 == 0, "a", "b")})
    _start_on_the_ridge(monkeypatch, start)
    with pytest.warns(IdentificationWarning, match=r"BetaGeo\.fit with covariates: .*not identified"):
        m = BetaGeo().fit(x, tx, T, covariates=z)
    assert {"a", "b"} <= set(m.unidentified_) and "purchase:group[b]" not in m.unidentified_
    assert np.isfinite(m.summary().loc["purchase:group[b]"]).all()


def test_a_parameter_that_runs_off_outside_a_usable_limit_is_still_an_error(monkeypatch):
    # the review case started far out on r, alpha: no usable limit there, so a ConvergenceError wherever it stops
    plain = BetaGeo._start
    monkeypatch.setattr(BetaGeo, "_start", lambda self, d, w: plain(self, d, w) * np.array([1e9, 1e9, 1.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConvergenceError, match=r"BetaGeo\.fit did not converge.*(flat|ran off).*penalizer"):
            BetaGeo().fit(*REVIEW)


def test_the_covariate_fit_goes_through_the_same_check():
    x, tx, T = _nobody_leaves()
    z = pd.DataFrame({"group": np.where(np.arange(len(x)) % 2 == 0, "a", "b")})
    with pytest.warns(IdentificationWarning, match=r"BetaGeo\.fit with covariates: .*not identified") as rec:
        m = BetaGeo().fit(x, tx, T, covariates=z)
    assert len([w for w in rec if issubclass(w.category, IdentificationWarning)]) == 1  # the plain start is silent
    assert {"a", "b"} <= set(m.unidentified_) and "purchase:group[b]" not in m.unidentified_
    s = m.summary()
    assert not np.isinf(s.to_numpy()).any()
    assert np.isfinite(s.loc["purchase:group[b]"]).all() and s.loc[["a", "b"], "std_error"].isna().all()


def test_gamma_gamma_homogeneous_spend_limit_warns():
    # three repeat buyers: the spread between customers cannot be told from the spread within them
    with pytest.warns(IdentificationWarning, match=r"GammaGamma\.fit: .*q=.* not identified.*same expected spend"):
        m = GammaGamma().fit([2, 3, 1], [10.0, 12.0, 30.0])
    assert {"q", "v"} <= set(m.unidentified_)
    assert not np.isinf(m.summary().to_numpy()).any()


def test_sbg_constant_churn_is_the_geometric_limit_or_a_convergence_error():
    # exactly geometric survival (50 % churn every period): no heterogeneity, alpha, beta -> infinity
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            m = ShiftedBetaGeometric().fit([1600, 800, 400, 200, 100])
        except ConvergenceError as exc:
            assert "ran off" in str(exc) or "flat" in str(exc)
            return
    assert any(issubclass(w.category, IdentificationWarning) for w in rec)
    assert m.params_["alpha"] / (m.params_["alpha"] + m.params_["beta"]) == pytest.approx(0.5, rel=1e-3)
    assert not np.isinf(m.summary().to_numpy()).any()


def test_published_fits_emit_no_warning(cdnow):
    donations = pd.read_csv(__import__("pathlib").Path(__file__).resolve().parents[2] / "data" / "donations.csv")
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for M in (BetaGeo, ModifiedBetaGeo):
            m = M().fit(*args)
            assert m.unidentified_ == () and np.isfinite(m.summary().to_numpy()).all()
        gg = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
        bb = BetaGeoBetaBinom().fit(donations["frequency"], donations["recency"], donations["periods"],
                                    donations["weights"])
        sbg = [ShiftedBetaGeometric().fit(c) for c in ([1000, 631, 468, 382, 326, 289, 262, 241],
                                                       [1000, 869, 743, 653, 593, 551, 517, 491])]
    for m in (gg, bb, *sbg):
        assert m.unidentified_ == () and np.isfinite(m.summary().to_numpy()).all()


def test_fit_models_reports_a_model_that_does_not_converge():
    models, failed = fit_models({"BG/NBD": BetaGeo(), "BG/NBD penalized": BetaGeo(penalizer=0.01)}, *REVIEW)
    assert list(models) == ["BG/NBD penalized"] and list(failed) == ["BG/NBD"]
    assert "did not converge" in failed["BG/NBD"]
