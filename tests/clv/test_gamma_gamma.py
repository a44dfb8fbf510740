"""Gamma-Gamma spend model: published CDNOW estimates from raw data, gradient, properties."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from segwork.clv import GammaGamma
from segwork.clv.base import compress
from segwork.errors import ConvergenceError, DataError, NotFittedError


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])


def test_reproduces_fader_hardie_lee_2005_iso_value(gg, cdnow):
    # "RFM and CLV: using iso-value curves", JMR 42(4): p = 6.25, q = 3.74, gamma = 15.44,
    # fitted on the 946 repeat buyers of the CDNOW sample (39-week calibration).
    assert gg.n_customers_ == 946
    assert gg.n_excluded_ == len(cdnow) - 946
    assert gg.n_zero_spend_ == ((cdnow["frequency"] > 0) & (cdnow["monetary_value"] == 0)).sum()
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert gg.params_[k] == pytest.approx(v, abs=0.006), k


def test_gradient_matches_numerical(cdnow):
    rep = cdnow[cdnow["frequency"] > 0]
    data, w = compress({"x": rep["frequency"].to_numpy(float), "m": rep["monetary_value"].to_numpy(float)},
                       np.ones(len(rep)))
    model = GammaGamma()
    for p in ([6.0, 3.5, 15.0], [1.0, 1.5, 3.0], [20.0, 8.0, 60.0]):
        p = np.array(p)
        g = model._total_loglik(p, data, w)[1]
        num = approx_fprime(p, lambda q: model._total_loglik(q, data, w)[0], 1e-7 * p)
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-3)


def test_expected_spend_shrinks_to_population_mean(gg):
    p, q, v = gg.params_["p"], gg.params_["q"], gg.params_["v"]
    pop = p * v / (q - 1)
    assert gg.expected_spend(0, 123.0) == pytest.approx(pop)
    assert gg.population_mean_spend() == pytest.approx(pop)
    # one purchase at 100: between the population mean and 100; many purchases: close to 100
    e1, e50 = gg.expected_spend(1, 100.0), gg.expected_spend(50, 100.0)
    assert pop < e1 < e50 < 100.0


@settings(max_examples=50, deadline=None)
@given(x=st.integers(1, 50), m=st.floats(0.5, 5000))
def test_expected_spend_is_a_weighted_average(gg_hyp, x, m):
    pop = gg_hyp.population_mean_spend()
    e = gg_hyp.expected_spend(x, m)
    assert min(pop, m) - 1e-9 <= e <= max(pop, m) + 1e-9
    assert gg_hyp.expected_spend(x, m * 1.1) >= e


@pytest.fixture(scope="module")
def gg_hyp(cdnow):
    return GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])


def test_series_in_series_out(gg, cdnow):
    e = gg.expected_spend(cdnow["frequency"], cdnow["monetary_value"])
    assert isinstance(e, pd.Series) and e.index.equals(cdnow.index) and np.isfinite(e).all()


def test_summary_finite(gg):
    s = gg.summary()
    assert np.isfinite(s.to_numpy()).all() and (s["std_error"] > 0).all()


def test_weights_equivalence(cdnow):
    rep = cdnow[cdnow["frequency"] > 0]
    grouped = rep.groupby(["frequency", "monetary_value"]).size().rename("n").reset_index()
    a = GammaGamma().fit(rep["frequency"], rep["monetary_value"])
    b = GammaGamma().fit(grouped["frequency"], grouped["monetary_value"], weights=grouped["n"])
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-6)


def test_zero_spend_repeaters_are_left_out_and_counted(gg, cdnow):
    # 30 repeat buyers whose repeat purchases were all $0 (and 5 more one-time buyers): the model has no
    # place for a 0 mean spend, so fit leaves them out, counts them and learns exactly what it learns without them.
    extra = pd.DataFrame({"frequency": np.r_[np.arange(1, 31), np.zeros(5, int)], "monetary_value": 0.0},
                         index=[f"Z{i}" for i in range(35)])
    data = pd.concat([cdnow[["frequency", "monetary_value"]], extra])
    model = GammaGamma().fit(data["frequency"], data["monetary_value"])
    assert model.n_zero_spend_ == gg.n_zero_spend_ + 30
    assert model.n_excluded_ == gg.n_excluded_ + 35
    assert model.n_customers_ == gg.n_customers_ == len(data) - model.n_excluded_
    for k in gg.params_:
        assert model.params_[k] == pytest.approx(gg.params_[k], rel=1e-9), k
    # counts are numbers of customers when rows carry weights
    w = GammaGamma().fit([1, 2, 3, 4, 0], [10.0, 0.0, 5.0, 8.0, 0.0], weights=[1, 7, 2, 1, 3])
    assert (w.n_zero_spend_, w.n_excluded_, w.n_customers_) == (7, 10, 4)


@pytest.mark.parametrize(
    "x, m, match",
    [
        ([1, 2, 3], [0.0, 0.0, 5.0], "at least 2 repeat buyers .*monetary_value > 0.*2 more with monetary_value 0"),
        ([0, 0, 1], [0.0, 0.0, 5.0], "at least 2 repeat buyers"),
        ([1, 2], [10.0, -3.0], "negative"),
        ([1, 2], [10.0, np.inf], "missing or infinite"),
        ([2, 3], [7.0, 7.0], "same monetary_value"),
    ],
)
def test_bad_input(x, m, match):
    with pytest.raises(DataError, match=match):
        GammaGamma().fit(x, m)


def test_not_fitted():
    with pytest.raises(NotFittedError, match=r"fit\(frequency, monetary_value\)"):
        GammaGamma().expected_spend(1, 10.0)


def _every_purchase_costs_9_99(n=400, seed=0):
    """Issue 17's case from raw transactions: each repeat purchase costs 9.99 EUR +- 1 cent (a flat-price
    subscription box): a customer table with frequency, monetary_value (the mean of the repeat purchases)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, n)
    prices = [np.round(9.99 + rng.choice([-0.01, 0.0, 0.01], k), 2) for k in x]
    monetary = np.array([p.mean() if len(p) else 0.0 for p in prices])
    return pd.DataFrame({"frequency": x, "monetary_value": monetary, "mean_amount": 9.99,
                         "recency": np.where(x > 0, 30.0 * x, 0.0), "T": 300.0},
                        index=pd.Index([f"S{i}" for i in range(n)], name="customer_id"))


