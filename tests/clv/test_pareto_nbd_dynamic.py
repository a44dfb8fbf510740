"""The Pareto/NBD with time-varying covariates (segwork.clv.pareto_nbd_dynamic, dynamic_covariates, dynamic_likelihood).

Checked against (1) segwork's static-covariate Pareto/NBD when the covariates do not vary in time and (2) the plain
Pareto/NBD with zero coefficients, at the same parameters, to 1e-8; (3) planted effects of the model's own
simulator (segwork.clv.simulate_time_varying_pareto_nbd); (4) the input checks; (5) CLVTools on its apparel data.

The CLVTools reference numbers below come from CLVTools 0.12.1 built from source on this machine:
``benchmarks/clvtools_apparel_dynamic.R`` (the lead's run: the static and the dynamic fit, ``predict``) and
``benchmarks/clvtools_apparel_dynamic_checks.R`` (CLVTools' own log-likelihood at its estimates, at perturbed
points and on shifted data; numDeriv's Hessian of that log-likelihood; DECT at discount rates).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segwork.clv import ParetoNBD, TimeVaryingParetoNBD, simulate_time_varying_pareto_nbd
from segwork.clv.dynamic_covariates import build_design
from segwork.clv.dynamic_likelihood import evaluate, exact_parts, make_geometry
from segwork.datasets import load_apparel
from segwork.errors import DataError, IdentificationWarning
from segwork.features import rfm_summary

PURCHASE = {"season": 0.5, "promo": 0.4, "segment[b]": 0.3}
DROPOUT = {"complaint": 1.2, "segment[b]": -0.5}
TV = dict(purchase_covariates=["season", "promo"], dropout_covariates=["complaint", "season"])


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.fixture(scope="module")
def sim():
    return simulate_time_varying_pareto_nbd(1500, purchase_coef=PURCHASE, dropout_coef=DROPOUT, future_weeks=30,
                                            random_state=3)


@pytest.fixture(scope="module")
def fitted(sim):
    return TimeVaryingParetoNBD().fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                      static_covariates=sim.static, **TV)


@pytest.fixture(scope="module")
def summary(sim):
    return rfm_summary(sim.transactions, observation_end=sim.observation_end, time_unit="weeks")


# ----------------------------------------------------------------------------- (1) static covariates


@pytest.fixture(scope="module")
def constant(sim, summary):
    """The simulated customers with two covariates that do not change in time: a 0/1 and a continuous score."""
    rng = np.random.default_rng(0)
    static = pd.DataFrame({"seg_b": (sim.static["segment"] == "b").astype(float),
                           "score": rng.normal(size=len(sim.static))}, index=sim.static.index)
    cov = sim.covariates.join(static, on="customer_id")
    static = static.loc[summary.index]
    plain = ParetoNBD().fit(summary["frequency"], summary["recency"], summary["T"], covariates=static)
    tv = TimeVaryingParetoNBD().fit(sim.transactions, cov, observation_end=sim.observation_end,
                                    purchase_covariates=["seg_b", "score"], dropout_covariates=["seg_b", "score"])
    return static, cov, plain, tv


def test_constant_covariates_give_the_static_model_at_the_same_parameters(constant, summary):
    static, cov, plain, tv = constant
    at = tv.with_parameters(plain.params_, plain.coef_)
    assert _rel(at.log_likelihood_, plain.log_likelihood_) < 1e-8
    f, rec, T = summary["frequency"], summary["recency"], summary["T"]
    assert _rel(at.p_alive(), plain.p_alive(f, rec, T, covariates=static).loc[at.p_alive().index]) < 1e-8
    for h in (1.0, 12.5, 30.0):
        mine = at.expected_purchases(h)
        ref = plain.expected_purchases(h, f, rec, T, covariates=static)
        assert _rel(mine, ref.loc[mine.index]) < 1e-8


def test_constant_covariates_fit_the_static_model(constant):
    """Both fits maximise the same likelihood: the same optimum within the optimisers' tolerance."""
    static, cov, plain, tv = constant
    assert abs(tv.log_likelihood_ - plain.log_likelihood_) < 1e-6
    assert np.allclose(tv.coef_.loc[plain.coef_.index], plain.coef_, atol=1e-4)
    for p in ("r", "alpha", "s", "beta"):
        assert tv.params_[p] == pytest.approx(plain.params_[p], rel=1e-4)
    ref = plain.summary().loc[plain.coef_.index, "std_error"]
    assert _rel(tv.summary().loc[ref.index, "se"], ref) < 1e-3


