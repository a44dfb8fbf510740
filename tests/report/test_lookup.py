"""report.lookup: the lookup page shows what customer_view shows, for a few customers; its size budget."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from segwork.act.view import customer_view
from segwork.errors import DataError
from segwork.report.lookup import decode, lookup_data, lookup_html

#: The page-size budget of what this test writes (the store's table and segmentations, no triggers, interval or
#: P(alive) path): measured 167 bytes per customer at 1,500 customers (209 before segments, survey answers and
#: permissions became one character per customer and days whole days); budget 200, about 20 % room.
BYTES_PER_CUSTOMER = 200


def _same(a, b, column=""):
    if isinstance(b, bool | np.bool_):  # a bool profile column is shown as its text, as the SOAP attribute is
        return a == str(bool(b)) or a is bool(b)
    if isinstance(b, float | int | np.number):
        days = column in ("recency", "T", "days_since_last")  # whole days on the page, money to 2 decimals
        return a == pytest.approx(b, abs=0.5 + 1e-9 if days else 0.006)
    if isinstance(b, pd.Timestamp):
        return a == b.date().isoformat()
    return a == b


def test_the_page_shows_what_customer_view_shows(store):
    table, segs = store.table, store.segmentations
    pending = pd.DataFrame({"customer_id": [str(table.index[0])] * 2, "date": pd.to_datetime(["2025-01-05"] * 2),
                            "event": ["birthday", "lapse"], "reason": ["born", "quiet"], "action": ["card", "call"]})
    page = lookup_data(table, segs, triggers=pending)
    html = lookup_html(page)
    data = json.loads(re.search(r'id="segwork-lookup-data">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))
    for cid in list(table.index[:4]) + [table.index[-1]]:
        shown, view = decode(data, cid), customer_view(cid, table, segs, triggers=pending)
        for field in ("history", "value", "mix", "permissions", "profile"):
            mine, theirs = shown[field], getattr(view, field)
            assert set(mine) == set(theirs), (cid, field, set(mine) ^ set(theirs))
            for k in theirs:
                assert _same(mine[k], theirs[k], k), (cid, field, k, mine[k], theirs[k])
        assert shown["segments"] == view.segments
        assert (shown["relationship"], shown["strategy"], shown["offer"]) == (view.relationship, view.strategy,
                                                                             view.offer)
        assert [t["event"] for t in shown["triggers"]] == [t["event"] for t in view.triggers]
        assert [{k: t[k] for k in ("reason", "action")} for t in shown["triggers"]] == \
            [{k: t[k] for k in ("reason", "action")} for t in view.triggers]
        assert [t["date"] for t in shown["triggers"]] == [t["date"].date().isoformat() for t in view.triggers]
        assert shown["value_label"] == view.value_label == "CLV (margin 30 %)"  # both at the default margin
    with pytest.raises(DataError, match="no customer 'nobody'"):
        decode(data, "nobody")


def test_page_size_budget(store):
    """Size only: the lookup data grow linearly with the customers; the budget per customer holds."""
    table, segs = store.table, store.segmentations
    size = len(lookup_html(lookup_data(table, segs)).encode("utf-8"))
    assert size / len(table) <= BYTES_PER_CUSTOMER


def test_the_page_names_the_clv_as_customer_view_does_at_the_runs_margin(store):
    """One margin, one label (segwork.clv.margin.value_label): margin 1 is expected revenue, on the page and in the view."""
    table = store.table
    for margin, label in ((0.3, "CLV (margin 30 %)"), (0.45, "CLV (margin 45 %)"), (1.0, "expected revenue")):
        data = lookup_data(table.iloc[:3], margin=margin)
        assert data["value_label"] == decode(data, table.index[0])["value_label"] == label
        assert customer_view(table.index[0], table, margin=margin).value_label == label
    with pytest.raises(DataError, match="margin=nan"):
        lookup_data(table.iloc[:3], margin=float("nan"))


def test_an_id_is_found_trimmed_and_in_any_case_when_unambiguous():
    table = pd.DataFrame({"revenue": [1.0, 2.0, 3.0, 4.0]}, index=pd.Index(["C000123", "C000124", "ab", "AB"],
                                                                               name="customer_id"))
    data = lookup_data(table)
    assert decode(data, "c000123")["customer_id"] == "C000123"  # shown as written in the data
    assert decode(data, "  C000124 ")["customer_id"] == "C000124"
    assert decode(data, "AB")["customer_id"] == "AB" and decode(data, "ab")["customer_id"] == "ab"  # exact first
    with pytest.raises(DataError, match="no customer 'Ab'"):  # two ids differ only in case: no guess
        decode(data, "Ab")


def test_rows_are_named_in_words_and_days_are_whole(store):
    """Labels from segwork.report.lookup.label (column_label): no raw column names; the two day counts apart."""
    table = store.table.copy()
    table["days_since_last"] = table["days_since_last"] + 0.4  # fractional days are shown as whole days
    data = lookup_data(table, store.segmentations)
    labels = data["labels"]
    assert labels["days_since_last"] == "days since last purchase"  # the RFM page's recency
    assert labels["recency"] == "first to last purchase (BTYD recency)"
    assert labels.get("clv", "CLV") == "CLV" and labels["n_transactions"] == "transactions"
    for c, text in labels.items():
        assert "_" not in text, (c, text)
        if c.startswith("cat_"):
            assert text.startswith("category: "), text
        if c.startswith("ch_"):
            assert text.startswith("channel: "), text
    assert all(float(v).is_integer() for v in data["history"]["days_since_last"] if v is not None)
    assert all(isinstance(codes["codes"], str) and len(codes["codes"]) == len(table)
               for codes in data["segments"].values())  # one character per customer
