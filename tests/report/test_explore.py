"""segwork.explore: the tables behind notebook 01, checked against direct computations."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork import explore
from segwork.datasets import make_crm
from segwork.errors import DataError


def frame(rows):
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).assign(
        date=lambda d: pd.to_datetime(d["date"]))


# A: three transactions on two days; B: one; C: two in different months.
SMALL = frame([
    ("A", "2024-01-05", 10.0), ("A", "2024-01-05", 5.0), ("A", "2024-03-01", 20.0),
    ("B", "2024-01-20", 100.0),
    ("C", "2024-02-10", 1.0), ("C", "2024-02-20", 2.0),
])


@st.composite
def transactions(draw):
    n = draw(st.integers(1, 40))
    customers = draw(st.lists(st.sampled_from([f"c{i}" for i in range(12)]), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))
    amounts = draw(st.lists(st.floats(0.01, 1000, allow_nan=False), min_size=n, max_size=n))
    return pd.DataFrame({"customer_id": pd.Series(customers, dtype=str),
                         "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D"), "amount": amounts})


def test_monthly_activity_by_hand():
    m = explore.monthly_activity(SMALL).set_index("month")
    assert list(m.index.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03"]
    assert m["active_customers"].tolist() == [2, 1, 1]
    assert m["new_customers"].tolist() == [2, 1, 0]
    assert m["returning_customers"].tolist() == [0, 0, 1]
    assert m["transactions"].tolist() == [3, 2, 1]
    assert m["revenue"].tolist() == [115.0, 3.0, 20.0]


def test_purchases_count_days_not_rows():
    dist = explore.purchase_count_distribution(SMALL, cap=None).set_index("purchases")
    assert dist["customers"].to_dict() == {1: 1, 2: 2}  # A: 2 days, B: 1, C: 2
    assert dist["share"].sum() == pytest.approx(1.0)
    capped = explore.purchase_count_distribution(SMALL, cap=1)
    assert capped["purchases"].tolist() == [1] and capped["customers"].tolist() == [3] and capped["capped"].all()


def test_interpurchase_days_by_hand():
    assert sorted(explore.interpurchase_days(SMALL).tolist()) == [10, 56]  # C: Feb 10 -> 20, A: Jan 5 -> Mar 1


def test_cohort_retention_by_hand():
    table = explore.cohort_retention(SMALL)
    assert table.loc["2024-01", "size"] == 2 and table.loc["2024-02", "size"] == 1
    jan = table.loc["2024-01"]
    assert jan[0] == 1.0 and jan[1] == 0.0 and jan[2] == 0.5  # A comes back in March
    assert table.loc["2024-02", 0] == 1.0 and table.loc["2024-02", 1] == 0.0
    assert math.isnan(table.loc["2024-02", 2]), "April 2024 is after the data: not observed, not zero"


def test_top_share_and_curve_against_a_direct_computation():
    tx = make_crm(n_customers=500, random_state=3).transactions
    totals = tx.groupby("customer_id")["amount"].sum().sort_values(ascending=False).to_numpy()
    direct = totals[: math.ceil(0.2 * len(totals))].sum() / totals.sum()
    assert explore.top_share(tx, 0.2) == pytest.approx(direct)
    curve = explore.revenue_concentration(tx, points=None)
    assert curve["revenue_share"].iloc[100] == pytest.approx(totals[:100].sum() / totals.sum())


def test_overview_metrics_match_the_raw_data():
    tx = make_crm(n_customers=300, random_state=1).transactions
    m = explore.overview_metrics(tx)
    assert m["n_customers"] == tx["customer_id"].nunique() == 300
    assert m["n_transactions"] == len(tx)
    assert m["revenue"] == pytest.approx(tx["amount"].sum())
    assert m["first_date"] == str(tx["date"].min().date()) and m["last_date"] == str(tx["date"].max().date())
    days = tx.assign(day=tx["date"].dt.normalize()).drop_duplicates(["customer_id", "day"]).sort_values(
        ["customer_id", "day"])
    gaps = [d.days for _, g in days.groupby("customer_id") for d in np.diff(g["day"].to_numpy()).astype(
        "timedelta64[D]").tolist()]
    assert m["median_interpurchase_days"] == pytest.approx(float(np.median(gaps)))
    assert m["n_purchase_days"] == len(days)


def test_bad_input_is_named():
    with pytest.raises(DataError, match="lack column"):
        explore.monthly_activity(pd.DataFrame({"customer_id": ["a"], "date": [pd.Timestamp("2024-01-01")]}))
    with pytest.raises(DataError, match="empty"):
        explore.top_share(SMALL.iloc[:0])
    with pytest.raises(DataError, match="fraction"):
        explore.top_share(SMALL, 20)


@settings(max_examples=60, deadline=None)
@given(transactions())
def test_properties(tx):
    curve = explore.revenue_concentration(tx, points=None)
    share = curve["revenue_share"].to_numpy()
    assert share[0] == 0 and share[-1] == pytest.approx(1.0)
    assert np.all(np.diff(share) >= -1e-12), "the curve only rises"
    assert np.all(share >= curve["customer_share"].to_numpy() - 1e-9), "largest first: never below the diagonal"
    top = explore.top_share(tx, 0.2)
    assert 0.2 - 1e-9 <= top <= 1.0 + 1e-12
    monthly = explore.monthly_activity(tx)
    assert monthly["revenue"].sum() == pytest.approx(tx["amount"].sum())
    assert monthly["new_customers"].sum() == tx["customer_id"].nunique()
    assert (monthly["returning_customers"] >= 0).all()
    dist = explore.purchase_count_distribution(tx, cap=None)
    assert dist["customers"].sum() == tx["customer_id"].nunique()
    gaps = explore.interpurchase_days(tx)
    assert len(gaps) == (dist["purchases"] - 1).mul(dist["customers"]).sum() and (gaps > 0).all()
    cohorts = explore.cohort_retention(tx)
    assert (cohorts[0] == 1.0).all() and cohorts["size"].sum() == tx["customer_id"].nunique()
    values = cohorts.drop(columns="size").to_numpy(dtype=float)
    assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1