def test_static_covariates_argument_is_the_same_model(sim, constant):
    static, cov, plain, tv = constant
    other = TimeVaryingParetoNBD().fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                       static_covariates=static)
    assert list(other.coef_.index) == list(tv.coef_.index)
    at = other.with_parameters(plain.params_, plain.coef_)
    assert _rel(at.log_likelihood_, plain.log_likelihood_) < 1e-8


# ----------------------------------------------------------------------------- (2) zero coefficients


def test_zero_coefficients_give_the_plain_pareto_nbd(fitted, summary):
    f, rec, T = summary["frequency"], summary["recency"], summary["T"]
    plain = ParetoNBD().fit(f, rec, T)
    at = fitted.with_parameters(plain.params_, pd.Series(0.0, index=fitted.coef_.index))
    assert _rel(at.log_likelihood_, plain.log_likelihood_) < 1e-8
    assert _rel(at.p_alive(), plain.p_alive(f, rec, T).loc[at.p_alive().index]) < 1e-8
    mine = at.expected_purchases(20.0)
    assert _rel(mine, plain.expected_purchases(20.0, f, rec, T).loc[mine.index]) < 1e-8
    # the fit starts there, so it can only be better
    assert fitted.log_likelihood_ >= plain.log_likelihood_


# ----------------------------------------------------------------------------- the likelihood itself


def test_frequency_recency_T_are_rfm_summarys(sim, summary):
    # more records on days with a purchase (other amounts, so not duplicates): a purchase day counts once, as there
    tx = pd.concat([sim.transactions, sim.transactions.iloc[:50].assign(amount=3.0)])
    design, _ = build_design("t", tx, sim.covariates, observation_end=sim.observation_end, static_covariates=None,
                             **TV)
    assert list(design.customers) == list(summary.index)
    assert np.array_equal(design.x, summary["frequency"].to_numpy())
    assert np.allclose(design.tx, summary["recency"]) and np.allclose(design.T, summary["T"])


def test_gradient_and_closed_form(sim):
    design, _ = build_design("t", sim.transactions, sim.covariates, observation_end=sim.observation_end,
                             static_covariates=sim.static, **TV)
    geo = make_geometry(design, 8, budget=20_000)  # several chunks
    for base in ([0.8, 8.0, 0.7, 20.0], [2.0, 0.5, 1.5, 0.5]):  # the second: small alpha, beta (steep integrands)
        theta = np.r_[np.log(base), 0.5, 0.4, 0.3, 1.2, 0.1, -0.5]
        total, grad = evaluate(theta, geo)
        closed = exact_parts(theta, geo)[0].sum()
        fine = evaluate(theta, make_geometry(design, 32), want_grad=False)[0]
        assert _rel(fine, closed) < 1e-10
        if base[1] > 1:
            assert _rel(total, closed) < 1e-10
        num = np.empty_like(theta)
        for i in range(len(theta)):
            e = np.zeros_like(theta)
            e[i] = 1e-5
            num[i] = (evaluate(theta + e, geo, False)[0] - evaluate(theta - e, geo, False)[0]) / 2e-5
        assert np.allclose(grad, num, rtol=1e-5, atol=1e-4 * len(design.x) * 1e-3)


def test_too_few_nodes_are_doubled_until_they_agree(sim):
    m = TimeVaryingParetoNBD(n_nodes=2).fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                            **TV)
    assert m.n_nodes_ >= 4 and m.quadrature_error_ <= 1e-10


# ----------------------------------------------------------------------------- (3) planted recovery


