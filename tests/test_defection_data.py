"""The planted defection world of ``make_crm(defection=True)`` (segwork.defection_data), checked from the raw frames."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segwork import DataError
from segwork.datasets import CATEGORIES, CHANNELS, DATASETS, load_dataset, load_prepared, make_crm, save_prepared
from segwork.defection_data import (COMPLAINT_MEAN_WEEKS, COMPLAINT_ONSET, CONTACT_SHARE, EXIT_REASONS,
                                    EXIT_SURVEY_SHARE, HETEROGENEITY, NO_REASON, STATED_TOP_REASON, contract_type,
                                    simulate_defection)

# --------------------------------------------------------------------------- defection=False: nothing moved

#: sha256 (first 32 hex digits) of pd.util.hash_pandas_object (values and index) plus the column names and dtypes
#: of each frame of make_crm(2000, random_state=3), computed on the code before the defection world existed
#: (main at 836642e, pandas 3.1.1). They pin "every earlier frame stays byte-identical for a seed"; a pandas
#: upgrade that changes hash_pandas_object would change them too (then recompute them on a commit before
#: this change and check that the frames agree there).
UNCHANGED = {
    "customers": "44f56cfeebdb8a743e4d1103726e28e1",
    "transactions": "166744f15574c0cdc603adc1c11252e3",
    "survey": "b5e6daa13cfeda68ff81feb426a3efe0",
    "truth": "a861316cc617f8b9d04d5ff18ccd8e6d",
    "campaign": "703294874038748dab83fa2780de8f54",
}


def _digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    return h.hexdigest()[:32]


def test_without_defection_every_frame_is_byte_identical_to_before():
    data = make_crm(2000, random_state=3)
    assert {name: _digest(getattr(data, name)) for name in UNCHANGED} == UNCHANGED


# --------------------------------------------------------------------------- defection=True: the planted world
# Checked from the raw frames (customers, transactions, truth, dynamic_covariates, exit_survey, planted_effects),
# with the model's own formulas for what to expect and tolerances of several standard errors at this size.

N, SEED, Z = 20_000, 1, 4.0  # 4 standard errors: a false alarm about once in 16,000 checks
STATIC = ("contract", "acquisition_channel", "region")
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def world():
    return make_crm(N, random_state=SEED, defection=True)


@pytest.fixture(scope="module")
def weeks(world):
    """The dynamic table with, per row: the week number, the exposed part of the week (weeks), the alive part
    (dropout at mid-day of dropout_date), the planted log multipliers of both processes, and the repeat purchases."""
    data, effects = world, world.planted_effects
    log_m = {(d, p): np.log(m) for d, p, m in effects[["driver", "process", "multiplier"]].itertuples(index=False)}
    cust = data.customers.set_index("customer_id")
    truth = data.truth
    w = data.dynamic_covariates.copy()
    w["week"] = (w["period_start"] - data.observation_start).dt.days // 7
    signup = w["customer_id"].map(cust["signup_date"])
    lo = np.maximum(w["period_start"], signup)
    hi = np.minimum(w["period_start"] + 7 * DAY, data.observation_end + DAY)
    w["exposure"] = (hi - lo).dt.total_seconds() / (7 * 86400)
    out = w["customer_id"].map(truth["dropout_date"] + 0.5 * DAY)
    alive_hi = hi.where(out.isna() | (out > hi), out)
    w["alive_exposure"] = ((alive_hi - lo).dt.total_seconds() / (7 * 86400)).clip(lower=0.0)
    for process in ("dropout", "purchase"):
        static = sum(cust[c].astype(str).map(lambda v, c=c: log_m.get((f"{c}[{v}]", process), 0.0)) for c in STATIC)
        w[f"log_{process}"] = (w["customer_id"].map(static.astype(float))
                               + log_m[("open_complaint", process)] * w["open_complaint"]
                               + log_m[("marketing_contact", process)] * w["marketing_contact"])
    tx = data.transactions
    repeat = tx[tx.duplicated("customer_id")]  # every purchase after the first (the acquisition)
    counts = repeat.groupby(["customer_id", (repeat["date"] - data.observation_start).dt.days // 7]).size()
    counts.index.names = ["customer_id", "week"]
    w = w.join(counts.rename("purchases"), on=["customer_id", "week"])
    w["purchases"] = w["purchases"].fillna(0).astype(int)
    return w


def _within(observed: float, expected: float, se: float) -> None:
    assert abs(observed - expected) < Z * se, f"observed {observed:.4g}, expected {expected:.4g} (se {se:.3g})"


def test_same_seed_same_world_other_seed_another():
    a, b = make_crm(1500, random_state=5, defection=True), make_crm(1500, random_state=5, defection=True)
    for name in ("customers", "transactions", "survey", "truth", "campaign", "dynamic_covariates", "exit_survey",
                 "planted_effects"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    assert a.planted_effects.attrs == b.planted_effects.attrs == {"heterogeneity": HETEROGENEITY}
    other = make_crm(1500, random_state=6, defection=True)
    assert not a.truth["dropout_rate"].equals(other.truth["dropout_rate"])


def test_the_profile_and_survey_are_those_without_defection_plus_the_contract():
    plain, world = make_crm(1500, random_state=4), make_crm(1500, random_state=4, defection=True)
    pd.testing.assert_frame_equal(world.customers.drop(columns="contract"), plain.customers, check_exact=True)
    pd.testing.assert_frame_equal(world.survey, plain.survey, check_exact=True)
    contract = world.customers["contract"]
    assert list(contract.cat.categories) == ["annual", "none"]  # annual: the reference (first in sorted order)
    assert ((contract == "annual") == world.customers["contract_end"].notna()).all()
    pd.testing.assert_series_equal(world.truth["segment"], plain.truth["segment"])
    pd.testing.assert_series_equal(world.truth["mean_spend"], plain.truth["mean_spend"])
    assert plain.dynamic_covariates is plain.exit_survey is plain.planted_effects is None


def test_transactions_keep_the_conventions(world):
    tx, plain = world.transactions, make_crm(300, random_state=SEED).transactions
    assert list(tx.columns) == list(plain.columns) and (tx.dtypes == plain.dtypes).all()
    assert tx["invoice_id"].tolist() == [f"INV{i + 1:08d}" for i in range(len(tx))]
    key = tx["customer_id"] + tx["date"].dt.strftime("%Y%m%d")
    assert key.is_monotonic_increasing  # sorted by customer, then date
    assert (tx["date"] == tx["date"].dt.normalize()).all()
    assert tx["date"].between(world.observation_start, world.observation_end).all()
    assert set(tx["category"]) <= set(CATEGORIES) and set(tx["channel"]) <= set(CHANNELS)
    assert (tx["amount"] > 0).all() and (tx["quantity"] >= 1).all()
    first = tx.groupby("customer_id")["date"].min()
    assert (first == world.customers.set_index("customer_id")["signup_date"].reindex(first.index)).all()
    assert first.size == N
    last = tx.groupby("customer_id")["date"].max()
    left = world.truth[~world.truth["alive"]]
    assert left["dropout_date"].notna().all() and world.truth.loc[world.truth["alive"], "dropout_date"].isna().all()
    assert (last.reindex(left.index) <= left["dropout_date"]).all()  # nobody buys after leaving
    # amounts come from the segment's spend: gamma around the customer's mean spend (mean ratio 1, cv 0.41)
    ratio = tx["amount"] / tx["customer_id"].map(world.truth["mean_spend"])
    _within(ratio.mean(), 1.0, 0.41 / np.sqrt(len(tx)) * 1.5)


def test_the_baseline_rates_are_the_stated_gammas(world):
    h = world.planted_effects.attrs["heterogeneity"]
    assert h == HETEROGENEITY and h["s"] > 1
    for column, shape, rate in (("purchase_rate", h["r"], h["alpha"]), ("dropout_rate", h["s"], h["beta"])):
        values = world.truth[column]
        _within(values.mean(), shape / rate, np.sqrt(shape) / rate / np.sqrt(N))
        assert stats.kstest(values, "gamma", args=(shape, 0, 1 / rate)).pvalue > 1e-4, column


def test_the_planted_effects_table_is_the_contract(world):
    effects = world.planted_effects
    assert list(effects.columns) == ["driver", "process", "multiplier", "kind"]
    assert (effects.groupby("driver")["process"].apply(sorted) == pd.Series([["dropout", "purchase"]] * 11,
            index=sorted(effects["driver"].unique()))).all()  # both processes for every driver
    got = effects.set_index(["driver", "process"])["multiplier"]
    planted = {("contract[none]", "dropout"): 2.0, ("acquisition_channel[social]", "dropout"): 1.6,
               ("acquisition_channel[tv]", "dropout"): 1.3, ("region[south]", "purchase"): 1.3,
               ("open_complaint", "dropout"): 4.0, ("open_complaint", "purchase"): 0.8,
               ("marketing_contact", "purchase"): 1.5}
    assert got.to_dict() == {k: planted.get(k, 1.0) for k in got.index}
    for column in STATIC:  # every level but the reference, named as OneHotEncoder(drop="first") names it
        levels = sorted(world.customers[column].astype(str).unique())
        assert set(effects.loc[effects["kind"] == "static", "driver"]) >= {f"{column}[{v}]" for v in levels[1:]}
        assert f"{column}[{levels[0]}]" not in set(effects["driver"])
    assert set(effects.loc[effects["kind"] == "time-varying", "driver"]) == {"open_complaint", "marketing_contact"}


def test_the_dynamic_table_covers_first_purchase_week_to_the_end_without_gaps(world):
    dyn, start, end = world.dynamic_covariates, world.observation_start, world.observation_end
    assert list(dyn.columns) == ["customer_id", "period_start", "open_complaint", "marketing_contact"]
    assert dyn["customer_id"].dtype == world.transactions["customer_id"].dtype
    assert pd.api.types.is_datetime64_any_dtype(dyn["period_start"])
    assert ((dyn["period_start"] - start).dt.days % 7 == 0).all()  # the weekly grid from observation_start
    for col in ("open_complaint", "marketing_contact"):
        assert dyn[col].dtype == float and dyn[col].isin([0.0, 1.0]).all()
    assert not dyn.duplicated(["customer_id", "period_start"]).any()
    steps = dyn.groupby("customer_id")["period_start"].diff().dropna()
    assert (steps == 7 * DAY).all()  # sorted, consecutive weeks: no gap, no overlap
    span = dyn.groupby("customer_id")["period_start"].agg(["min", "max"])
    signup = world.customers.set_index("customer_id")["signup_date"].reindex(span.index)
    assert len(span) == N
    assert ((span["min"] <= signup) & (signup < span["min"] + 7 * DAY)).all()  # starts in the first purchase's week
    assert ((span["max"] <= end) & (end < span["max"] + 7 * DAY)).all()  # ends in the week containing the end


def test_marketing_contacts_only_for_email_opt_ins_in_the_stated_share(world):
    dyn = world.dynamic_covariates
    opted = dyn["customer_id"].map(world.customers.set_index("customer_id")["email_opt_in"]).astype(bool)
    assert (dyn.loc[~opted, "marketing_contact"] == 0).all()
    share, n = dyn.loc[opted, "marketing_contact"].mean(), int(opted.sum())
    _within(share, CONTACT_SHARE, np.sqrt(CONTACT_SHARE * (1 - CONTACT_SHARE) / n))


def test_complaint_weeks_are_as_often_open_as_the_complaint_process_implies(weeks):
    # l weeks after the customer's first week, open with probability 1 - prod_{j<=l} (1 - q (1 - 1/m)^j)
    q, stay = COMPLAINT_ONSET, 1 - 1 / COMPLAINT_MEAN_WEEKS
    offset = (weeks["week"] - weeks.groupby("customer_id")["week"].transform("min")).to_numpy()
    closed = np.cumprod(1 - q * stay ** np.arange(offset.max() + 1))
    expected = 1 - closed[offset]
    residual = pd.Series(weeks["open_complaint"].to_numpy() - expected).groupby(weeks["customer_id"].to_numpy()).sum()
    se = np.sqrt((residual**2).sum()) / len(weeks)  # weeks of one customer are correlated: cluster by customer
    _within(weeks["open_complaint"].mean(), expected.mean(), se)
    assert 0.03 < expected.mean() < 0.05


def _survival(world, weeks, a, given_mu0: bool):
    """P(alive) after the integrated dropout multiplier ``a`` (weeks, rows of ``weeks``): exp(-mu0 a) given the
    customer's mu0 (truth), (beta / (beta + a))^s over mu0 ~ Gamma(s, beta)."""
    if given_mu0:
        return np.exp(-weeks["customer_id"].map(world.truth["dropout_rate"]).to_numpy() * a)
    h = world.planted_effects.attrs["heterogeneity"]
    return (h["beta"] / (h["beta"] + a)) ** h["s"]


