"""Gamma-Gamma with covariates on the spend scale (segwork.clv.GammaGamma, segwork.clv.covariates).

Checked against the model's definition: with zero coefficients the likelihood
is the plain Gamma-Gamma's; coefficients planted in data simulated from the
model (spend per purchase gamma(p, nu), nu ~ gamma(q, rate v_i),
v_i = v exp(gamma' z_i); seeded) are recovered within two standard errors; bad
covariates get the transaction models' errors. No published Gamma-Gamma
covariate estimate exists for the data shipped in data/ (CDNOW has no
customer covariates).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.clv import BetaGeo, GammaGamma, customer_lifetime_value, new_customer_value
from segwork.clv.covariates import per_customer_params
from segwork.errors import DataError

PLANTED = {"p": 6.0, "q": 4.0, "v": 15.0, "web": 0.4, "score": -0.25}


@pytest.fixture(scope="module")
def spend():
    """3,000 customers: 500 one-time buyers, the rest with 1-7 repeat purchases and their mean spend."""
    rng = np.random.default_rng(20261201)
    n, n_once = 3000, 500
    web = rng.integers(0, 2, n).astype(float)
    score = np.round(rng.normal(size=n), 2)
    v_i = PLANTED["v"] * np.exp(PLANTED["web"] * web + PLANTED["score"] * score)
    nu = rng.gamma(PLANTED["q"], 1.0 / v_i)  # rate of each customer's spend per purchase; shape q, rate v_i
    x = rng.integers(1, 8, n).astype(float)
    x[:n_once] = 0.0
    # the mean of x gamma(p, rate nu) purchases is gamma(p x, rate nu x)
    m = np.where(x > 0, rng.gamma(PLANTED["p"] * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0.0)
    idx = pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id")
    X = pd.DataFrame({"web": web, "score": score}, index=idx)
    return pd.Series(x, index=idx, name="frequency"), pd.Series(m, index=idx, name="monetary_value"), X


@pytest.fixture(scope="module")
def fitted(spend):
    x, m, X = spend
    return GammaGamma().fit(x, m, covariates=X), GammaGamma().fit(x, m)


def test_zero_coefficients_is_the_plain_model(spend, fitted):
    x, m, X = spend
    model, plain = fitted
    rep = (x > 0).to_numpy()
    base = np.array([plain.params_[k] for k in ("p", "q", "v")])
    P = per_customer_params(plain, base, np.zeros((1, 2)), X.to_numpy()[rep])
    ll = float(np.sum(plain._loglik(P, {"x": x.to_numpy()[rep], "m": m.to_numpy()[rep]})[0]))
    assert ll == pytest.approx(plain.log_likelihood_, rel=1e-10)
    assert model.log_likelihood_ >= plain.log_likelihood_ - 1e-6
    assert (model.n_customers_, model.n_excluded_) == (plain.n_customers_, plain.n_excluded_) == (2500.0, 500.0)
    zero = GammaGamma().fit(x, m, covariates=X)
    zero.params_ = dict(plain.params_)
    zero.coef_[:] = 0.0
    np.testing.assert_allclose(zero.expected_spend(x, m, covariates=X), plain.expected_spend(x, m), rtol=1e-12)


def test_recovers_planted_coefficients(spend, fitted):
    x, m, X = spend
    model, _ = fitted
    s = model.summary()
    assert list(s.index) == ["p", "q", "v", "spend:web", "spend:score"]
    est, se = s["estimate"].to_numpy(), s["std_error"].to_numpy()
    assert np.isfinite(se).all() and (se > 0).all()
    z = np.abs(est[3:] - [PLANTED["web"], PLANTED["score"]]) / se[3:]
    assert (z < 2.0).all(), z  # the check
    z_base = np.abs(np.log(est[:3]) - np.log([PLANTED["p"], PLANTED["q"], PLANTED["v"]])) / (se[:3] / est[:3])
    assert (z_base < 2.5).all(), z_base
    # predictions use v_i = v exp(gamma' z_i): by hand from the estimates (the FHL 2005 conditional mean)
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    v_i = v * np.exp(X.to_numpy() @ model.coef_.to_numpy())
    by_hand = p * (v_i + x * m) / (p * x + q - 1)
    np.testing.assert_allclose(model.expected_spend(x, m, covariates=X), by_hand, rtol=1e-12)
    profiles = pd.DataFrame({"web": [0.0, 1.0], "score": [0.0, 0.0]}, index=["shop", "web"])
    means = model.population_mean_spend(profiles)
    assert means["web"] / means["shop"] == pytest.approx(np.exp(model.coef_["spend:web"]), rel=1e-12)


def test_categorical_covariate_and_unknown_level(spend):
    x, m, X = spend
    ch = pd.DataFrame({"channel": np.where(X["web"] == 1, "web", "shop")}, index=X.index)
    model = GammaGamma().fit(x, m, covariates=ch)
    assert list(model.coef_.index) == ["spend:channel[web]"]  # 'shop' (first in order) is the reference
    num = GammaGamma().fit(x, m, covariates=X[["web"]])
    assert model.coef_.to_numpy() == pytest.approx(num.coef_.to_numpy(), abs=1e-5)
    bad = ch.head(3).copy()
    bad.iloc[0, 0] = "tv"
    with pytest.raises(DataError, match="level not seen in fit"):
        model.expected_spend(x.head(3), m.head(3), covariates=bad)


@pytest.mark.parametrize("case, match", [
    ("nan", "missing for 1 customer"),
    ("inf", "not finite"),
    ("constant", "same value for every customer"),
    ("constant_over_repeat_buyers", "same value for every customer"),
    ("missing_row", "no row for 1 customer"),
    ("missing_row_one_time_buyer", "no row for 1 customer"),
    ("collinear", "linearly dependent"),
])
def test_bad_covariates_are_refused_like_the_transaction_models(spend, case, match):
    x, m, X = spend
    x, m, X = x.iloc[400:900], m.iloc[400:900], X.iloc[400:900].copy()  # 100 one-time buyers, 400 repeat
    if case == "nan":
        X.iloc[150, 1] = np.nan
    elif case == "inf":
        X.iloc[150, 1] = np.inf
    elif case == "constant":
        X["one"] = 1.0
    elif case == "constant_over_repeat_buyers":  # varies only among the one-time buyers the fit leaves out
        X["flag"] = np.where(x > 0, 1.0, 0.0)
    elif case == "missing_row":
        X = X.drop(X.index[150])
    elif case == "missing_row_one_time_buyer":
        X = X.drop(X.index[0])
    elif case == "collinear":
        X["twice"] = 2 * X["score"]
    with pytest.raises(DataError, match=match):
        GammaGamma().fit(x, m, covariates=X)
    if case in ("constant", "missing_row", "nan"):  # the transaction models' message is the same
        with pytest.raises(DataError, match=match):
            BetaGeo().fit(x, pd.Series(np.where(x > 0, 10.0, 0.0), index=x.index),
                          pd.Series(40.0, index=x.index), covariates=X)


def test_predictions_need_matching_covariates(spend, fitted):
    x, m, X = spend
    model, plain = fitted
    with pytest.raises(DataError, match="pass covariates"):
        model.expected_spend(x, m)
    with pytest.raises(DataError, match="lacks the column"):
        model.expected_spend(x, m, covariates=X[["web"]])
    nan = X.head(10).copy()
    nan.iloc[2, 0] = np.nan
    with pytest.raises(DataError, match="missing for 1 customer"):
        model.expected_spend(x.head(10), m.head(10), covariates=nan)
    with pytest.raises(DataError, match="fitted without covariates"):
        plain.expected_spend(x, m, covariates=X)
    shuffled = X.sample(frac=1.0, random_state=0)  # matched by customer_id, not position
    np.testing.assert_allclose(model.expected_spend(x, m, covariates=shuffled), model.expected_spend(x, m, covariates=X))


def test_clv_passes_covariates_to_the_spend_model(spend, fitted):
    x, m, X = spend
    model, plain = fitted
    rng = np.random.default_rng(5)
    summary = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, np.round(38 * rng.uniform(size=len(x)), 1), 0.0),
                            "T": 39.0, "monetary_value": m})
    bg = BetaGeo()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW (FHL 2005); only the spend side is tested
    clv = customer_lifetime_value(bg, model, summary, covariates=X)
    clv_plain = customer_lifetime_value(bg, plain, summary)
    ratio = model.expected_spend(x, m, covariates=X) / plain.expected_spend(x, m)
    np.testing.assert_allclose(clv, clv_plain * ratio, rtol=1e-10)
    profiles = pd.DataFrame({"web": [0.0, 1.0], "score": [0.0, 0.0]}, index=["shop", "web"])
    new = new_customer_value(bg, model, covariates=profiles)
    assert new["web"] / new["shop"] == pytest.approx(np.exp(model.coef_["spend:web"]), rel=1e-12)


def test_bg_new_customer_expectation_with_a_scalar_horizon_in_the_slow_branch():
    """Found here: new_customer_value on a BG/NBD at its a, b -> infinity limit (a scalar t) raised TypeError."""
    bg = BetaGeo()
    bg.params_ = {"r": 0.6, "alpha": 5.0, "a": 2.8e6, "b": 1.42e7}
    assert bg.expected_purchases_new(4.35) == pytest.approx(bg.expected_purchases_new([4.35, 8.7])[0], rel=1e-12)