def test_planted_effects_are_recovered_within_their_intervals():
    """One seeded draw of 4,000 customers: the 12 planted values (8 coefficients, r, alpha, s, beta) lie inside
    their Wald intervals at a family-wise 95 % (Bonferroni: 1.96 becomes 2.87), and the summary's own 95 %
    intervals are those of the multipliers. Each 95 % interval alone covers 95 % of draws, so 12 of them all
    cover in only about half the draws: their coverage over replications is measured by
    benchmarks/tv_pnbd_coverage.py (benchmarks/README.md).

    alpha = 24 (a purchase every 30 weeks on average): few purchases fall on one day, where the data (by day, as
    rfm_summary counts them) would merge them and pull the purchase multipliers towards 1."""
    from scipy.stats import norm

    sim = simulate_time_varying_pareto_nbd(4000, alpha=24.0, purchase_coef=PURCHASE, dropout_coef=DROPOUT,
                                           random_state=11)
    m = TimeVaryingParetoNBD().fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                   static_covariates=sim.static, **TV)
    s = m.summary()
    planted = {f"purchase:{k}": v for k, v in PURCHASE.items()} | {f"dropout:{k}": v for k, v in DROPOUT.items()}
    planted["dropout:season"] = 0.0
    z = norm.ppf(1 - 0.05 / (2 * 12))
    for name, coef in planted.items():
        assert abs(s.loc[name, "coef"] - coef) <= z * s.loc[name, "se"], name
    ps = m.params_summary()
    for p, v in {"r": 0.8, "alpha": 24.0, "s": 0.7, "beta": 20.0}.items():
        se_log = ps.loc[p, "se"] / ps.loc[p, "estimate"]
        assert abs(np.log(ps.loc[p, "estimate"] / v)) <= z * se_log, p
    assert list(s.columns) == ["coef", "se", "multiplier", "lower_95", "upper_95"]
    assert np.allclose(s["multiplier"], np.exp(s["coef"]))
    assert np.allclose(s["lower_95"], np.exp(s["coef"] - 1.959963984540054 * s["se"]))


def test_fixed_coefficient_for_a_likelihood_ratio_test(sim, fitted):
    held = TimeVaryingParetoNBD().fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                      static_covariates=sim.static, fixed={"dropout:complaint": 0.0}, **TV)
    assert held.coef_["dropout:complaint"] == 0.0 and held.fixed_ == {"dropout:complaint": 0.0}
    row = held.summary().loc["dropout:complaint"]
    assert np.isnan(row["se"]) and np.isnan(row["lower_95"]) and row["multiplier"] == 1.0
    lr = 2 * (fitted.log_likelihood_ - held.log_likelihood_)
    assert lr > 3.84  # the planted complaint effect (x3.3) is found by the test
    with pytest.raises(DataError, match="not coefficients of this fit"):
        TimeVaryingParetoNBD().fit(sim.transactions, sim.covariates, observation_end=sim.observation_end,
                                   fixed={"dropout:nothing": 0.0}, **TV)


def test_predictions_follow_the_future_path(sim, fitted):
    """A future with an open complaint everywhere: fewer expected purchases; P(alive) is about the past only."""
    future = sim.covariates.copy()
    later = future["period_start"] > sim.observation_end
    base = fitted.expected_purchases(20.0)
    future.loc[later, "complaint"] = 1.0
    worse = fitted.expected_purchases(20.0, covariates=future)
    assert (worse <= base + 1e-12).all() and (worse < base).mean() > 0.9
    assert np.allclose(fitted.discounted_expected_purchases(20.0, 0.0), base, rtol=1e-10)
    assert (fitted.discounted_expected_purchases(20.0, 0.05) < base).all()
    assert fitted.expected_purchases(0.0).eq(0.0).all()
    assert fitted.p_alive().between(0, 1).all() and fitted.p_alive().index.equals(base.index)