@pytest.mark.parametrize("given_mu0", [True, False], ids=["given mu0", "over the gamma"])
@pytest.mark.parametrize("group", ["all", "contract annual", "contract none", "social", "tv", "email"])
def test_the_share_who_left_is_what_the_dropout_hazard_implies(world, weeks, group, given_mu0):
    last = ~weeks["customer_id"].duplicated(keep="last").to_numpy()
    a = (np.exp(weeks["log_dropout"]) * weeks["exposure"]).groupby(weeks["customer_id"]).cumsum().to_numpy()
    p_left = pd.Series(1 - _survival(world, weeks, a, given_mu0)[last], index=weeks["customer_id"][last].to_numpy())
    cust = world.customers.set_index("customer_id").reindex(p_left.index)
    pick = {"all": np.ones(len(cust), bool), "contract annual": cust["contract"] == "annual",
            "contract none": cust["contract"] == "none", "social": cust["acquisition_channel"] == "social",
            "tv": cust["acquisition_channel"] == "tv", "email": cust["acquisition_channel"] == "email"}[group]
    p, left = p_left[np.asarray(pick)], ~world.truth["alive"].reindex(p_left.index)[np.asarray(pick)]
    _within(left.mean(), p.mean(), np.sqrt((p * (1 - p)).sum()) / len(p))
    if group == "all":
        assert 0.30 < left.mean() < 0.45


