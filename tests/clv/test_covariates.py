"""Time-invariant covariates on the BG/NBD and Pareto/NBD (segwork.clv.covariates).

Checked against the model's definition: zero coefficients give the plain model
(likelihood and predictions), planted coefficients are recovered from data
simulated from the covariate model (seeded), bad covariates are refused.

No published covariate estimate is reproducible from the data shipped in data/:
the published ones (Fader & Hardie 2007 note; CLVTools' apparelTrans examples)
use data sets that are not shipped, and CDNOW has no customer covariates.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD
from segwork.clv.covariates import per_customer_params
from segwork.errors import DataError


def _simulate(model_cls, base, coef, Z, T, seed):
    """(frequency, recency, T) drawn customer by customer from the covariate model's definition."""
    rng = np.random.default_rng(seed)
    m = model_cls()
    P = per_customer_params(m, np.array(base, float), np.array(coef, float), Z)
    n = len(Z)
    r, alpha = P[0], P[1]
    lam = rng.gamma(r, 1.0 / alpha)
    if model_cls is BetaGeo:
        p = np.clip(rng.beta(P[2], P[3]), 1e-12, 1.0)
        npur = rng.poisson(lam * T)
        last = rng.geometric(p)
        x = np.minimum(npur, last)
        # times of the first x of npur uniform events in (0, T]: the x-th order statistic
        rec = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(npur - x + 1, 1)), 0.0)
    else:
        mu = rng.gamma(P[2], 1.0 / P[3])
        life = np.minimum(rng.exponential(1.0 / mu), T)
        x = rng.poisson(lam * life)
        rec = np.where(x > 0, life * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    idx = pd.Index([f"C{i:06d}" for i in range(n)], name="customer_id")
    return (pd.Series(x.astype(float), index=idx), pd.Series(rec, index=idx), pd.Series(np.full(n, T), index=idx))


@pytest.fixture(scope="module")
def bg_data():
    rng = np.random.default_rng(7)
    n = 20000
    Z = np.column_stack([rng.integers(0, 2, n).astype(float), np.round(rng.normal(size=n), 1)])
    coef = [[0.5, -0.3], [0.6, 0.0], [-0.4, 0.2]]  # purchase, dropout_a, dropout_b
    x, tx, T = _simulate(BetaGeo, [0.7, 6.0, 0.9, 3.0], coef, Z, 40.0, seed=11)
    X = pd.DataFrame({"web": Z[:, 0], "score": Z[:, 1]}, index=x.index)
    return x, tx, T, X, np.array(coef)


def test_bg_zero_coefficients_is_the_plain_model(bg_data):
    x, tx, T, X, _ = bg_data
    plain = BetaGeo().fit(x, tx, T)
    base = np.array(list(plain.params_.values()))
    P = per_customer_params(plain, base, np.zeros((3, 2)), X.to_numpy())
    rows = {"x": x.to_numpy(), "tx": tx.to_numpy(), "T": T.to_numpy()}
    ll_cov = float(np.sum(plain._loglik(P, rows)[0]))
    assert ll_cov == pytest.approx(plain.log_likelihood_, rel=1e-10)
    cov = BetaGeo().fit(x, tx, T, covariates=X)
    assert cov.log_likelihood_ >= plain.log_likelihood_ - 1e-6
    cov.params_ = dict(plain.params_)
    cov.coef_[:] = 0.0
    np.testing.assert_allclose(cov.p_alive(x, tx, T, covariates=X), plain.p_alive(x, tx, T), rtol=1e-12)
    np.testing.assert_allclose(cov.expected_purchases(10, x, tx, T, covariates=X),
                               plain.expected_purchases(10, x, tx, T), rtol=1e-12)
    assert cov.expected_purchases_new(10, covariates=X.head(5)).to_numpy() == pytest.approx(
        plain.expected_purchases_new(10), rel=1e-12)


def test_bg_recovers_planted_coefficients(bg_data):
    x, tx, T, X, coef = bg_data
    model = BetaGeo().fit(x, tx, T, covariates=X)
    s = model.summary()
    assert list(s.index[4:]) == ["purchase:web", "purchase:score", "dropout_a:web", "dropout_a:score",
                                 "dropout_b:web", "dropout_b:score"]
    est, se = s["estimate"].to_numpy()[4:], s["std_error"].to_numpy()[4:]
    assert np.isfinite(se).all() and (se > 0).all()
    z = np.abs(est - coef.reshape(-1)) / se
    assert (z < 2.0).all(), z  # each within two standard errors (the check)
    base_true = np.log([0.7, 6.0, 0.9, 3.0])
    z_base = np.abs(np.log(s["estimate"].to_numpy()[:4]) - base_true) / (s["std_error"].to_numpy()[:4]
                                                                           / s["estimate"].to_numpy()[:4])
    assert (z_base < 2.5).all(), z_base


def test_pareto_zero_coefficients_and_recovery():
    rng = np.random.default_rng(3)
    n = 8000
    Z = rng.integers(0, 2, n).astype(float)[:, None]
    x, tx, T = _simulate(ParetoNBD, [0.8, 8.0, 0.6, 10.0], [[0.6], [-0.7]], Z, 39.0, seed=5)
    X = pd.DataFrame({"web": Z[:, 0]}, index=x.index)
    plain = ParetoNBD().fit(x, tx, T)
    base = np.array(list(plain.params_.values()))
    rows = {"x": x.to_numpy(), "tx": tx.to_numpy(), "T": T.to_numpy()}
    P = per_customer_params(plain, base, np.zeros((2, 1)), Z)
    assert float(np.sum(plain._loglik(P, rows)[0])) == pytest.approx(plain.log_likelihood_, rel=1e-10)
    model = ParetoNBD().fit(x, tx, T, covariates=X)
    assert model.log_likelihood_ >= plain.log_likelihood_ - 1e-6
    s = model.summary()
    est, se = s.loc[["purchase:web", "dropout:web"], "estimate"], s.loc[["purchase:web", "dropout:web"], "std_error"]
    z = np.abs(est.to_numpy() - np.array([0.6, -0.7])) / se.to_numpy()
    assert (z < 2.0).all(), z
    # a group's predictions are the plain model's with that group's parameters
    grp = ParetoNBD()
    grp.params_ = {"r": model.params_["r"], "alpha": model.params_["alpha"] * np.exp(-est.iloc[0]),
                   "s": model.params_["s"], "beta": model.params_["beta"] * np.exp(-est.iloc[1])}
    web = X["web"] == 1
    np.testing.assert_allclose(model.p_alive(x, tx, T, covariates=X)[web], grp.p_alive(x[web], tx[web], T[web]),
                               rtol=1e-12)


def test_categorical_covariate_is_one_hot_with_reference_level(bg_data):
    x, tx, T, X, _ = bg_data
    ch = pd.DataFrame({"channel": np.where(X["web"] == 1, "web", "shop")}, index=X.index)
    model = BetaGeo().fit(x, tx, T, covariates=ch)
    assert "purchase:channel[web]" in model.summary().index  # 'shop' (first in order) is the reference
    num = BetaGeo().fit(x, tx, T, covariates=X[["web"]])
    assert model.coef_.to_numpy() == pytest.approx(num.coef_.to_numpy(), abs=1e-5)
    bad = ch.head(3).copy()
    bad.iloc[0, 0] = "tv"
    with pytest.raises(DataError, match="level not seen in fit"):
        model.p_alive(x.head(3), tx.head(3), T.head(3), covariates=bad)


@pytest.mark.parametrize("case, match", [
    ("nan", "missing for 1 customer"),
    ("inf", "not finite"),
    ("constant", "same value for every customer"),
    ("missing_row", "no row for 1 customer"),
    ("duplicate", "more than one row"),
    ("not_frame", "must be a pandas DataFrame"),
    ("collinear", "linearly dependent"),
])
def test_bad_covariates_are_refused(bg_data, case, match):
    x, tx, T, X, _ = bg_data
    x, tx, T, X = x.head(500), tx.head(500), T.head(500), X.head(500).copy()
    if case == "nan":
        X.iloc[3, 1] = np.nan
    elif case == "inf":
        X.iloc[3, 1] = np.inf
    elif case == "constant":
        X["one"] = 1.0
    elif case == "missing_row":
        X = X.iloc[1:]
    elif case == "duplicate":
        X = pd.concat([X, X.iloc[:1]])
    elif case == "not_frame":
        X = X.to_numpy()
    elif case == "collinear":
        X["twice"] = 2 * X["score"]
    with pytest.raises(DataError, match=match):
        BetaGeo().fit(x, tx, T, covariates=X)


def test_predictions_need_matching_covariates(bg_data):
    x, tx, T, X, _ = bg_data
    x, tx, T, X = x.head(2000), tx.head(2000), T.head(2000), X.head(2000)
    model = BetaGeo().fit(x, tx, T, covariates=X)
    with pytest.raises(DataError, match="pass covariates"):
        model.p_alive(x, tx, T)
    with pytest.raises(DataError, match="lacks the column"):
        model.p_alive(x, tx, T, covariates=X[["web"]])
    # rows are matched by customer_id, not position
    shuffled = X.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(model.p_alive(x, tx, T, covariates=shuffled), model.p_alive(x, tx, T, covariates=X))
    plain = BetaGeo().fit(x, tx, T)
    with pytest.raises(DataError, match="fitted without covariates"):
        plain.p_alive(x, tx, T, covariates=X)
    with pytest.raises(DataError, match="BetaGeo and ParetoNBD only"):
        ModifiedBetaGeo().fit(x, tx, T, covariates=X)
    # refitting without covariates gives the plain model back
    model.fit(x, tx, T)
    assert model.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)
    assert not hasattr(model, "coef_")