def test_categorical_time_varying_column_is_one_hot_encoded(sim, fitted):
    """A text column with the levels "no"/"yes" is the 0/1 column: same fit, named column[level]."""
    cov = sim.covariates.assign(promo_text=np.where(sim.covariates["promo"] > 0, "yes", "no"))
    m = TimeVaryingParetoNBD().fit(sim.transactions, cov, observation_end=sim.observation_end,
                                   static_covariates=sim.static, purchase_covariates=["season", "promo_text"],
                                   dropout_covariates=["complaint", "season"])
    assert "purchase:promo_text[yes]" in m.coef_.index
    assert m.log_likelihood_ == pytest.approx(fitted.log_likelihood_, abs=1e-6)
    assert m.coef_["purchase:promo_text[yes]"] == pytest.approx(fitted.coef_["purchase:promo"], abs=1e-4)


# ----------------------------------------------------------------------------- (4) input checks


def _fit(sim, cov, **kw):
    args = dict(observation_end=sim.observation_end, **TV) | kw
    return TimeVaryingParetoNBD().fit(sim.transactions, cov, **args)


def _customer_rows(cov, cid):
    return cov.index[cov["customer_id"] == cid]


def test_overlapping_periods_are_refused(sim):
    cov = pd.concat([sim.covariates, sim.covariates.iloc[[5]]])
    cid = sim.covariates["customer_id"].iloc[5]
    with pytest.raises(DataError, match=f"customer '{cid}' has 2 rows for the period starting .*overlapping"):
        _fit(sim, cov)


def test_gaps_are_refused(sim):
    cid = "C000007"
    rows = _customer_rows(sim.covariates, cid)
    cov = sim.covariates.drop(rows[3])
    when = sim.covariates.loc[rows[3], "period_start"].date()
    with pytest.raises(DataError, match=f"customer '{cid}' has no row for the period starting {when} \\(a gap"):
        _fit(sim, cov)


def test_a_period_missing_at_the_first_purchase_or_at_the_end_is_refused(sim):
    cid = "C000009"
    rows = _customer_rows(sim.covariates, cid)
    with pytest.raises(DataError, match=f"customer '{cid}' has no covariate row .* contains their first purchase"):
        _fit(sim, sim.covariates.drop(rows[0]))
    end_rows = rows[sim.covariates.loc[rows, "period_start"] > sim.observation_end - pd.Timedelta(days=14)]
    with pytest.raises(DataError, match=f"customer '{cid}' has no covariate row .*observation_end"):
        _fit(sim, sim.covariates.drop(end_rows))


def test_periods_off_the_grid_are_refused(sim):
    cov = sim.covariates.copy()
    cov.loc[10, "period_start"] += pd.Timedelta(days=2)
    with pytest.raises(DataError, match="is not on the weekly grid"):
        _fit(sim, cov)
    cov = sim.covariates.copy()
    cov.loc[10, "period_start"] += pd.Timedelta(hours=3)
    with pytest.raises(DataError, match="has a time of day"):
        _fit(sim, cov)


def test_non_finite_values_are_refused(sim):
    cid = "C000004"
    row = _customer_rows(sim.covariates, cid)[1]
    cov = sim.covariates.copy()
    cov.loc[row, "promo"] = np.inf
    when = cov.loc[row, "period_start"].date()
    message = f"'promo' is not finite \\(inf\\) for customer '{cid}' in the period starting {when}"
    with pytest.raises(DataError, match=message):
        _fit(sim, cov)
    cov.loc[row, "promo"] = np.nan
    with pytest.raises(DataError, match="'promo' is not finite \\(nan\\)"):
        _fit(sim, cov)


def test_a_customer_without_covariates_is_refused(sim):
    cov = sim.covariates[sim.covariates["customer_id"] != "C000002"]
    with pytest.raises(DataError, match="1 customer\\(s\\) with transactions have no rows .*'C000002'"):
        _fit(sim, cov)


def test_missing_columns_and_constant_covariates_are_refused(sim):
    with pytest.raises(DataError, match="lacks column\\(s\\) \\['promo'\\]"):
        _fit(sim, sim.covariates.drop(columns="promo"))
    with pytest.raises(DataError, match="same value"):
        _fit(sim, sim.covariates.assign(promo=1.0))
    with pytest.raises(DataError, match="period_start' must hold dates"):
        _fit(sim, sim.covariates.assign(period_start=sim.covariates["period_start"].astype(str)))


