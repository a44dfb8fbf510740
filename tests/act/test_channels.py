"""Channel effectiveness and preferred contact, checked against counts by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from segwork.act.channels import channel_effectiveness, preferred_contact
from segwork.errors import DataError


@pytest.fixture()
def table():
    return pd.DataFrame({"acquisition_channel": ["web", "web", "store", "store", "store"],
                         "revenue": [100.0, 50, 10, 20, 30], "frequency": [2, 0, 0, 1, 0],
                         "days_since_last": [10.0, 200, 50, 400, 91], "clv": [5.0, 1, 2, 2, 2],
                         "preferred_contact": ["email", "email", "phone", "email", "phone"]},
                        index=list("abcde"))


def test_channel_effectiveness(table):
    out = channel_effectiveness(table)
    assert list(out.index) == ["web", "store"]
    assert out.loc["web", "revenue_per_customer"] == 75 and out.loc["store", "customers"] == 3
    assert out.loc["web", "repeat_share"] == 0.5 and out.loc["store", "active_share"] == pytest.approx(1 / 3)
    assert out.loc["web", "mean_clv"] == 3 and out["share"].sum() == pytest.approx(1)
    with pytest.raises(DataError, match="acquisition_channel"):
        channel_effectiveness(table.drop(columns="acquisition_channel"))


def test_preferred_contact(table):
    seg = pd.Series(["x", "x", "y", "y", "y"], index=table.index)
    out = preferred_contact(table, seg)
    assert out.loc["x", "preferred"] == "email" and out.loc["y", "preferred"] == "phone"
    assert out.loc["y", "phone"] == pytest.approx(2 / 3) and out.loc["y", "customers"] == 3
    with pytest.raises(DataError, match="preferred_contact"):
        preferred_contact(table.drop(columns="preferred_contact"), seg)


def test_permitted_and_opt_in_column():
    from segwork.act.channels import opt_in_column, permitted

    t = pd.DataFrame({"sms_opt_in": [True, None, False]}, index=["a", "b", "c"])
    assert opt_in_column("sms") == "sms_opt_in"
    assert permitted(t, "sms").tolist() == [True, False, False]  # unknown permission is no permission
    assert permitted(t, column="sms_opt_in").index.tolist() == ["a", "b", "c"]
    with pytest.raises(DataError, match="'email_opt_in'.*sms_opt_in"):
        permitted(t, "email")
    with pytest.raises(DataError, match="name the contact channel"):
        permitted(t)
    with pytest.raises(DataError, match="contact channel"):
        opt_in_column("")