def test_penalizer_hint_every_purchase_costs_9_99():
    """Issue 17: the hint said penalizer=0.001, which failed the same way; it now says what the data support."""
    from segwork.clv import fit_spend_model, predict_clv

    table = _every_purchase_costs_9_99()
    rep = table[table["frequency"] > 0]
    with pytest.raises(ConvergenceError) as exc:
        GammaGamma().fit(rep["frequency"], rep["monetary_value"])
    msg = str(exc.value)
    # the message leads with what the data support: one expected spend for everyone, the repeat buyers' mean spend
    # (from the raw rows), and names no penalizer: one converges (0.1), but to a population mean spend far from it
    assert re.match(r"GammaGamma\.fit did not converge: the repeat buyers' mean spends hardly vary .* one expected "
                    r"spend per purchase for everyone, about 9\.99", msg), msg
    assert "penalizer=" not in msg and "weeks" not in msg and "nobody" not in msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        penalized = GammaGamma(penalizer=0.1).fit(rep["frequency"], rep["monetary_value"])
    assert abs(penalized.population_mean_spend() - 9.99) > 1.0  # why it is not offered
    with pytest.warns(UserWarning, match=r"^fit_spend_model: .*hardly vary .* every customer's expected spend per "
                                         r"purchase is their mean, 9\.99"):
        spend = fit_spend_model(table)
    assert spend == pytest.approx(rep["monetary_value"].mean(), rel=1e-12) and abs(spend - 9.99) < 0.005
    with pytest.warns(UserWarning, match="hardly vary"):
        out = predict_clv(table)
    assert np.isfinite(out["clv"]).all() and (out["clv"] >= 0).all()


def test_spends_that_vary_keep_the_gamma_gamma(cdnow):
    from segwork.clv import fit_spend_model

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(fit_spend_model(cdnow), GammaGamma)
