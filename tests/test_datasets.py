"""Built-in data: make_crm (deterministic, with consistent ground truth) and CDNOW."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from segwork import DataError
from segwork.datasets import CATEGORIES, CHANNELS, SURVEY_ITEMS, load_cdnow, load_dataset, make_crm


@pytest.fixture(scope="module")
def crm():
    return make_crm(n_customers=4000, random_state=7)


def test_same_seed_same_frames_other_seed_other_frames(crm):
    again = make_crm(n_customers=4000, random_state=7)
    for name in ("customers", "transactions", "survey", "truth", "campaign"):
        pd.testing.assert_frame_equal(getattr(crm, name), getattr(again, name), obj=name)
    other = make_crm(n_customers=4000, random_state=8)
    assert not crm.transactions["amount"].equals(other.transactions["amount"])


def test_schema(crm):
    tx, cust, truth = crm.transactions, crm.customers, crm.truth
    assert list(tx.columns[:3]) == ["customer_id", "date", "amount"]
    assert {"category", "channel", "invoice_id", "quantity"} <= set(tx.columns)
    assert set(tx["category"]) <= set(CATEGORIES) and set(tx["channel"]) <= set(CHANNELS)
    assert cust["customer_id"].is_unique and len(cust) == 4000
    for col in ("signup_date", "customer_type", "age_band", "company_size", "industry", "region",
                "acquisition_channel", "preferred_contact", "birthday", "contract_end",
                "email_opt_in", "sms_opt_in", "phone_opt_in", "post_opt_in"):
        assert col in cust.columns, col
    b2b = cust["customer_type"] == "B2B"
    assert cust.loc[b2b, "industry"].notna().all() and cust.loc[~b2b, "industry"].isna().all()
    assert cust.loc[~b2b, "age_band"].notna().all() and cust.loc[b2b, "age_band"].isna().all()
    assert truth.index.name == "customer_id" and "segment" in truth.columns
    assert set(truth.index) == set(cust["customer_id"]) == set(tx["customer_id"])  # everyone buys once at least
    assert tx["date"].between(crm.observation_start, crm.observation_end).all()
    assert (tx["amount"] > 0).all()
    survey = crm.survey
    assert set(SURVEY_ITEMS) <= set(survey.columns)
    assert survey[list(SURVEY_ITEMS)].isin(range(1, 6)).all().all()
    assert survey["recommend"].between(0, 10).all()
    assert len(survey) == pytest.approx(0.3 * 4000, abs=1)


def test_first_purchase_is_the_signup_day(crm):
    first = crm.transactions.groupby("customer_id")["date"].min()
    signup = crm.customers.set_index("customer_id")["signup_date"]
    assert (first == signup.reindex(first.index)).all()


def test_dead_customers_never_buy_after_dropping_out(crm):
    last = crm.transactions.groupby("customer_id")["date"].max()
    dead = crm.truth[~crm.truth["alive"]]
    assert len(dead) > 0
    assert (last.reindex(dead.index) <= dead["dropout_date"]).all()


def test_observed_behaviour_follows_the_planted_truth(crm):
    """Segments' observed purchase rates and spend rank like the true parameters."""
    tx, truth = crm.transactions, crm.truth
    per = tx.groupby("customer_id").agg(n=("amount", "size"), spend=("amount", "mean"))
    per = per.join(truth)
    # mean spend per customer tracks the true mean spend
    assert np.corrcoef(np.log(per["spend"]), np.log(per["mean_spend"]))[0, 1] > 0.8
    by_seg = per.groupby("segment", observed=True).agg(
        n=("n", "mean"), rate=("purchase_rate", "mean"), p=("dropout_prob", "mean"))
    # expected purchases grow with rate and shrink with dropout: rank by rate / p-ish lifetime
    assert spearmanr(by_seg["n"], by_seg["rate"] / (by_seg["p"] + by_seg["rate"] * 0.05)).statistic > 0.6


def test_non_preferred_purchases_follow_the_category_affinity(crm):
    """Outside the segment's category, purchases lean to the affinity row: (1 - q) / 5 + q x affinity (q = SECONDARY_SHARE)."""
    from segwork.datasets import CATEGORY_AFFINITY, SECONDARY_SHARE

    main_category = {s.name: s.category for s in crm.segments}
    home = crm.truth["segment"].astype(str).map(main_category)
    tx = crm.transactions.assign(home=crm.transactions["customer_id"].map(home))
    other = tx[tx["category"] != tx["home"]]
    for cat, row in CATEGORY_AFFINITY.items():
        assert cat not in row and sum(row.values()) == pytest.approx(1.0)
        got = other.loc[other["home"] == cat, "category"].value_counts(normalize=True)
        if got.empty:  # no segment has this category as its own
            continue
        expected = pd.Series({j: (1 - SECONDARY_SHARE) / 5 + SECONDARY_SHARE * a for j, a in row.items()})
        assert np.abs(got.reindex(expected.index).fillna(0) - expected).max() < 0.05, cat
    # a customer's own categories stay few: the secondary is personal, not the affinity row spread over everyone
    counts = pd.crosstab(other["customer_id"], other["category"])
    top_share = counts.max(axis=1) / counts.sum(axis=1)
    assert top_share[counts.sum(axis=1) >= 5].mean() > 0.6


