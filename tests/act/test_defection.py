"""Defection drivers for the whole base, per-customer reasons, the retention list (issue 20, methods 1 and 4).

One small planted world (make_crm(1000, random_state=0, defection=True)) and one fit serve the model-based
tests; the arithmetic of the retention list, the agreement and the coverage is checked on frames made by hand.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segwork.act import (DEFAULT_RETENTION_ACTIONS, DRIVERS_COLUMNS, RETENTION_SCHEMA, CustomerReasons, FuturePaths,
                         customer_reasons, drivers_table, fit_defection, planted_coverage, reason_agreement,
                         restricted_statistics, retention_list, with_costs)
from segwork.clv import ParetoNBD
from segwork.datasets import make_crm
from segwork.errors import DataError, IdentificationWarning
from segwork.features import rfm_summary


@pytest.fixture(scope="module")
def data():
    return make_crm(1000, random_state=0, defection=True)


@pytest.fixture(scope="module")
def fit(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentificationWarning)
        return fit_defection(data)


@pytest.fixture(scope="module")
def paths(fit):
    return FuturePaths(fit, horizon=12)


@pytest.fixture(scope="module")
def table(fit, paths):
    return drivers_table(fit, test="wald", margin=0.3, paths=paths)


@pytest.fixture(scope="module")
def reasons(fit, table, paths, data):
    at_risk = pd.Series("Vulnerable", index=data.truth.index[:300])  # a typed list: the first 300 customers
    return customer_reasons(fit, at_risk, drivers=table, margin=0.3, paths=paths)


def test_table_has_one_row_per_driver_level_and_process(table, data):
    assert list(table.columns) == list(DRIVERS_COLUMNS)
    planted = data.planted_effects
    assert len(table) == len(planted) == 22
    assert set(zip(table["driver"], table["process"])) == set(zip(planted["driver"], planted["process"]))
    assert all(sorted(g) == ["dropout", "purchase"] for _, g in table.groupby("driver")["process"])
    assert dict(zip(table["driver"], table["kind"]))["open_complaint"] == "time-varying"
    assert dict(zip(table["driver"], table["kind"]))["contract[none]"] == "static"


def test_multiplier_is_exp_coef_inside_its_interval(table):
    np.testing.assert_allclose(table["multiplier"], np.exp(table["coef"]), rtol=1e-12)
    assert ((table["lower_95"] < table["multiplier"]) & (table["multiplier"] < table["upper_95"])).all()
    np.testing.assert_allclose(np.log(table["upper_95"]) - table["coef"], 1.959963984540054 * table["se"], rtol=1e-9)
    assert table["p_value"].between(0, 1).all()


def test_clv_at_stake_is_positive_for_drivers_that_raise_dropout(table):
    stake = table.drop_duplicates("driver").set_index("driver")["clv_at_stake"]
    # planted dropout x2 (contract) and x4 with purchases x0.8 (open complaint): the base is worth more without
    assert stake["contract[none]"] > 0
    assert stake["open_complaint"] > 0
    # planted purchases x1.5 while contacted: removing the contacts loses value
    assert stake["marketing_contact"] < 0
    # the figure is the driver's: the same on both of its rows
    assert (table.groupby("driver")["clv_at_stake"].nunique() == 1).all()
    assert table.attrs["margin"] == 0.3 and table.attrs["currency"] == "EUR"


def test_clv_is_margin_times_spend_times_the_models_dect(fit, paths):
    clv = paths.clv(discount_rate=0.01, margin=0.3)
    delta = np.log1p(0.01) / (365.25 / 12 / 7)
    dect = fit.model.discounted_expected_purchases(paths.weeks, delta, covariates=paths.frame())
    np.testing.assert_allclose(clv, 0.3 * fit.spend.reindex(dect.index) * dect, rtol=1e-12)
    assert (clv >= 0).all()
    # one month at 1 % a month: the continuous rate discounts a purchase one month ahead by exactly 1 / 1.01
    assert np.isclose(np.exp(-delta * 365.25 / 12 / 7), 1 / 1.01)


def test_lr_is_consistent_with_wald_and_the_warm_start_equals_a_refit(fit, table):
    labels = ["dropout:open_complaint", "purchase:marketing_contact", "purchase:contract[none]",
              "dropout:acquisition_channel[referral]"]
    lr = restricted_statistics(fit, labels)
    wald = table.set_index(table["process"] + ":" + table["driver"]).loc[labels, "lr_statistic"].to_numpy()
    from scipy import stats

    p_lr, p_wald = stats.chi2.sf(np.maximum(lr, 0), 1), stats.chi2.sf(wald, 1)
    assert ((p_lr < 0.05) == (p_wald < 0.05)).all()
    assert list(np.argsort(lr)) == list(np.argsort(wald))
    assert (lr > -1e-6).all()
    # the restricted maximum warm-started from the full fit is the maximum the model's own fit(fixed=) finds
    refit = fit.refit({labels[2]: 0.0})
    assert refit.coef_[labels[2]] == 0.0
    assert abs(lr[2] - 2 * (fit.model.log_likelihood_ - refit.log_likelihood_)) < 1e-3


def test_profile_only_fit_is_the_static_covariate_pareto_nbd(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentificationWarning)
        only = fit_defection(data, time_varying=(), static=("contract", "region"))
    assert only.covariates.columns.tolist() == ["customer_id", "period_start", "contract[none]", "region[east]",
                                                "region[north]", "region[south]", "region[west]"]
    s = rfm_summary(data.transactions, observation_end=data.observation_end, time_unit="weeks")
    prof = data.customers.set_index("customer_id").loc[s.index, ["contract", "region"]].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentificationWarning)
        static = ParetoNBD().fit(s["frequency"], s["recency"], s["T"], covariates=prof)
    assert abs(only.model.log_likelihood_ - static.log_likelihood_) < 1e-6 * abs(static.log_likelihood_)


def test_status_quo_path_and_what_ifs(fit, paths):
    c = "open_complaint"
    cur = paths.current[c]
    assert paths.carry[c] >= 1 and paths.carry["marketing_contact"] >= 1
    path = paths.path(c)
    i = int(np.flatnonzero(cur == 1)[0])  # a customer with a complaint open at the end
    assert (path[i, :paths.carry[c]] == 1).all() and (path[i, paths.carry[c]:] == paths.tail[c][i]).all()
    assert 0 <= paths.tail[c][i] < 1
    frame = paths.frame({c: "episode"})
    resolved = frame[c].to_numpy().reshape(len(paths.customers), paths.m)
    assert (resolved[i, :paths.carry[c]] == 0).all() and (resolved[i, paths.carry[c]:] == path[i, paths.carry[c]:]).all()
    horizon = paths.frame({"contract[none]": "horizon", c: "horizon"})
    assert (horizon["contract[none]"] == 0).all() and (horizon[c] == 0).all()  # every contract annual, no complaint
    same = paths.frame()
    assert (same["region[south]"].to_numpy().reshape(len(paths.customers), paths.m).std(axis=1) == 0).all()
    kept = paths.clv({c: "episode"}) - paths.clv()
    assert kept.iloc[i] > 0  # resolving an open complaint keeps value
    assert np.allclose(kept[cur == 0], 0.0)  # nothing changes for the others


def test_reasons_multipliers_by_hand(fit, reasons, data):
    summ = fit.model.summary()
    top = reasons.customers
    # a customer without a contract whose top reason is the contract
    cid = top.index[top["top_reason"] == "contract[none]"][0]
    assert np.isclose(top.loc[cid, "reason_multiplier"], np.exp(summ.loc["dropout:contract[none]", "coef"]))
    # their dropout rate against the reference customer: every driver's factor at the observation end
    prof = data.customers.set_index("customer_id").loc[cid]
    dyn = data.dynamic_covariates
    last = dyn[dyn["customer_id"] == cid].sort_values("period_start").iloc[-1]
    log = 0.0
    for col in ("contract", "acquisition_channel", "region"):
        name = f"dropout:{col}[{prof[col]}]"
        log += summ.loc[name, "coef"] if name in summ.index else 0.0
    log += sum(summ.loc[f"dropout:{c}", "coef"] * last[c] for c in ("open_complaint", "marketing_contact"))
    assert np.isclose(top.loc[cid, "dropout_multiplier"], np.exp(log))
    rows = reasons.reasons[reasons.reasons["customer_id"] == cid]
    assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
    assert (np.diff(rows["multiplier"].to_numpy()) <= 0).all()
    assert (rows["multiplier"] > 1).all()
    # the reasons are significant drivers (the drivers table's dropout p_value < 0.05)
    p = reasons.settings["alpha"]
    assert p == 0.05 and reasons.settings["test"] == "Wald (chi-square, 1 df)"


def test_reasons_agree_with_the_planted_truth_better_than_chance(reasons, data):
    agreement = reason_agreement(reasons, data.truth)
    assert agreement.n_customers == 300
    assert 0 <= agreement.random_baseline < agreement.agreement <= 1
    assert agreement.by_relationship.loc["Vulnerable", "n_customers"] == 300


def _hand_reasons():
    reasons = pd.DataFrame([
        ("A", "Vulnerable", 1, "contract[none]", "contract", 2.0, 30.0),
        ("A", "Vulnerable", 2, "open_complaint", "open_complaint", 1.5, 50.0),
        ("B", "Win-back", 1, "none", None, 1.0, 0.0),
        ("C", "Vulnerable", 1, "region[east]", "region", 1.2, 80.0),
    ], columns=["customer_id", "relationship", "rank", "driver", "column", "multiplier", "clv_kept"])
    per = pd.DataFrame({"relationship": ["Vulnerable", "Win-back", "Vulnerable"], "p_alive": [0.5, 0.1, 0.6],
                        "clv": [400.0, 100.0, 200.0], "top_reason": ["contract[none]", "none", "region[east]"],
                        "reason_multiplier": [2.0, 1.0, 1.2], "dropout_multiplier": [3.0, 1.0, 1.2],
                        "n_active": [2, 0, 3]}, index=pd.Index(["A", "B", "C"], name="customer_id"))
    active = pd.DataFrame({"contract[none]": [True, False, True], "open_complaint": [True, False, True],
                           "region[east]": [False, False, True], "acquisition_channel[social]": [False] * 3},
                          index=per.index)
    return CustomerReasons(reasons=reasons, customers=per, active=active, settings={"margin": 1.0})


def test_retention_value_arithmetic():
    out = retention_list(_hand_reasons())
    assert list(out.columns) == list(RETENTION_SCHEMA)
    costs = {k: a.cost for k, a in DEFAULT_RETENTION_ACTIONS.items()}
    a = out.set_index("customer_id")
    # A: renew contract saves 30 at 40, resolve complaint 50 at 25: the complaint wins (25 > -10)
    assert a.loc["A", "action"] == "resolve complaint"
    assert a.loc["A", "retention_value"] == 50.0 - costs["resolve complaint"]
    # B: no driver action: the generic contact, 10 % (Win-back strategy's low effect) of CLV 100
    assert a.loc["B", "action"] == "win-back contact" and np.isclose(a.loc["B", "clv_saved"], 10.0)
    assert np.isclose(a.loc["B", "retention_value"], 10.0 - costs["win-back contact"])
    assert a.loc["B", "saved_basis"].startswith("assumed effect")
    # C: region has no action; the generic contact, 15 % of 200
    assert np.isclose(a.loc["C", "clv_saved"], 30.0)
    np.testing.assert_allclose(out["retention_value"], out["clv_saved"] - out["action_cost"])
    assert out["rank"].tolist() == [1, 2, 3] and out["retention_value"].is_monotonic_decreasing
    assert out["customer_id"].tolist() == ["A", "C", "B"]
    # the costs are assumptions to change; the generic contact can also compete with the model's actions
    cheap = retention_list(_hand_reasons(), actions=with_costs(renew_contract=0.0)).set_index("customer_id")
    assert cheap.loc["A", "action"] == "renew contract" and cheap.loc["A", "retention_value"] == 30.0
    compete = retention_list(_hand_reasons(), generic="compete").set_index("customer_id")
    assert compete.loc["A", "action"] == "win-back contact" and np.isclose(compete.loc["A", "clv_saved"], 60.0)
    assert out.attrs["costs"]["renew contract"] == costs["renew contract"] and "assumed" in out.attrs["cost_source"]
    # an action that costs more than it saves is not recommended: doing nothing is worth more
    dear = retention_list(_hand_reasons(), actions=with_costs(resolve_complaint=70, win_back_contact=50))
    dear = dear.set_index("customer_id")
    assert dear.loc["A", "action"] == "none" and dear.loc["A", "retention_value"] == 0.0
    assert dear.loc["A", "saved_basis"].startswith("not worth acting: the best action, renew contract, saves 30.00")
    assert dear.loc["C", "action"] == "none" and dear.loc["C", "clv_saved"] == 0.0


def test_reason_agreement_and_its_random_baseline_by_hand():
    truth = pd.DataFrame({"top_planted_reason": ["contract[none]", "none", "acquisition_channel[social]"]},
                         index=["A", "B", "C"])
    result = reason_agreement(_hand_reasons(), truth)
    # A: hit, random 1/2 (2 active drivers, the planted one among them); B: hit, random 1 (no active driver,
    # planted none); C: miss, random 0 (the planted reason is not active)
    assert result.agreement == pytest.approx(2 / 3)
    assert result.random_baseline == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert result.n_customers == 3


def test_planted_coverage_by_hand():
    table = pd.DataFrame({"driver": ["a", "a", "b", "b"], "process": ["dropout", "purchase"] * 2,
                          "multiplier": [2.1, 1.0, 1.1, 1.4], "lower_95": [1.8, 0.9, 0.9, 1.1],
                          "upper_95": [2.5, 1.1, 1.3, 1.6], "p_value": [1e-6, 0.8, 0.4, 0.01]})
    planted = pd.DataFrame({"driver": ["a", "a", "b", "b"], "process": ["dropout", "purchase"] * 2,
                            "multiplier": [2.0, 1.0, 1.0, 1.8]})
    cov = planted_coverage(table, planted)
    assert cov.rows["covered"].tolist() == [True, True, True, False]
    assert cov.covered_share == 0.75
    assert cov.sides.loc["a", "found_sides"] == "dropout" and cov.sides.loc["b", "found_sides"] == "purchase"
    assert cov.sides_found_share == 1.0
    with pytest.raises(DataError, match="no row for planted 'c'"):
        planted_coverage(table, pd.concat([planted, pd.DataFrame({"driver": ["c"], "process": ["dropout"],
                                                                  "multiplier": [1.0]})]))


def test_errors_name_the_column_or_driver(data, fit, paths, reasons):
    with pytest.raises(DataError, match="nope"):
        fit_defection(data, static=("contract", "nope"))
    with pytest.raises(DataError, match="lack.*'nope'"):
        fit_defection(data, time_varying=("nope",))
    with pytest.raises(DataError, match="no drivers named"):
        fit_defection(data, static=(), time_varying=())
    with pytest.raises(DataError, match="need a customer profile"):
        fit_defection(data.transactions, static=("contract",), time_varying=())
    with pytest.raises(DataError, match="unknown driver.*'bogus'"):
        paths.frame({"bogus": "horizon"})
    with pytest.raises(DataError, match="'sometimes'"):
        paths.frame({"open_complaint": "sometimes"})
    with pytest.raises(DataError, match="test='bogus'"):
        drivers_table(fit, test="bogus")
    with pytest.raises(DataError, match="horizon=24 months but the paths given cover 12"):
        drivers_table(fit, test="wald", horizon=24, paths=paths)
    with pytest.raises(DataError, match="not free coefficients"):
        restricted_statistics(fit, ["dropout:bogus"])
    with pytest.raises(DataError, match="not in the defection model's fit.*'Z9'"):
        customer_reasons(fit, ["Z9"], paths=paths)
    with pytest.raises(DataError, match="top_planted_reason"):
        reason_agreement(reasons, data.truth.drop(columns="top_planted_reason"))
    with pytest.raises(DataError, match="lack.*'p_value'"):
        planted_coverage(pd.DataFrame({"driver": [], "process": [], "multiplier": [], "lower_95": [],
                                       "upper_95": []}), data.planted_effects)
    with pytest.raises(DataError, match="generic='never'"):
        retention_list(_hand_reasons(), generic="never")


def test_driver_names_in_words():
    from segwork.act.retention import NO_DRIVER_FOUND, driver_words

    assert driver_words("contract[none]") == "no contract"
    assert driver_words("acquisition_channel[social]") == "acquisition channel: social"
    assert driver_words("open_complaint") == "open complaint" and driver_words("none") == NO_DRIVER_FOUND
    assert driver_words("") == "" and driver_words(float("nan")) == ""


def test_an_assumed_effect_does_not_outrank_the_models_what_if():
    """Finding 6: customers without a driver found got the generic contact at an assumed 15 % of a large CLV and
    headed the list (ranks 1-4, top_reason 'none'). The stated rule (RANKING_RULE): the model's what-ifs first,
    then the generic contact's assumed effect, then those not worth acting on; each by value."""
    from segwork.act.retention import NO_DRIVER_FOUND, RANKING_RULE

    hand = _hand_reasons()
    per = hand.customers.copy()
    per.loc["B", "clv"] = 100_000.0  # the generic contact would save 10 000 on an assumption
    big = CustomerReasons(reasons=hand.reasons, customers=per, active=hand.active, settings=hand.settings)
    out = retention_list(big)
    assert out["customer_id"].tolist() == ["A", "B", "C"]
    assert out.loc[0, "saved_basis"].startswith("model what-if") and out.loc[0, "top_reason"] == "no contract"
    b = out.set_index("customer_id").loc["B"]
    assert b["top_reason"] == NO_DRIVER_FOUND and b["retention_value"] > out.loc[0, "retention_value"]
    assert b["saved_basis"].startswith("assumed effect") and b["reason_multiplier"] == 1.0
    # within a tier, by retention value; C (region: no driver action) is in the assumed tier below B
    assert out.set_index("customer_id").loc["C", "saved_basis"].startswith("assumed effect")
    assert "first, by retention value" in RANKING_RULE and RANKING_RULE in RETENTION_SCHEMA["rank"][2]
    # not worth acting: last, whatever their CLV
    dear = retention_list(big, actions=with_costs(resolve_complaint=70, win_back_contact=50_000))
    assert (dear["retention_value"] == 0).all() and dear["customer_id"].tolist() == ["B", "A", "C"]  # by CLV
