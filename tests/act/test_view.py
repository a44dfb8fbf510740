"""Single customer view: every part from the table, segmentations, triggers and recommendations; unknown customer."""
from __future__ import annotations

import pandas as pd
import pytest

from segwork.act import customer_view
from segwork.errors import DataError


@pytest.fixture()
def table():
    return pd.DataFrame({"frequency": [2, 0], "recency": [30.0, 0], "T": [100.0, 50], "monetary_value": [20.0, 0],
                         "days_since_last": [70.0, 50], "n_transactions": [3, 1], "revenue": [70.0, 10],
                         "mean_amount": [23.3, 10], "p_alive": [0.8, 0.6], "clv": [55.0, 3],
                         "cat_home": [1.0, 0], "region": ["north", "south"], "email_opt_in": [True, False],
                         "birthday": pd.to_datetime(["1980-01-01", None])}, index=["a", "b"])


def test_view_parts(table):
    segs = {"relationship": pd.Series({"a": "Loyal", "b": "Prospective"}), "rfm": pd.Series({"a": "Champions"})}
    trig = pd.DataFrame({"customer_id": ["a", "b"], "event": ["birthday", "lapse"]})
    recs = pd.DataFrame({"customer_id": ["a"], "rank": [1], "item": ["gifts"]})
    v = customer_view("a", table, segs, triggers=trig, recommendations=recs)
    assert v.value["clv"] == 55 and v.value["p_alive"] == 0.8 and v.history["revenue"] == 70
    assert v.permissions == {"email_opt_in": True} and v.mix == {"cat_home": 1.0}
    assert v.profile["region"] == "north" and "clv" not in v.profile
    assert v.segments == {"relationship": "Loyal", "rfm": "Champions"}
    assert v.relationship == "Loyal" and v.strategy and v.offer
    assert [t["event"] for t in v.triggers] == ["birthday"] and v.recommendations[0]["item"] == "gifts"
    b = customer_view("b", table, segs)
    assert b.segments["rfm"] is None and "birthday" not in b.profile and b.triggers == []


def test_unknown_customer(table):
    with pytest.raises(DataError, match="no customer 'zz'"):
        customer_view("zz", table)


def test_the_view_is_typed(table):
    """Issue 18: a dataclass with named fields, not a dict read by string keys."""
    import dataclasses

    from segwork.act import CustomerView

    v = customer_view("a", table)
    assert isinstance(v, CustomerView) and dataclasses.is_dataclass(v)
    assert v.figures == {**v.history, **v.value} and v.attributes == {**v.profile, **v.permissions, **v.mix}
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.relationship = "Loyal"


def test_the_view_names_its_clv_at_the_tables_margin(table):
    """Issue 21: one margin, one label: the view says which value ``clv`` is, as every page and the service do."""
    assert customer_view("a", table).value_label == "CLV (margin 30 %)"  # DEFAULT_MARGIN, prepare_table's default
    assert customer_view("a", table, margin=0.25).value_label == "CLV (margin 25 %)"
    v = customer_view("a", table, margin=1)
    assert v.value_label == "expected revenue" and v.value["clv"] == 55  # it names the number, never changes it
    with pytest.raises(DataError, match="margin=-0.1"):
        customer_view("a", table, margin=-0.1)
