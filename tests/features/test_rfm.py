"""rfm_summary: the published CDNOW summary, invariants (hypothesis), and bad input.

Expected values come from the literature (Fader & Hardie's CDNOW summary) or
from plain pandas computations written here, never from rfm_summary itself.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwork.datasets import CDNOW_RULES, data_dir, load_cdnow
from segwork.errors import DataError
from segwork.io import CleaningRules
from segwork.features.rfm import rfm_summary

CAL_END = pd.Timestamp("1997-09-30")
OBS_END = pd.Timestamp("1998-06-30")


# ----------------------------------------------------------------------------- CDNOW


@pytest.fixture(scope="module")
def cdnow_raw() -> pd.DataFrame:
    """The sample file read with plain pandas: master id, sample id, day, CDs, dollars."""
    raw = pd.read_csv(
        data_dir() / "CDNOW_sample.txt", sep=r"\s+", header=None,
        names=["master_id", "sample_id", "date", "cds", "dollars"],
        dtype={"master_id": str, "sample_id": int, "date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return rfm_summary(load_cdnow("sample"), calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="weeks",
                       rules=CDNOW_RULES)  # every record counts, as published


def test_cdnow_sample_matches_published_summary(cdnow_raw, cdnow_summary):
    published = pd.read_csv(data_dir() / "cdnow_sample_summary_published.csv")
    master_of = cdnow_raw.drop_duplicates("sample_id").set_index("sample_id")["master_id"]
    published.index = pd.Index(master_of.loc[published["ID"]].to_numpy(), name="customer_id")

    assert len(published) == 2357
    assert sorted(cdnow_summary.index) == sorted(published.index)
    ours = cdnow_summary.loc[published.index]
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), published["x"].to_numpy())
    # The published values are rounded to 2 decimals.
    for col, pub in [("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")]:
        err = (ours[col] - published[pub]).abs()
        assert err.max() <= 0.005 + 1e-9, (col, err.idxmax(), ours[col][err.idxmax()], published[pub][err.idxmax()])


def test_cdnow_sample_holdout_from_raw_file(cdnow_raw, cdnow_summary):
    hold = cdnow_raw[(cdnow_raw["date"] > CAL_END) & (cdnow_raw["date"] <= OBS_END)]
    days = hold.groupby(["master_id", "date"])["dollars"].sum().reset_index()
    expected_days = days.groupby("master_id").size().reindex(cdnow_summary.index, fill_value=0)
    expected_value = days.groupby("master_id")["dollars"].mean().reindex(cdnow_summary.index, fill_value=0.0)

    np.testing.assert_array_equal(cdnow_summary["frequency_holdout"].to_numpy(), expected_days.to_numpy())
    np.testing.assert_allclose(cdnow_summary["monetary_value_holdout"].to_numpy(), expected_value.to_numpy(), rtol=1e-12)
    assert cdnow_summary["frequency_holdout"].sum() == hold[["master_id", "date"]].drop_duplicates().shape[0]
    # 1997-10-01 .. 1998-06-30 is 273 days = 39 weeks.
    assert (cdnow_summary["duration_holdout"] == 39.0).all()
    # Every sample customer first bought in 1997-Q1, so all are in the calibration period.
    assert len(cdnow_summary) == cdnow_raw["master_id"].nunique() == 2357


# ----------------------------------------------------------------------------- reference


def reference_summary(tx: pd.DataFrame, cal_end: pd.Timestamp, obs_end: pd.Timestamp, unit: float) -> pd.DataFrame:
    """The RFM summary computed the slow, obvious way, one customer at a time (after the gate's default
    rule that drops exact duplicate rows: two draws can give the same customer, time and amount)."""
    tx = tx.drop_duplicates().assign(day=tx["date"].dt.normalize())
    tx = tx[tx["day"] <= obs_end]
    days = tx.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    rows = {}
    for cid, g in days.groupby("customer_id"):
        cal, hold = g[g["day"] <= cal_end].sort_values("day"), g[g["day"] > cal_end]
        if cal.empty:
            continue
        frequency = len(cal) - 1
        rows[str(cid)] = {
            "frequency": frequency,
            "recency": (cal["day"].iloc[-1] - cal["day"].iloc[0]).days / unit,
            "T": (cal_end - cal["day"].iloc[0]).days / unit,
            "monetary_value": cal["amount"].iloc[1:].mean() if frequency else 0.0,
            "frequency_holdout": len(hold),
            "monetary_value_holdout": hold["amount"].mean() if len(hold) else 0.0,
            "duration_holdout": (obs_end - cal_end).days / unit,
        }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


@st.composite
def transaction_tables(draw, max_rows: int = 40):
    """Small random transaction tables with same-day repeats, times of day and a calibration split."""
    n = draw(st.integers(1, max_rows))
    customers = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g10", "g2"]), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    seconds = draw(st.lists(st.integers(0, 86_399), min_size=n, max_size=n))
    cents = draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n))
    tx = pd.DataFrame({
        "customer_id": pd.array(customers, dtype="str"),
        "date": pd.Timestamp("2021-03-01") + pd.to_timedelta(days, unit="D") + pd.to_timedelta(seconds, unit="s"),
        "amount": np.array(cents) / 100.0,
    })
    first, last = min(days), max(days)
    cal = pd.Timestamp("2021-03-01") + pd.Timedelta(days=draw(st.integers(first, last)))
    obs = cal + pd.Timedelta(days=draw(st.integers(0, 10)))
    return tx, cal, obs


PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(transaction_tables(), st.sampled_from(["days", "weeks"]))
def test_matches_reference_and_invariants(case, time_unit):
    tx, cal, obs = case
    out = rfm_summary(tx, calibration_end=cal, observation_end=obs, time_unit=time_unit)
    unit = 7.0 if time_unit == "weeks" else 1.0
    ref = reference_summary(tx, cal, obs, unit)

    assert list(out.index) == list(ref.index)
    assert out.index.name == "customer_id"
    np.testing.assert_array_equal(out["frequency"], ref["frequency"])
    np.testing.assert_array_equal(out["frequency_holdout"], ref["frequency_holdout"])
    for col in ["recency", "T", "monetary_value", "monetary_value_holdout", "duration_holdout"]:
        np.testing.assert_allclose(out[col].to_numpy(), ref[col].to_numpy(dtype=float), rtol=1e-12, atol=1e-9, err_msg=col)

    # Invariants.
    n_cal_tx = (tx[tx["date"].dt.normalize() <= cal].groupby("customer_id").size().reindex(out.index))
    assert (out["recency"] >= 0).all() and (out["recency"] <= out["T"]).all()
    assert (out["frequency"] >= 0).all()
    assert (out["frequency"] <= n_cal_tx - 1).all()
    one_timers = out["frequency"] == 0
    assert (out.loc[one_timers, "recency"] == 0).all()
    assert (out.loc[one_timers, "monetary_value"] == 0).all()
    assert (out.loc[~one_timers, "monetary_value"] > 0).all()
    assert ((out["frequency_holdout"] == 0) == (out["monetary_value_holdout"] == 0)).all()
    assert (out["duration_holdout"] == (obs - cal).days / unit).all()
    # Customers who first buy after the calibration end are left out.
    first_day = tx.groupby("customer_id")["date"].min().dt.normalize()
    assert set(out.index) == set(first_day[first_day <= cal].index)


@PROPS
@given(transaction_tables(), st.randoms(use_true_random=False))
def test_row_order_and_id_type_do_not_matter(case, rnd):
    tx, cal, obs = case
    base = rfm_summary(tx, calibration_end=cal, observation_end=obs)

    order = list(range(len(tx)))
    rnd.shuffle(order)
    shuffled = tx.iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(rfm_summary(shuffled, calibration_end=cal, observation_end=obs), base, check_exact=False, rtol=1e-12)

    by_customer = tx.sort_values(["customer_id", "date"]).reset_index(drop=True)  # the layout read_transactions returns
    pd.testing.assert_frame_equal(rfm_summary(by_customer, calibration_end=cal, observation_end=obs), base, check_exact=False, rtol=1e-12)

    # Categorical ids, with categories in a scrambled order and one unused category.
    cats = sorted(set(tx["customer_id"])) + ["zz_unused"]
    rnd.shuffle(cats)
    as_cat = shuffled.assign(customer_id=pd.Categorical(shuffled["customer_id"], categories=cats))
    pd.testing.assert_frame_equal(rfm_summary(as_cat, calibration_end=cal, observation_end=obs), base, check_exact=False, rtol=1e-12, check_index_type=False)

    # Python-object ids give the same table.
    as_object = shuffled.assign(customer_id=shuffled["customer_id"].astype(object))
    pd.testing.assert_frame_equal(rfm_summary(as_object, calibration_end=cal, observation_end=obs), base, check_exact=False, rtol=1e-12, check_index_type=False)


@PROPS
@given(transaction_tables())
def test_weeks_are_days_over_seven(case):
    tx, cal, obs = case
    days = rfm_summary(tx, calibration_end=cal, observation_end=obs, time_unit="days")
    weeks = rfm_summary(tx, calibration_end=cal, observation_end=obs, time_unit="weeks")
    for col in ["recency", "T", "duration_holdout"]:
        np.testing.assert_allclose(weeks[col].to_numpy(), days[col].to_numpy() / 7.0, rtol=1e-15, atol=0)
    for col in ["frequency", "monetary_value", "frequency_holdout", "monetary_value_holdout"]:
        np.testing.assert_array_equal(weeks[col].to_numpy(), days[col].to_numpy())


@PROPS
@given(transaction_tables(), st.data())
def test_splitting_a_purchase_within_its_day_changes_nothing(case, data):
    tx, cal, obs = case
    i = data.draw(st.integers(0, len(tx) - 1))
    row = tx.iloc[[i]]
    split = pd.concat([tx.drop(index=tx.index[i]),
                       row.assign(amount=row["amount"] * 0.25),
                       row.assign(amount=row["amount"] * 0.75, date=row["date"].dt.normalize())], ignore_index=True)
    # Exact duplicate rows are purchases here (duplicates="keep"): under the default gate a table with two identical
    # rows holds one purchase, and splitting one of them would add the other back (hypothesis found 11 rows of 0.01
    # on one day). The property is about the aggregation within a day, so both sides keep every row.
    keep = CleaningRules(duplicates="keep")
    pd.testing.assert_frame_equal(rfm_summary(split, calibration_end=cal, observation_end=obs, rules=keep),
                                  rfm_summary(tx, calibration_end=cal, observation_end=obs, rules=keep),
                                  check_exact=False, rtol=1e-12)


def test_without_calibration_end_or_amount():
    tx = pd.DataFrame({
        "customer_id": ["x", "x", "x", "y"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-01 18:00", "2020-01-11", "2020-01-05"], format="ISO8601"),
        "amount": [10.0, 5.0, 20.0, 7.0],
    })
    out = rfm_summary(tx)
    assert list(out.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert out.loc["x"].tolist() == [1, 10.0, 10.0, 20.0]  # two purchase days; T runs to the last date, 2020-01-11
    assert out.loc["y"].tolist() == [0, 0.0, 6.0, 0.0]
    assert list(rfm_summary(tx, amount_col=None).columns) == ["frequency", "recency", "T"]
    # observation_end cuts later rows and extends T.
    later = rfm_summary(tx, observation_end="2020-01-20")
    assert later.loc["x", "T"] == 19.0 and later.loc["y", "T"] == 15.0
    cut = rfm_summary(tx, observation_end="2020-01-10")
    assert cut.loc["x"].tolist() == [0, 0.0, 9.0, 0.0]


def test_other_column_names_integer_ids_and_local_dates():
    tx = pd.DataFrame({
        "cust": [7, 7, 12],
        "when": pd.to_datetime(["2020-01-01 23:30", "2020-01-03 00:10", "2020-01-02 00:00"]).tz_localize("Europe/Berlin"),
        "value": [1.0, 2.0, 3.0],
    })
    out = rfm_summary(tx, customer_col="cust", date_col="when", amount_col="value")
    assert list(out.index) == ["12", "7"]  # ids as text, sorted as text: what the gate gives a file too
    assert out.loc["7", "recency"] == 2.0  # local calendar days, not UTC days


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def small_tx() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "b"],
        "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-15"]),
        "amount": [1.0, 2.0, 3.0],
    })


@pytest.mark.parametrize("col", ["customer_id", "date", "amount"])
def test_missing_column(small_tx, col):
    with pytest.raises(DataError, match=f"column '{col}' is missing"):
        rfm_summary(small_tx.drop(columns=col))


def test_a_frame_passes_the_gate_text_dates_and_numbers_are_read_as_in_a_file(small_tx):
    """A DataFrame passes segwork.io.clean_transactions as a file does: text dates and amounts are read."""
    text = small_tx.assign(date=["01/01/2020", "01/02/2020", "15/01/2020"], amount=["1", "2", "3"])
    pd.testing.assert_frame_equal(rfm_summary(text), rfm_summary(small_tx))


def test_problem_rows_are_dropped_and_counted_as_for_a_file(small_tx):
    """Missing or non-finite values are rows the cleaning rules drop (and count), not errors of the summary;
    with a rule set to "error" the gate names the row."""
    for bad in (small_tx.assign(amount=[1.0, np.nan, 3.0]), small_tx.assign(amount=["1", "x", "3"]),
                small_tx.assign(date=pd.to_datetime(["2020-01-01", None, "2020-01-15"]))):
        out = rfm_summary(bad)
        assert out.loc["a", "frequency"] == 0  # a's second row dropped
        report = out.attrs["cleaning_report"]
        assert report.rows_read == 3 and report.rows_kept == 2
    out = rfm_summary(small_tx.assign(customer_id=[None, "a", "b"]))
    assert out.loc["a", "frequency"] == 0 and out.attrs["cleaning_report"].rows_kept == 2
    with pytest.raises(DataError, match=r"bad_amount='drop'"):
        rfm_summary(small_tx.assign(amount=[1.0, 2.0, np.inf]), rules=CleaningRules(bad_amount="error"))


def test_period_ends_must_fit_the_data(small_tx):
    with pytest.raises(DataError, match="calibration_end 2020-03-01 is after observation_end 2020-02-15"):
        rfm_summary(small_tx, calibration_end="2020-03-01", observation_end="2020-02-15")
    with pytest.raises(DataError, match=r"calibration_end 2020-03-01 is after observation_end 2020-02-01 \(the last transaction date\)"):
        rfm_summary(small_tx, calibration_end="2020-03-01")
    with pytest.raises(DataError, match=r"calibration_end 2019-12-31 is before the first transaction \(2020-01-01\)"):
        rfm_summary(small_tx, calibration_end="2019-12-31")
    with pytest.raises(DataError, match="observation_end 2019-06-01 is before the first transaction"):
        rfm_summary(small_tx, observation_end="2019-06-01")
    with pytest.raises(DataError, match="calibration_end='not a date' is not a date"):
        rfm_summary(small_tx, calibration_end="not a date")


def test_other_bad_arguments(small_tx):
    with pytest.raises(DataError, match="time_unit='months' is not supported"):
        rfm_summary(small_tx, time_unit="months")
    with pytest.raises(DataError, match="no transactions"):
        rfm_summary(small_tx.iloc[:0])
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        rfm_summary(small_tx.to_dict())
    # ids 1 and "1" are the one customer "1" after the gate, as they are in a file
    assert rfm_summary(small_tx.assign(customer_id=pd.Series([1, "1", "b"], dtype=object))).loc["1", "frequency"] == 1


def test_late_first_purchases_are_excluded(small_tx):
    out = rfm_summary(small_tx, calibration_end="2020-01-10", observation_end="2020-02-01")
    assert list(out.index) == ["a"]  # b first buys on 2020-01-15, after the calibration end
    assert out.loc["a", "frequency"] == 0 and out.loc["a", "frequency_holdout"] == 1
    assert out.loc["a", "monetary_value_holdout"] == 2.0


def test_large_tables_sorted_nearly_sorted_and_unsorted_agree():
    """Sorted ids take a fast path; one out-of-order pair (between sampled rows) must not fool it."""
    rng = np.random.default_rng(0)
    n = 5000
    tx = pd.DataFrame({
        "customer_id": pd.array([f"c{i:04d}" for i in rng.integers(0, 800, n)], dtype="str"),
        "date": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "amount": rng.integers(1, 10_000, n) / 100.0,
    }).sort_values(["customer_id", "date"], ignore_index=True)
    expected = reference_summary(tx, pd.Timestamp("2022-08-31"), pd.Timestamp("2022-10-27"), 1.0)
    sampled = set(np.linspace(0, n - 1, num=1025).astype(int))
    i = next(i for i in range(n - 1) if i not in sampled and i + 1 not in sampled
             and tx["customer_id"][i] != tx["customer_id"][i + 1])
    swapped = tx.iloc[list(range(i)) + [i + 1, i] + list(range(i + 2, n))].reset_index(drop=True)
    for table in (tx, swapped, tx.sample(frac=1.0, random_state=1)):
        out = rfm_summary(table, calibration_end="2022-08-31", observation_end="2022-10-27")
        assert list(out.index) == list(expected.index)
        for col in expected.columns:
            np.testing.assert_allclose(out[col].to_numpy(), expected[col].to_numpy(dtype=float), rtol=1e-12, err_msg=col)
