"""Event triggers: birthdays, contract ends with lead time, purchase anniversaries, lapse; bad windows."""
from __future__ import annotations

import pandas as pd
import pytest

from segwork.act.triggers import triggers
from segwork.errors import DataError


@pytest.fixture()
def data():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "b"],
                       "date": pd.to_datetime(["2023-06-10", "2023-06-20", "2024-01-01", "2024-02-01", "2024-03-01"]),
                       "amount": 1.0})
    cust = pd.DataFrame({"customer_id": ["a", "b", "c"],
                         "birthday": pd.to_datetime(["1980-06-12", "1988-02-29", None]),
                         "contract_end": pd.to_datetime([None, "2024-08-10", "2024-06-15"])})
    return tx, cust


def test_events_in_window(data):
    tx, cust = data
    out = triggers(tx, cust, "2024-06-01", "2024-06-30", segments=pd.Series({"a": "s1", "b": "s2"}))
    got = {(c, e, d.strftime("%Y-%m-%d")) for c, e, d in out[["customer_id", "event", "date"]].to_numpy()}
    # a: birthday 06-12 (turns 44), first purchase 2023-06-10 -> anniversary 2024-06-10;
    #    lapse: 347 days since last, usual gap 10 days; b: contract 08-10 - 60 days = 06-11,
    #    lapse: 92 days since 03-01 > 2 x usual gap 30 days; c: contract fires 04-16 (outside)
    assert got == {("a", "birthday", "2024-06-12"), ("a", "purchase_anniversary", "2024-06-10"),
                   ("a", "lapse", "2024-06-01"), ("b", "contract_end", "2024-06-11"), ("b", "lapse", "2024-06-01")}
    assert out.loc[out["event"] == "birthday", "reason"].item() == "turns 44"
    assert out.loc[out["customer_id"] == "a", "segment"].eq("s1").all()
    assert out["action"].notna().all() and out["date"].is_monotonic_increasing


def test_leap_day_birthday_and_empty(data):
    tx, cust = data
    out = triggers(tx, cust, "2025-02-28", "2025-02-28", contract_lead_days=0)
    assert ("b", "birthday") in set(map(tuple, out[["customer_id", "event"]].to_numpy()))
    none = triggers(tx, None, "2024-03-02", "2024-03-02", lapse_factor=100)
    assert len(none) == 0 and list(none.columns)[:3] == ["customer_id", "date", "event"]


def test_bad_window(data):
    tx, cust = data
    with pytest.raises(DataError, match="before it starts"):
        triggers(tx, cust, "2024-06-30", "2024-06-01")
    with pytest.raises(DataError, match="not two dates"):
        triggers(tx, cust, "soon", "2024-06-01")


def test_p_alive_drop_and_seasonal(data):
    tx, cust = data
    cust = cust.assign(region=["north", "south", "north"])
    out = triggers(tx, cust, "2024-12-01", "2024-12-01", lapse_factor=1e6,
                   p_alive_previous=pd.Series({"a": 0.6, "b": 0.4, "c": 0.9}),
                   p_alive_current=pd.Series({"a": 0.3, "b": 0.2, "c": 0.7}),
                   seasonal_events=((12, 1, "winter sale", ("north",)),))
    got = set(map(tuple, out[["customer_id", "event"]].to_numpy()))
    assert got == {("a", "p_alive_drop"), ("a", "seasonal"), ("c", "seasonal")}
    assert "0.60 to 0.30" in out.loc[out["event"] == "p_alive_drop", "reason"].item()
    with pytest.raises(DataError, match="both"):
        triggers(tx, cust, "2024-12-01", "2024-12-01", p_alive_previous=pd.Series({"a": 0.6}))
    with pytest.raises(DataError, match="region"):
        triggers(tx, cust.drop(columns="region"), "2024-12-01", "2024-12-01",
                 seasonal_events=((12, 1, "winter sale", ("north",)),))


def test_channel_permission_leaves_customers_out_and_counts_them(data):
    tx, cust = data
    everyone = triggers(tx, cust, "2024-06-01", "2024-06-30")
    assert everyone.attrs["left_out_no_permission"] == 0
    out = triggers(tx, cust.assign(sms_opt_in=[True, False, None]), "2024-06-01", "2024-06-30", channel="sms")
    assert set(out["customer_id"]) == {"a"} and out.attrs["left_out_no_permission"] == 1  # b has events, no permission
    pd.testing.assert_frame_equal(out, everyone[everyone["customer_id"] == "a"].reset_index(drop=True))
    with pytest.raises(DataError, match="'sms_opt_in'"):
        triggers(tx, cust, "2024-06-01", "2024-06-30", channel="sms")
    with pytest.raises(DataError, match="customers table"):
        triggers(tx, None, "2024-06-01", "2024-06-30", channel="sms")
    empty = triggers(tx, cust.assign(sms_opt_in=False), "2024-06-01", "2024-06-30", channel="sms",
                     seasonal_events=())
    assert len(empty) == 0 and empty.attrs["left_out_no_permission"] == 2
