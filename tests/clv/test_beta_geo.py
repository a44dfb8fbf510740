"""BG/NBD: published estimates from raw CDNOW data, gradients, properties, robustness."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime, check_grad
from sklearn.metrics import roc_auc_score

from segwork.clv import BetaGeo
from segwork.clv.simulate import simulate_bg_nbd
from segwork.errors import ConvergenceError, DataError, NotFittedError


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_reproduces_fader_hardie_lee_2005(bg):
    # "Counting your customers the easy way", Marketing Science 24(2): r, alpha, a, b and LL.
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert bg.params_[k] == pytest.approx(v, rel=1e-3, abs=6e-4), k
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)


def test_expectations_match_hardie_spreadsheet(bg):
    # B. Hardie's BG/NBD Excel note: E[X(t)] at these t, and the conditional expectation
    # of customer ID 1 (x=2, t_x=30.43, T=38.86) over the 39-week holdout: 1.226.
    t = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(bg.expected_purchases_new(t), expected, atol=6e-4)
    assert bg.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_holdout_forecast_by_frequency_is_sensible(bg, cdnow):
    # Conditional expectations rise with calibration frequency, as the actual holdout purchases do
    # (FHL 2005, Figure 4), and the aggregate is within 15 % of the actual.
    pred = bg.expected_purchases(cdnow["duration_holdout"], cdnow["frequency"], cdnow["recency"], cdnow["T"])
    by = pd.DataFrame({"f": cdnow["frequency"].clip(upper=7), "pred": pred, "act": cdnow["frequency_holdout"]})
    means = by.groupby("f").mean()
    assert means["act"].is_monotonic_increasing or means["act"].diff().dropna().gt(-0.5).all()
    assert abs(pred.sum() - by["act"].sum()) / by["act"].sum() < 0.15


def test_analytic_gradient_matches_numerical(cdnow):
    model = BetaGeo()
    from segwork.clv.base import compress

    data, w = compress({"x": cdnow["frequency"].to_numpy(float), "tx": cdnow["recency"].to_numpy(float),
                        "T": cdnow["T"].to_numpy(float)}, np.ones(len(cdnow)))
    for p in ([0.3, 5.0, 0.7, 2.0], [1.5, 0.5, 3.0, 0.4], [0.05, 40.0, 0.2, 9.0]):
        p = np.array(p)
        f = lambda q: model._total_loglik(q, data, w)[0]  # noqa: E731
        g = model._total_loglik(p, data, w)[1]
        num = approx_fprime(p, f, 1e-6 * p)
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-3)
        # the per-row formulation agrees with the fast weighted one
        ll_rows, g_rows = model._loglik(p, data)
        assert np.sum(w * ll_rows) == pytest.approx(f(p), rel=1e-12)
        np.testing.assert_allclose(g_rows @ w, g, rtol=1e-9)
    # and check_grad on the optimiser's log-scale objective
    fun = model._objective_factory(data, w)
    x0 = np.log([0.3, 5.0, 0.7, 2.0])
    assert check_grad(lambda z: fun(z)[0], lambda z: fun(z)[1], x0) < 1e-5


def test_summary_standard_errors(bg):
    s = bg.summary()
    assert list(s.index) == ["r", "alpha", "a", "b"]
    assert np.isfinite(s.to_numpy()).all()
    assert (s["std_error"] > 0).all()
    assert (s["lower_95"] < s["estimate"]).all() and (s["estimate"] < s["upper_95"]).all()


def test_weights_equivalent_to_expanded_rows(cdnow):
    triples = cdnow.groupby(["frequency", "recency", "T"]).size().rename("n").reset_index()
    a = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    b = BetaGeo().fit(triples["frequency"], triples["recency"], triples["T"], weights=triples["n"])
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


def test_deterministic(cdnow):
    a = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    b = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert a.params_ == b.params_


def test_time_unit_invariance(cdnow):
    # Fitting in days instead of weeks: alpha scales by 7, the other parameters and P(alive) are unchanged.
    w = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    d = BetaGeo().fit(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7)
    assert d.params_["alpha"] == pytest.approx(7 * w.params_["alpha"], rel=1e-4)
    for k in ("r", "a", "b"):
        assert d.params_[k] == pytest.approx(w.params_[k], rel=1e-4)


def test_penalizer_shrinks_log_params(cdnow):
    free = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    pen = BetaGeo(penalizer=0.1).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    norm = lambda m: sum(np.log(v) ** 2 for v in m.params_.values())  # noqa: E731
    assert norm(pen) < norm(free)
    assert pen.log_likelihood_ < free.log_likelihood_


def test_recovers_simulated_parameters():
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}
    s = simulate_bg_nbd(50_000, T=(20, 60), random_state=3, **truth)
    m = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    se = m.summary()["std_error"]
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 4 * se[k] + 0.02 * v, k


def test_p_alive_separates_truth_on_make_crm(crm, crm_summary):
    m = BetaGeo().fit(crm_summary["frequency"], crm_summary["recency"], crm_summary["T"])
    pa = m.p_alive(crm_summary["frequency"], crm_summary["recency"], crm_summary["T"])
    alive = crm.truth.loc[pa.index, "alive"]
    assert roc_auc_score(alive, pa) > 0.7


def test_outputs_keep_the_index(bg, cdnow):
    pa = bg.p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert isinstance(pa, pd.Series) and pa.index.equals(cdnow.index)
    assert isinstance(bg.p_alive(1, 2.0, 10.0), float)
    assert bg.p_alive(0, 0, 30.0) == 1.0  # BG/NBD: no repeat purchase, no chance to have dropped out


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 60),
    frac=st.floats(0, 1),
    T=st.floats(0.5, 200),
    t=st.floats(0.1, 100),
)
def test_properties(bg_hyp, x, frac, T, t):
    tx = frac * T if x > 0 else 0.0
    pa = bg_hyp.p_alive(x, tx, T)
    assert 0.0 <= pa <= 1.0
    e1 = bg_hyp.expected_purchases(t, x, tx, T)
    e2 = bg_hyp.expected_purchases(2 * t, x, tx, T)
    assert np.isfinite(e1) and 0 <= e1 <= e2 + 1e-9
    if x > 0:
        # a more recent last purchase means more likely alive
        assert bg_hyp.p_alive(x, min(tx + 0.1 * T, T), T) >= pa - 1e-12
    assert bg_hyp.expected_purchases_new(t) <= bg_hyp.expected_purchases_new(2 * t) + 1e-12


@pytest.fixture(scope="module")
def bg_hyp(cdnow):
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="call fit"):
        BetaGeo().p_alive(1, 1, 2)
    with pytest.raises(NotFittedError):
        BetaGeo().summary()


@pytest.mark.parametrize(
    "freq, rec, T, match",
    [
        ([1, 2], [1.0, 5.0], [2.0, 4.0], r"recency is larger than T for 1 customer.*recency=5, T=4"),
        ([1, -1], [1.0, 0.0], [2.0, 4.0], "frequency has 1 negative"),
        ([1, 1], [1.0, np.nan], [2.0, 4.0], "recency has 1 missing"),
        ([0, 0, 0], [0.0, 0.0, 0.0], [2.0, 4.0, 5.0], "no customer made a repeat purchase"),
        ([1], [1.0], [2.0], "at least 2 customers"),
        ([1, 0], [0.0, 0.0], [0.0, 0.0], "T is 0 for every customer"),
        ([1.5, 0], [1.0, 0.0], [2.0, 3.0], "whole numbers"),
        ([0, 1], [1.0, 1.0], [2.0, 3.0], "recency must be 0 without repeat purchases"),
        ([1, 2], [1.0, 1.0], [2.0], "different lengths"),
        (["a", "b"], [1.0, 1.0], [2.0, 3.0], "must be numeric"),
    ],
)
def test_bad_input_raises_data_error(freq, rec, T, match):
    with pytest.raises(DataError, match=match):
        BetaGeo().fit(freq, rec, T)


def test_bad_input_message_names_the_customer():
    s = pd.DataFrame({"frequency": [1, 3], "recency": [1.0, 9.0], "T": [5.0, 8.0]}, index=["c1", "c2"])
    with pytest.raises(DataError, match="customer 'c2'"):
        BetaGeo().fit(s["frequency"], s["recency"], s["T"])


@pytest.mark.parametrize("M", ["BetaGeo", "ModifiedBetaGeo"])
def test_degenerate_data_raises_convergence_error_naming_the_penalizer(M):
    # Every customer bought until the very end of the period: nobody seems to leave, so the dropout
    # parameters run off. The fit must say so (not return absurd or NaN values); a penalizer fixes it.
    import segwork.clv as clv

    rng = np.random.default_rng(0)
    x = rng.poisson(5, 500) + 1
    T = rng.uniform(30, 40, 500)
    with pytest.raises(ConvergenceError, match=r"penalizer=0\.001"):
        getattr(clv, M)().fit(x, T, T)
    m = getattr(clv, M)(penalizer=0.01).fit(x, T, T)
    assert all(np.isfinite(v) and 1e-8 < v < 1e8 for v in m.params_.values())
    assert np.isfinite(m.summary().to_numpy()).all()


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n=st.integers(2, 40))
def test_fit_on_arbitrary_data_is_finite_or_raises(data, n):
    # Whatever the data, a fit ends with finite positive parameters or raises a DataError /
    # ConvergenceError; never NaN or infinity.
    T = np.array(data.draw(st.lists(st.floats(0.5, 100), min_size=n, max_size=n)))
    frac = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    x = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    tx = np.where(x > 0, np.maximum(frac * T, 1e-3), 0.0)
    try:
        m = BetaGeo().fit(x, tx, T)
    except (DataError, ConvergenceError):
        return
    assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
    assert np.isfinite(m.log_likelihood_)


def test_estimator_contract(cdnow):
    from sklearn.base import clone

    m = BetaGeo(penalizer=0.05)
    assert m.get_params() == {"penalizer": 0.05, "start_sample": 100_000, "random_state": 0}
    assert not hasattr(m, "params_")  # __init__ only stores the hyperparameter
    fitted = m.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert fitted is m
    c = clone(m)
    assert c.penalizer == 0.05 and not hasattr(c, "params_")
