"""The customer lookup page and the SOAP operation GetCustomerView say the same about a customer (issue 21).

The page's data are written by :func:`segwork.report.lookup.lookup_data` from the model folder's prepared table
and segmentations (what a run writes), read back as the page's script reads them (:func:`decode` of the JSON in
the page); the service answers from the same folder through a real server and zeep. Every field the service
gives must be on the page with the same value: numbers within the page's rounding (money to 2
decimals, days to whole days, probabilities and shares to 3), texts exactly, and the CLV named by the same value label (the
folder's one margin).
"""
from __future__ import annotations

import json
import math
import re

import pytest

from segwork.act.view import customer_view
from segwork.clv.margin import value_label
from segwork.errors import DataError
from segwork.report.lookup import DECIMALS, decode, lookup_data, lookup_html

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: GetCustomerView's numbers -> (the page's group, column, its rounding in decimals).
NUMBERS = {"frequency": ("value", "frequency", DECIMALS["money"]), "recency": ("value", "recency", DECIMALS["days"]),
           "T": ("history", "T", DECIMALS["days"]), "daysSinceLast": ("history", "days_since_last", DECIMALS["days"]),
           "monetaryValue": ("value", "monetary_value", DECIMALS["money"]),
           "revenue": ("history", "revenue", DECIMALS["money"]), "pAlive": ("value", "p_alive", DECIMALS["share"]),
           "clv": ("value", "clv", DECIMALS["money"])}


def _rounding(decimals: int) -> float:
    """The largest difference rounding to ``decimals`` makes (half a unit of the last place, and float noise)."""
    return 0.5 * 10.0 ** -decimals + 1e-9


@pytest.fixture(scope="module")
def page(store):
    """The lookup page's data for the folder's customers, read back from the HTML as the page's script reads it."""
    html = lookup_html(lookup_data(store.table, store.segmentations, margin=float(store.clv_settings["margin"])))
    return json.loads(re.search(r'id="segwork-lookup-data">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))


def _customers(store) -> list[str]:
    """A few customers of different kinds: the first, a one-time buyer, the most valuable, the lowest P(alive), the last."""
    t = store.table
    return list(dict.fromkeys([t.index[0], t.index[t["frequency"] == 0][0], t["clv"].idxmax(), t["p_alive"].idxmin(),
                               t.index[-1]]))


def test_the_lookup_page_shows_what_get_customer_view_answers(client, store, page):
    label = value_label(float(store.clv_settings["margin"]))
    assert page["value_label"] == label == "CLV (margin 30 %)"  # the folder is built at the one default margin
    for cid in _customers(store):
        r, shown = client.service.GetCustomerView(customerId=cid), decode(page, cid)
        assert r["customerId"] == shown["customer_id"] == cid
        for element, (group, column, decimals) in NUMBERS.items():
            assert math.isclose(r[element], shown[group][column], abs_tol=_rounding(decimals)), \
                (cid, element, r[element], shown[group][column])
        assert r["valueLabel"] == shown["value_label"] == customer_view(cid, store.table, store.segmentations,
                                                                         margin=float(store.clv_settings["margin"])
                                                                         ).value_label == label
        assert {m["segmentation"]: m["segment"] for m in r["membership"]} == shown["segments"]
        assert r["relationship"] == shown["relationship"]
        assert r["strategy"] == (shown["strategy"] or "no strategy stated")
        # the service's name/value attributes are the page's profile, permissions and purchase mix
        attributes = {a["name"]: a["value"] for a in r["attribute"]}
        on_page = {**shown["profile"], **shown["permissions"], **shown["mix"]}
        assert set(attributes) == set(on_page), (cid, set(attributes) ^ set(on_page))
        for name, text in attributes.items():
            mine = on_page[name]
            if isinstance(mine, bool):
                assert text == str(mine), (cid, name, text, mine)
            elif isinstance(mine, int | float):
                tol = _rounding(DECIMALS["share"] if name in shown["mix"] else DECIMALS["money"])
                assert math.isclose(float(text), mine, abs_tol=tol), (cid, name, text, mine)
            else:
                assert text == mine, (cid, name, text, mine)


def test_an_unknown_customer_is_refused_by_both(client, page):
    from zeep.exceptions import Fault

    with pytest.raises(Fault, match="no customer 'nobody'"):
        client.service.GetCustomerView(customerId="nobody")
    with pytest.raises(DataError, match="no customer 'nobody'"):
        decode(page, "nobody")