def test_permissions_per_contact_channel(crm):
    from segwork.datasets import CONTACT_CHANNELS, OPT_IN_RATES

    cust = crm.customers
    assert set(cust["preferred_contact"].astype(str)) == set(CONTACT_CHANNELS)
    for ch in CONTACT_CHANNELS:
        flag = cust[f"{ch}_opt_in"]
        assert flag.dtype == bool
        if ch in OPT_IN_RATES:
            pref = cust["preferred_contact"].astype(str) == ch
            low, high = OPT_IN_RATES[ch]
            assert flag[pref].mean() == pytest.approx(high, abs=0.05)
            assert flag[~pref].mean() == pytest.approx(low, abs=0.05)


def test_make_crm_rejects_nonsense():
    with pytest.raises(DataError, match="n_customers"):
        make_crm(n_customers=0)


def test_cdnow_master_and_sample():
    master, sample = load_cdnow("master"), load_cdnow("sample")
    assert list(master.columns) == ["customer_id", "date", "quantity", "amount"]
    assert len(master) == 69_659 and master["customer_id"].nunique() == 23_570
    assert master["date"].min() == pd.Timestamp("1997-01-01") and master["date"].max() == pd.Timestamp("1998-06-30")
    assert len(sample) == 6_919 and sample["customer_id"].nunique() == 2_357
    # the sample is a subset of the master's customers, with the same transactions
    sub = master[master["customer_id"].isin(set(sample["customer_id"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub.sort_values(["customer_id", "date", "amount"]).reset_index(drop=True),
                                  sample.sort_values(["customer_id", "date", "amount"]).reset_index(drop=True))
    with pytest.raises(ValueError, match="kind"):
        load_cdnow("full")


def test_load_dataset_by_name(tmp_path):
    assert load_dataset("cdnow_sample").n_customers == 2_357
    assert load_dataset("synthetic", n_customers=500, random_state=1).truth is not None
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,3\n")
    ds = load_dataset(str(path))
    assert ds.cleaning_report.rows_kept == 1 and ds.customers is None
    with pytest.raises(DataError, match="not a built-in data set"):
        load_dataset("no-such-data")


# --------------------------------------------------------------------------- registry and prepared data


def test_one_registry_of_names_that_load_dataset_reads():
    from segwork.datasets import DATASETS

    assert {"synthetic", "cdnow", "cdnow_sample"} <= set(DATASETS)
    assert DATASETS["synthetic"].parameters == ("n_customers", "random_state", "defection")
    assert DATASETS["cdnow"].parameters == ()
    assert DATASETS["synthetic"].describe(n_customers=3000, random_state=4) == "synthetic CRM data (3,000 customers, random_state 4)"
    assert DATASETS["cdnow"].describe(n_customers=3000, random_state=4) == "CDNOW (master, 23,570 customers)"
    with pytest.raises(DataError, match="synthetic, cdnow, cdnow_sample"):  # the message lists the registry
        load_dataset("no-such-data")


@pytest.mark.parametrize("make", [lambda: make_crm(n_customers=800, random_state=3), lambda: load_dataset("cdnow_sample")],
                         ids=["synthetic", "cdnow_sample"])
def test_prepared_folder_gives_the_dataset_back_unchanged(tmp_path, make):
    from segwork.datasets import is_prepared, load_prepared, save_prepared

    data = make()
    folder = save_prepared(data, tmp_path / "data")
    assert is_prepared(folder) and not is_prepared(tmp_path)
    back = load_prepared(folder)
    for name in ("transactions", "customers", "survey", "truth", "campaign"):
        if getattr(data, name) is None:
            assert getattr(back, name) is None
        else:
            pd.testing.assert_frame_equal(getattr(back, name), getattr(data, name), check_exact=True, obj=name)
    assert (back.name, back.currency, back.observation_start, back.observation_end, back.segments) == (
        data.name, data.currency, data.observation_start, data.observation_end, data.segments)


def test_a_prepared_file_is_not_read_or_cleaned_again_and_keeps_its_cleaning_report(tmp_path, monkeypatch):
    import segwork.datasets as datasets_mod
    from segwork.datasets import save_prepared

    path = tmp_path / "export.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,3\nA,2024-01-01,3\nB,2024-02-01,-1\nB,2024-03-01,5\n")
    original = load_dataset(str(path))
    folder = save_prepared(original, tmp_path / "prepared")

    def refuse(*_args, **_kwargs):
        raise AssertionError("read_transactions called on a prepared data set")

    monkeypatch.setattr(datasets_mod, "read_transactions", refuse)
    back = load_dataset(str(folder), n_customers=5, random_state=9)  # the synthetic keywords do not apply
    pd.testing.assert_frame_equal(back.transactions, original.transactions, check_exact=True)
    report = back.cleaning_report
    assert report.source == str(path) and report.rows_read == 4 and report.rows_kept == 2
    assert {r.rule: r.rows for r in report.rules}["duplicates"] == 1
    assert back.name == "export.csv"


def test_a_folder_that_is_not_prepared_is_refused(tmp_path):
    from segwork.datasets import load_prepared

    with pytest.raises(DataError, match="not a prepared data folder"):
        load_prepared(tmp_path)
    (tmp_path / "dataset.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="not a segwork prepared data set"):
        load_prepared(tmp_path)


def test_separation_one_is_the_default_data_and_the_identity_on_segments():
    from segwork.datasets import DEFAULT_SEGMENTS, _shrink_segments

    a, b = make_crm(n_customers=500, random_state=3), make_crm(n_customers=500, random_state=3, separation=1.0)
    for name in ("customers", "transactions", "survey", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    # The shrinking formula itself is the identity at 1 (the default path does not even call it).
    for s, t in zip(DEFAULT_SEGMENTS, _shrink_segments(DEFAULT_SEGMENTS, 1.0)):
        for field in ("rate", "spend", "dropout", "b2b_share"):
            assert getattr(t, field) == pytest.approx(getattr(s, field), rel=1e-12)
        assert np.allclose(t.needs, s.needs, rtol=0, atol=1e-12)


def _eta_squared(values, groups) -> float:
    """Share of the variance of ``values`` between the groups (correlation ratio squared)."""
    frame = pd.DataFrame({"v": np.asarray(values, float), "g": np.asarray(groups)})
    means = frame.groupby("g")["v"].transform("mean")
    return float(((means - frame["v"].mean()) ** 2).sum() / ((frame["v"] - frame["v"].mean()) ** 2).sum())


def test_separation_shrinks_the_segments_toward_each_other(n=3000):
    planted = {}
    for sep in (1.0, 0.5, 0.0):
        d = make_crm(n_customers=n, random_state=11, separation=sep)
        truth, tx = d.truth, d.transactions
        seg = truth["segment"].astype(str)
        cat_of = {s.name: s.category for s in d.segments}
        tx_seg = seg.reindex(tx["customer_id"]).to_numpy()
        survey = d.survey.set_index("customer_id")
        planted[sep] = {
            "rate": _eta_squared(np.log(truth["purchase_rate"]), seg),
            "spend": _eta_squared(np.log(truth["mean_spend"]), seg),
            "dropout": _eta_squared(truth["dropout_prob"], seg),
            "needs": _eta_squared(survey["q01_compare_prices"], seg.reindex(survey.index)),
            "category": float(np.mean(tx["category"].to_numpy() == pd.Series(tx_seg).map(cat_of).to_numpy())),
        }
    for key in planted[1.0]:
        assert planted[1.0][key] > planted[0.5][key] > planted[0.0][key], (key, planted)
    for key in ("rate", "spend", "dropout", "needs"):
        assert planted[0.0][key] < 0.01, (key, planted[0.0])
    assert planted[1.0]["category"] == pytest.approx(0.75, abs=0.02)
    assert planted[0.0]["category"] == pytest.approx(1 / len(CATEGORIES), abs=0.02)


def test_separation_outside_zero_one_is_refused():
    with pytest.raises(DataError, match="separation"):
        make_crm(n_customers=50, separation=1.5)
    with pytest.raises(DataError, match="separation"):
        make_crm(n_customers=50, separation=-0.1)


def test_a_files_currency_is_not_guessed(tmp_path):
    from segwork.datasets import UNSTATED_CURRENCY

    path = tmp_path / "dollars.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-02,$12.50\nA,2024-02-03,$7.25\nB,2024-01-05,$3.00\n")
    data = load_dataset(str(path))
    assert data.currency == UNSTATED_CURRENCY != "EUR"
    assert data.transactions["amount"].sum() == pytest.approx(22.75)
    assert make_crm(n_customers=20, random_state=0).currency == "EUR"
    assert load_dataset("cdnow_sample").currency == "USD"