@pytest.mark.parametrize("given_mu0", [True, False], ids=["given mu0", "over the gamma"])
def test_dropouts_in_complaint_weeks_are_as_many_as_the_x4_hazard_implies(world, weeks, given_mu0):
    step = np.exp(weeks["log_dropout"]) * weeks["exposure"]
    a = step.groupby(weeks["customer_id"]).cumsum().to_numpy()
    step = step.to_numpy()
    p_week = _survival(world, weeks, a - step, given_mu0) - _survival(world, weeks, a, given_mu0)
    p_open = (p_week * weeks["open_complaint"]).groupby(weeks["customer_id"]).sum()
    left = world.truth[~world.truth["alive"]]
    week_out = (left["dropout_date"] - world.observation_start).dt.days // 7
    open_at = weeks.set_index(["customer_id", "week"])["open_complaint"]
    observed = open_at.reindex(pd.MultiIndex.from_arrays([left.index, week_out.to_numpy()])).sum()
    _within(observed, p_open.sum(), np.sqrt((p_open * (1 - p_open)).sum()))


@pytest.mark.parametrize("rows", ["all", "region south", "contact weeks", "complaint weeks"])
def test_repeat_purchases_are_the_inhomogeneous_poisson_counts(world, weeks, rows):
    # given lambda0 (truth) and the alive part of each week: Poisson with mean lambda0 * exp(b'x + b_tv'z) * alive
    # exposure (a sum of independent Poisson counts is Poisson: its variance is its mean)
    cust_region = weeks["customer_id"].map(world.customers.set_index("customer_id")["region"].astype(str))
    pick = {"all": np.ones(len(weeks), bool), "region south": (cust_region == "south").to_numpy(),
            "contact weeks": weeks["marketing_contact"].to_numpy() == 1,
            "complaint weeks": weeks["open_complaint"].to_numpy() == 1}[rows]
    w = weeks[pick]
    expected = (w["customer_id"].map(world.truth["purchase_rate"]) * np.exp(w["log_purchase"]) * w["alive_exposure"]).sum()
    _within(w["purchases"].sum(), expected, np.sqrt(expected))


