"""customer_table: behaviour from transactions joined with profile and survey."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.features import BEHAVIOUR_COLUMNS, customer_table


@pytest.fixture(scope="module")
def crm_size():
    return 1500, 3  # customers, seed: the `data` and `table` fixtures (tests/conftest.py) are made at this size


def test_one_row_per_customer_with_every_block(data, table):
    assert table.index.is_unique and set(table.index) == set(data.customers["customer_id"])
    assert set(BEHAVIOUR_COLUMNS) <= set(table.columns)
    assert {"customer_type", "region", "q01_compare_prices", "satisfaction", "has_survey"} <= set(table.columns)
    assert table["has_survey"].sum() == len(data.survey)
    assert table.loc[~table["has_survey"], "q01_compare_prices"].isna().all()


def test_behaviour_matches_a_direct_computation(data, table):
    tx = data.transactions
    direct = tx.groupby("customer_id").agg(n=("amount", "size"), revenue=("amount", "sum"), last=("date", "max"))
    direct = direct.reindex(table.index)
    assert (table["n_transactions"] == direct["n"]).all()
    np.testing.assert_allclose(table["revenue"], direct["revenue"])
    days_since = (tx["date"].max() - direct["last"]).dt.days
    np.testing.assert_allclose(table["days_since_last"], days_since)


def test_mix_shares_sum_to_one_and_match_counts(data, table):
    cat = table.filter(like="cat_")
    ch = table.filter(like="ch_")
    np.testing.assert_allclose(cat.sum(axis=1), 1.0)
    np.testing.assert_allclose(ch.sum(axis=1), 1.0)
    one = table.index[0]
    mine = data.transactions[data.transactions["customer_id"] == one]
    assert table.at[one, "ch_web"] == pytest.approx((mine["channel"] == "web").mean())


def test_transactions_alone_and_observation_end(data):
    t = customer_table(data.transactions, observation_end="2023-06-30")
    assert "region" not in t.columns and "has_survey" not in t.columns
    first = data.transactions.groupby("customer_id")["date"].min()
    assert set(t.index) == set(first[first <= "2023-06-30"].index)
    assert (t["T"] <= (pd.Timestamp("2023-06-30") - pd.Timestamp("2023-01-01")).days).all()


def test_profile_without_customer_id_is_rejected(data):
    with pytest.raises(DataError, match="customers table has no 'customer_id'"):
        customer_table(data.transactions, data.customers.drop(columns="customer_id"))


def test_integer_ids_and_times_of_day_on_the_last_day():
    """Ids as numbers and purchases later in the day than midnight of observation_end still count."""
    tx = pd.DataFrame({
        "customer_id": [1, 1, 2, 3],
        "date": pd.to_datetime(["2024-01-01 09:00", "2024-01-10 18:30", "2024-01-05 00:00", "2024-01-10 15:00"]),
        "amount": [10.0, 20.0, 5.0, 7.0],
        "channel": ["web", "store", "web", "app"],
    })
    t = customer_table(tx, observation_end="2024-01-10")
    assert list(t.index) == ["1", "2", "3"]
    assert t["n_transactions"].tolist() == [2, 1, 1]
    assert t["revenue"].tolist() == [30.0, 5.0, 7.0]
    assert t.loc["1", "ch_store"] == 0.5 and t.loc["3", "ch_app"] == 1.0
    assert not t.isna().any().any()