def test_future_periods_missing_for_a_prediction_are_named(sim, fitted):
    with pytest.raises(DataError, match="customer 'C000000' has no covariate row for the period starting .* to predict "
                                        "40 weeks past observation_end"):
        fitted.expected_purchases(40.0)
    with pytest.raises(DataError, match="horizon=-1 is below the limit"):
        fitted.expected_purchases(-1.0)
    with pytest.raises(DataError, match="discount_rate=nan is not a finite number"):
        fitted.discounted_expected_purchases(4.0, float("nan"))


# ----------------------------------------------------------------------------- (5) CLVTools' apparel data

#: CLVTools 0.12.1's dynamic-covariate estimates on apparelDynCov (benchmarks/clvtools_apparel_dynamic.R),
#: log-likelihood -5752.93672023 (Nelder-Mead, stopped before the optimum: see test_apparel_dynamic_fit).
CLV_PARAMS = {"r": 1.9777409872, "alpha": 115.1779143952, "s": 2.0127328598, "beta": 158.1817952293}
CLV_COEF = {"dropout:high_season": -2.4826722299, "dropout:gender": -0.5124721776, "dropout:channel": 0.5057316202,
            "purchase:high_season": 0.7182712610, "purchase:gender": 0.2649019376,
            "purchase:channel": 0.6137395101}
APPAREL_TV = dict(purchase_covariates=["high_season", "gender", "channel"],
                  dropout_covariates=["high_season", "gender", "channel"])


@pytest.fixture(scope="module")
def apparel():
    return load_apparel()


@pytest.fixture(scope="module")
def apparel_fit(apparel):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = TimeVaryingParetoNBD().fit(apparel.transactions, apparel.dynamic_covariates,
                                       observation_end=apparel.estimation_end, **APPAREL_TV)
    return m, caught


def test_load_apparel_keeps_every_record(apparel):
    tx = apparel.transactions
    assert len(tx) == 3187 and tx["customer_id"].nunique() == 600
    assert (tx.groupby("customer_id")["date"].min() == pd.Timestamp("2005-01-02")).all()
    assert (tx["amount"] == 0).sum() == 4  # Price 0 records are purchases, as in CLVTools
    assert apparel.static_covariates.shape == (600, 2) and apparel.static_covariates.index.name == "customer_id"
    assert apparel.dynamic_covariates.shape == (187_800, 5) and len(apparel.dynamic_covariates_future) == 56_400
    assert list(apparel.dynamic_covariates.columns) == ["customer_id", "period_start", "high_season", "gender",
                                                         "channel"]


def test_apparel_static_covariates_reference(apparel):
    """segwork's static-covariate Pareto/NBD: LL -5821.0627 (CLVTools 0.12.1: -5821.062692), and the time-varying
    model with the same covariates as constant columns of the long table gives the same fit."""
    s = rfm_summary(apparel.transactions, observation_end=apparel.estimation_end, time_unit="weeks", amount_col=None)
    static = ParetoNBD().fit(s["frequency"], s["recency"], s["T"], covariates=apparel.static_covariates)
    assert static.log_likelihood_ == pytest.approx(-5821.0627, abs=1e-4)
    tv = TimeVaryingParetoNBD().fit(apparel.transactions, apparel.dynamic_covariates,
                                    observation_end=apparel.estimation_end, purchase_covariates=["gender", "channel"],
                                    dropout_covariates=["gender", "channel"])
    assert tv.log_likelihood_ == pytest.approx(-5821.0627, abs=1e-4)
    assert np.allclose(tv.coef_.loc[static.coef_.index], static.coef_, atol=1e-3)