def test_live_customer_weeks_buy_1_3_times_as_often_in_the_south(world, weeks):
    region = weeks["customer_id"].map(world.customers.set_index("customer_id")["region"].astype(str))
    per = weeks.groupby([region.rename("south") == "south", weeks["customer_id"]])[
        ["purchases", "alive_exposure"]].sum()
    rates, variances = {}, {}
    for south in (True, False):
        n_, e_ = per.loc[south, "purchases"], per.loc[south, "alive_exposure"]
        rates[south] = n_.sum() / e_.sum()  # a ratio estimator; its variance clustered by customer
        variances[south] = ((n_ - rates[south] * e_) ** 2).sum() / e_.sum() ** 2
    log_ratio = np.log(rates[True] / rates[False])
    se = np.sqrt(variances[True] / rates[True] ** 2 + variances[False] / rates[False] ** 2)
    _within(log_ratio, np.log(1.3), se)
    overall = weeks["purchases"].sum() / weeks["alive_exposure"].sum()
    assert 0.2 < overall < 0.3  # purchases per live customer-week


def _top_reasons(world, weeks) -> pd.Series:
    """The top planted reason recomputed from the frames and planted_effects (see the contract)."""
    effects = world.planted_effects
    drop = effects[(effects["process"] == "dropout")].set_index("driver")["multiplier"]
    truth = world.truth
    week_out = ((truth["dropout_date"] - world.observation_start).dt.days // 7).fillna(weeks["week"].max())
    at = weeks.set_index(["customer_id", "week"]).reindex(
        pd.MultiIndex.from_arrays([truth.index, week_out.astype(int).to_numpy()]))
    cust = world.customers.set_index("customer_id").reindex(truth.index)
    candidates = pd.DataFrame(index=truth.index)
    names = {}
    for column in STATIC:
        name = column + "[" + cust[column].astype(str) + "]"
        candidates[column] = np.log(name.map(drop).fillna(1.0))
        names[column] = name
    for driver in ("open_complaint", "marketing_contact"):
        candidates[driver] = np.log(drop[driver]) * at[driver].to_numpy()
        names[driver] = pd.Series(driver, index=truth.index)
    best = candidates.idxmax(axis=1)
    top = pd.Series([names[b][i] for i, b in best.items()], index=truth.index)
    return top.where(candidates.max(axis=1) > 0, "none")


def test_top_planted_reason_is_the_largest_acting_dropout_multiplier(world, weeks):
    expected = _top_reasons(world, weeks)
    pd.testing.assert_series_equal(world.truth["top_planted_reason"].astype(str), expected.astype(str),
                                   check_names=False)
    assert set(expected) <= set(EXIT_REASONS)


def test_the_exit_survey_answers_for_a_share_of_leavers_with_noisy_reasons(world):
    survey, truth = world.exit_survey, world.truth
    assert list(survey.columns) == ["customer_id", "exit_date", "stated_reason"]
    assert survey["customer_id"].is_unique and survey["customer_id"].is_monotonic_increasing
    who = truth.reindex(survey["customer_id"])
    assert (~who["alive"]).all()  # only customers who left
    assert (survey["exit_date"].to_numpy() == who["dropout_date"].to_numpy()).all()
    n_left = int((~truth["alive"]).sum())
    _within(len(survey) / n_left, EXIT_SURVEY_SHARE, np.sqrt(EXIT_SURVEY_SHARE * (1 - EXIT_SURVEY_SHARE) / n_left))
    texts = {*EXIT_REASONS.values(), NO_REASON}
    assert set(survey["stated_reason"]) == texts  # every reason is given by someone, nothing else
    true_text = who["top_planted_reason"].map(EXIT_REASONS).to_numpy()
    agree = (survey["stated_reason"].to_numpy() == true_text).mean()
    _within(agree, STATED_TOP_REASON, np.sqrt(STATED_TOP_REASON * (1 - STATED_TOP_REASON) / len(survey)))


def test_the_new_tables_survive_a_prepared_folder(tmp_path):
    data = make_crm(400, random_state=2, defection=True)
    back = load_prepared(save_prepared(data, tmp_path / "data"))
    for name in ("transactions", "customers", "survey", "truth", "campaign", "dynamic_covariates", "exit_survey",
                 "planted_effects"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(data, name), check_exact=True, obj=name)
    assert back.planted_effects.attrs == data.planted_effects.attrs
    plain = load_prepared(save_prepared(make_crm(200, random_state=2), tmp_path / "plain"))
    assert plain.dynamic_covariates is plain.exit_survey is plain.planted_effects is None


def test_load_dataset_passes_defection_through_and_leaves_the_default_alone():
    world = load_dataset("synthetic", n_customers=300, random_state=2, defection=True)
    pd.testing.assert_frame_equal(world.dynamic_covariates,
                                  make_crm(300, random_state=2, defection=True).dynamic_covariates)
    default = load_dataset("synthetic", n_customers=300, random_state=2)
    pd.testing.assert_frame_equal(default.transactions, make_crm(300, random_state=2).transactions)
    assert default.planted_effects is None and "contract" not in default.customers.columns
    assert DATASETS["synthetic"].describe(n_customers=300, random_state=2, defection=True) == (
        "synthetic CRM data (300 customers, random_state 2, defection drivers)")
    assert load_dataset("cdnow_sample", defection=True).planted_effects is None  # applies to synthetic data only


def test_simulate_defection_refuses_customers_it_cannot_plant_drivers_on():
    data = make_crm(50, random_state=0)
    customers = data.customers.assign(contract=contract_type(data.customers["contract_end"]))
    window = {"start": data.observation_start, "end": data.observation_end}
    with pytest.raises(DataError, match=r"lack column\(s\) \['contract'\]"):
        simulate_defection(data.customers, **window)
    with pytest.raises(DataError, match="column 'region' has the level 'atlantis'"):
        simulate_defection(customers.assign(region="atlantis"), **window)
    with pytest.raises(DataError, match="lies outside the window"):
        simulate_defection(customers, start=data.observation_start, end=data.observation_start)