def test_apparel_log_likelihood_equals_clvtools(apparel_fit):
    """CLVTools' own log-likelihood (pnbd_dyncov_LL_negsum) at its estimates and at four nearby points."""
    m, _ = apparel_fit
    at = m.with_parameters(CLV_PARAMS, CLV_COEF)
    assert at.log_likelihood_ == pytest.approx(-5752.9367202255, abs=1e-6)
    base = np.r_[np.log(list(CLV_PARAMS.values())),
                 [CLV_COEF[k] for k in ("dropout:high_season", "dropout:gender", "dropout:channel",
                                        "purchase:high_season", "purchase:gender", "purchase:channel")]]
    steps = {  # LL at (estimates + step): (log r, log alpha, log s, log beta, dropout x3, purchase x3)
        -5754.0715703088: [
            -0.03132269053711662, 0.009182166211104112, -0.04178143062050236, 0.07976404010688959,
            0.016475388590768025, -0.04102341920590077, 0.024371452621424265, 0.036916235256460865,
            0.02878906758267462, -0.015269419357817803,
        ],
        -5755.2707249962: [
            0.0755890584225424, 0.019492161820571556, -0.03106202902709019, -0.110734994358875,
            0.056246545907155415, -0.0022466804507615427, -0.0008095131549473044, 0.047191810534264966,
            0.04106105975490443, 0.029695066060875443,
        ],
        -5754.6564127023: [
            0.04594886858041092, 0.03910681503655336, 0.0037282491682595303, -0.09946758479316864,
            0.030991287394735514, -0.0028064369764500396, -0.007789775335266465, -0.07353761919496372,
            -0.02390750275543102, 0.020897078009985123,
        ],
        -5756.1998567564: [
            0.0679339775764522, -0.005139386367149776, 0.01938358057796846, -0.0026902520291452563,
            -0.06885297784143034, -0.02074972816498399, -0.019714497685517467, -0.0029656698355592834,
            0.05500126859919416, 0.03815878742287721,
        ],
    }
    names = ["dropout:high_season", "dropout:gender", "dropout:channel", "purchase:high_season", "purchase:gender",
             "purchase:channel"]
    for ll, step in steps.items():
        v = base + np.array(step)
        p = dict(zip(CLV_PARAMS, np.exp(v[:4])))
        assert m.with_parameters(p, dict(zip(names, v[4:]))).log_likelihood_ == pytest.approx(ll, abs=1e-6)


def test_apparel_predictions_equal_clvtools(apparel, apparel_fit):
    """CLVTools' predict(): P(alive), CET and DECT (continuous.discount.factor = log(1.1), its default) from the
    estimation end 2006-12-31 to 2010-12-20 (1,450 days), given apparelDynCov's future."""
    m, _ = apparel_fit
    at = m.with_parameters(CLV_PARAMS, CLV_COEF)
    h = 1450 / 7
    ref = pd.DataFrame({"palive": [0.96582113645779, 0.981308693375527, 0.314128068510917, 0.985071730428154,
                                   0.944754493182768],
                        "cet": [4.71523823507002, 3.08837298503879, 0.491545535866597, 3.30494108920721,
                                2.22583764446988],
                        "dect": [0.316739417570847, 0.18456660268062, 0.0293756259549017, 0.249551632902983,
                                 0.133019973347966]}, index=["1", "10", "100", "103", "467"])
    pa, cet = at.p_alive(), at.expected_purchases(h)
    dect = at.discounted_expected_purchases(h, np.log(1.1))
    assert _rel(pa.loc[ref.index], ref["palive"]) < 1e-9
    assert _rel(cet.loc[ref.index], ref["cet"]) < 1e-9
    assert _rel(dect.loc[ref.index], ref["dect"]) < 1e-9
    assert pa.sum() == pytest.approx(275.23126766406324, rel=1e-10)
    assert cet.sum() == pytest.approx(1074.3641112967164, rel=1e-10)
    assert dect.sum() == pytest.approx(70.21997430169094, rel=1e-10)
    # CLVTools at continuous.discount.factor = 0.1: 0.30175656 for customer 1
    assert at.discounted_expected_purchases(h, 0.1)["1"] == pytest.approx(0.30175656, abs=1e-8)


def test_apparel_first_and_last_partial_periods_as_clvtools(apparel, apparel_fit):
    """First purchases moved into the week (customer id mod 7 days) and the estimation end on a Wednesday:
    CLVTools' log-likelihood at its estimates on the same data is -5744.9898229594."""
    m, _ = apparel_fit
    tx = apparel.transactions.copy()
    tx["date"] = tx["date"] + pd.to_timedelta(tx["customer_id"].astype(int) % 7, unit="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentificationWarning)
        shifted = TimeVaryingParetoNBD().fit(tx, apparel.dynamic_covariates, observation_end="2006-12-27", **APPAREL_TV)
    assert shifted.with_parameters(CLV_PARAMS, CLV_COEF).log_likelihood_ == pytest.approx(-5744.9898229594, abs=1e-6)


def test_apparel_standard_errors_equal_the_observed_information_of_clvtools_likelihood(apparel_fit):
    """At CLVTools' estimates, numDeriv::hessian of CLVTools' own log-likelihood gives these standard errors
    (log r, log alpha, log s, log beta on the log scale). CLVTools' summary() prints others for r and for the
    gender, channel and purchase coefficients (0.370, 0.125, 0.172, 0.028, 0.046, 0.043): those come from
    optimx's Hessian after Nelder-Mead, not from the log-likelihood at the reported point."""
    m, _ = apparel_fit
    at = m.with_parameters(CLV_PARAMS, CLV_COEF, standard_errors=True)
    se_log = np.sqrt(np.diag(at.covariance_.to_numpy()))[:4]
    assert _rel(se_log, [0.20125682, 0.19435465, 1.52072566, 1.78914917]) < 2e-3
    ref = {"dropout:high_season": 3.60063756, "dropout:gender": 0.21235366, "dropout:channel": 0.22004035,
           "purchase:high_season": 0.05971686, "purchase:gender": 0.10299267, "purchase:channel": 0.10344161}
    s = at.summary()
    assert _rel(s.loc[list(ref), "se"], list(ref.values())) < 2e-3


def test_apparel_dynamic_fit(apparel_fit):
    """The maximum likelihood fit: at least CLVTools' log-likelihood; the dropout multiplier of the high season
    runs to 0 along a flat ridge (the likelihood rises by 0.31 from CLVTools' -2.48 to the limit), reported as
    not identified; the other coefficients within CLVTools' standard errors of its estimates."""
    m, caught = apparel_fit
    assert m.log_likelihood_ >= -5752.93672023
    assert m.log_likelihood_ == pytest.approx(-5752.6232, abs=1e-3)
    assert "dropout:high_season" in m.unidentified_
    assert any(issubclass(w.category, IdentificationWarning) and "dropout:high_season" in str(w.message)
               for w in caught)
    se = {"purchase:high_season": 0.0597, "purchase:gender": 0.1030, "purchase:channel": 0.1034,
          "dropout:gender": 0.2124, "dropout:channel": 0.2200}
    for k, v in se.items():
        assert abs(m.coef_[k] - CLV_COEF[k]) < v, k
    assert m.n_customers_ == 600 and m.quadrature_error_ <= 1e-10


def test_quadrature_check_stops_at_the_rounding_floor():
    """A kind found in the field: make_crm(2000, defection=True) fits at s, beta -> infinity, where twice the
    Gauss-Legendre nodes change a customer's log-likelihood by ~4e-10 whatever the node count (12 to 192): rounding,
    not quadrature error. The check used to double the nodes to its limit and raise ConvergenceError; it now stops
    when the change no longer shrinks and records it."""
    from segwork.act.defection import fit_defection
    from segwork.datasets import make_crm
    from segwork.errors import IdentificationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentificationWarning)
        fit = fit_defection(make_crm(2000, random_state=0, defection=True))
    model = fit.model
    assert model.quadrature_error_ < 1e-7
    assert model.n_nodes_ < 64
    # the fit's log-likelihood is the model's at twice its nodes to that floor
    from segwork.clv.dynamic_likelihood import evaluate, make_geometry
    finer = evaluate(model._theta, make_geometry(model._design, 2 * model.n_nodes_), want_grad=False,
                     want_customers=True)[2]["ll"]
    assert abs(float(finer.sum()) - model.log_likelihood_) < 1e-7 * len(finer)
