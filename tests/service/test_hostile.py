"""Small hostile requests (issue 17, part 3): each is refused at once with a SOAP Fault, against the real server.

Numbers that scale the work have limits in the WSDL and in the library functions behind the operations;
NaN and infinities are refused in the schema and in the library; every schema-valid form of a date is the
day it names; the WSDL's address is the one the client used; headers the service must understand but does
not are refused; slow clients do not lock out a well-behaved one.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import requests
from lxml import etree

from segwork.act.targeting import select_targets
from segwork.clv.transaction import MAX_HISTORY_DAYS, MAX_SPEND, check_history_in_days
from segwork.clv.value import MAX_HORIZON_MONTHS, customer_lifetime_value
from segwork.errors import DataError
from segwork.features import customer_table
from segwork.service.contract import SOAP11_ENV, TNS, XSD_NS, compile_schema, safe_parser, wsdl_tree
from segwork.service.faults import clean_text
from segwork.service.operations import MAX_PROPENSITY_DAYS, purchase_propensity, request_date

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ROOT = Path(__file__).resolve().parents[2]
XS = f"{{{XSD_NS}}}"


def _env(op_xml: str, header: str = "") -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP11_ENV}" xmlns:tns="{TNS}">{header}<soap:Body>{op_xml}</soap:Body>'
            '</soap:Envelope>').encode()


def _post(server, data: bytes, **headers):
    return requests.post(server, data=data, headers={"Content-Type": "text/xml; charset=utf-8", **headers},
                         timeout=30)


def _fault(response) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP 1.1 Fault; nothing internal leaks."""
    text = response.text
    assert response.status_code == 500, (response.status_code, text[:300])
    for leak in ("Traceback", 'File "', "/work/", "/tmp/", "site-packages", ".py", "np.float"):
        assert leak not in text, (leak, text)
    fault = etree.fromstring(response.content, safe_parser()).find(f"{{{SOAP11_ENV}}}Body/{{{SOAP11_ENV}}}Fault")
    assert fault is not None, text
    return fault.findtext("faultcode"), fault.findtext("faultstring")


# --------------------------------------------------------------------------- requests with every double field

def _history(frequency="2", recency="10", T="20", monetaryValue="5.5", revenue=None, cid="A") -> str:
    rev = "" if revenue is None else f"<tns:revenue>{revenue}</tns:revenue>"
    return (f"<tns:customer><tns:customerId>{cid}</tns:customerId><tns:frequency>{frequency}</tns:frequency>"
            f"<tns:recency>{recency}</tns:recency><tns:T>{T}</tns:T><tns:monetaryValue>{monetaryValue}"
            f"</tns:monetaryValue>{rev}</tns:customer>")


def predict(horizon="12", discountRate="0.01", margin="0.5", **history) -> str:
    return (f"<tns:PredictCustomerValue><tns:timeUnit>days</tns:timeUnit><tns:horizon>{horizon}</tns:horizon>"
            f"<tns:discountRate>{discountRate}</tns:discountRate><tns:margin>{margin}</tns:margin>"
            f"{_history(**history)}</tns:PredictCustomerValue>")


def classify(revenue="40", **history) -> str:
    return f"<tns:ClassifyRelationship>{_history(revenue=revenue, **history)}</tns:ClassifyRelationship>"


def segment_summary(frequency="2", recency="10", T="20", monetaryValue="5.5", revenue="16.5", asOf=None,
                    segmentation="rfm", attributes=()) -> str:
    as_of = "" if asOf is None else f"<tns:asOf>{asOf}</tns:asOf>"
    attrs = "".join(f"<tns:attribute><tns:name>{n}</tns:name><tns:value>{v}</tns:value></tns:attribute>"
                    for n, v in attributes)
    return (f"<tns:SegmentCustomers><tns:segmentation>{segmentation}</tns:segmentation>{as_of}<tns:customer>"
            f"<tns:customerId>N</tns:customerId><tns:summary><tns:frequency>{frequency}</tns:frequency>"
            f"<tns:recency>{recency}</tns:recency><tns:T>{T}</tns:T><tns:monetaryValue>{monetaryValue}"
            f"</tns:monetaryValue><tns:revenue>{revenue}</tns:revenue></tns:summary>{attrs}</tns:customer>"
            "</tns:SegmentCustomers>")


def segment_transactions(amount="12.5", date="2024-03-01", asOf=None, segmentation="rfm") -> str:
    as_of = "" if asOf is None else f"<tns:asOf>{asOf}</tns:asOf>"
    return (f"<tns:SegmentCustomers><tns:segmentation>{segmentation}</tns:segmentation>{as_of}<tns:customer>"
            f"<tns:customerId>N</tns:customerId><tns:transactions><tns:transaction><tns:date>{date}</tns:date>"
            f"<tns:amount>{amount}</tns:amount></tns:transaction></tns:transactions></tns:customer>"
            "</tns:SegmentCustomers>")


def targets(budget="100", costPerContact="1", margin="0.3", responseRate="0.1", incrementalShare=None,
            maxContacts="5", horizonDays=None, segments=("Loyal",)) -> str:
    seg = "".join(f"<tns:segment>{s}</tns:segment>" for s in segments)
    rate = "" if responseRate is None else f"<tns:responseRate>{responseRate}</tns:responseRate>"
    share = "" if incrementalShare is None else f"<tns:incrementalShare>{incrementalShare}</tns:incrementalShare>"
    days = "" if horizonDays is None else f"<tns:horizonDays>{horizonDays}</tns:horizonDays>"
    return (f"<tns:SelectCampaignTargets><tns:segmentation>relationship</tns:segmentation>{seg}"
            f"<tns:budget>{budget}</tns:budget><tns:costPerContact>{costPerContact}</tns:costPerContact>"
            f"<tns:margin>{margin}</tns:margin>{rate}<tns:maxContacts>{maxContacts}</tns:maxContacts>{days}{share}"
            "</tns:SelectCampaignTargets>")


#: (operation, field) -> a request with ``value`` in that field: every double-valued field of every request.
DOUBLE_FIELDS = {
    ("PredictCustomerValue", "discountRate"): lambda v: predict(discountRate=v),
    ("PredictCustomerValue", "margin"): lambda v: predict(margin=v),
    ("PredictCustomerValue", "recency"): lambda v: predict(recency=v),
    ("PredictCustomerValue", "T"): lambda v: predict(T=v),
    ("PredictCustomerValue", "monetaryValue"): lambda v: predict(monetaryValue=v),
    ("ClassifyRelationship", "recency"): lambda v: classify(recency=v),
    ("ClassifyRelationship", "T"): lambda v: classify(T=v),
    ("ClassifyRelationship", "monetaryValue"): lambda v: classify(monetaryValue=v),
    ("ClassifyRelationship", "revenue"): lambda v: classify(revenue=v),
    ("SegmentCustomers", "recency"): lambda v: segment_summary(recency=v),
    ("SegmentCustomers", "T"): lambda v: segment_summary(T=v),
    ("SegmentCustomers", "monetaryValue"): lambda v: segment_summary(monetaryValue=v),
    ("SegmentCustomers", "revenue"): lambda v: segment_summary(revenue=v),
    ("SegmentCustomers", "amount"): lambda v: segment_transactions(amount=v),
    ("SelectCampaignTargets", "budget"): lambda v: targets(budget=v),
    ("SelectCampaignTargets", "costPerContact"): lambda v: targets(costPerContact=v),
    ("SelectCampaignTargets", "margin"): lambda v: targets(margin=v),
    ("SelectCampaignTargets", "responseRate"): lambda v: targets(responseRate=v),
    ("SelectCampaignTargets", "incrementalShare"): lambda v: targets(responseRate=None, incrementalShare=v),
}


def _double_fields_of_the_requests() -> set[str]:
    """Names of the request elements whose type derives from xs:double, read from the WSDL's schema."""
    schema = wsdl_tree().find(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{XS}schema")
    simple = {t.get("name"): t.find(f"{XS}restriction").get("base") for t in schema.iterfind(f"{XS}simpleType")}

    def is_double(type_name: str | None) -> bool:
        while type_name and type_name.startswith("tns:"):
            type_name = simple.get(type_name[4:])
        return type_name == "xs:double"

    named = {t.get("name"): t for t in schema.iterfind(f"{XS}complexType")}
    found: set[str] = set()

    def walk(node, seen=()):
        for el in node.iter(f"{XS}element", f"{XS}extension"):
            if el.tag == f"{XS}extension":
                walk(named[el.get("base")[4:]], seen)
                continue
            if is_double(el.get("type")):
                found.add(el.get("name"))
            t = (el.get("type") or "")[4:]
            if el.get("type", "").startswith("tns:") and t in named and t not in seen:
                walk(named[t], (*seen, t))

    for op in ("SegmentCustomers", "PredictCustomerValue", "ClassifyRelationship", "SelectCampaignTargets",
               "GetSegmentProfiles", "GetCustomerView", "ListSegmentations"):
        walk(schema.find(f"{XS}element[@name='{op}']"))
    return found


def test_the_sweep_covers_every_double_field_of_every_request():
    assert {field for _op, field in DOUBLE_FIELDS} == _double_fields_of_the_requests()


@pytest.mark.parametrize("key", list(DOUBLE_FIELDS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_every_double_field_refuses_nan_and_infinities(server, key):
    make = DOUBLE_FIELDS[key]
    good = {"recency": "10", "T": "20"}.get(key[1], "0.5")
    assert _post(server, _env(make(good))).status_code == 200, key  # the request is good with a normal number
    for bad in ("NaN", "INF", "-INF"):
        faultcode, faultstring = _fault(_post(server, _env(make(bad))))
        assert faultcode == "soap:Client" and faultstring.startswith("InvalidRequest: "), faultstring
        assert key[1] in faultstring and bad in faultstring, faultstring


def test_zeep_still_sends_normal_doubles(client):
    r = client.service.PredictCustomerValue(timeUnit="weeks", horizon=6, discountRate=1e-3, margin=0.25, customer=[
        {"customerId": "A", "frequency": 3, "recency": 12.5, "T": 30.0, "monetaryValue": 1.5e2}])
    assert 0 < r["value"][0]["clv"] < 1e6


# --------------------------------------------------------------------------- limits of the numbers that scale work

def _facet(type_name: str, facet: str = "maxInclusive") -> float:
    schema = wsdl_tree().find(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{XS}schema")
    return float(schema.find(f"{XS}simpleType[@name='{type_name}']/{XS}restriction/{XS}{facet}").get("value"))


def test_the_wsdl_states_the_library_limits():
    assert _facet("HorizonMonths") == MAX_HORIZON_MONTHS == 1200
    assert _facet("PeriodDays") == MAX_PROPENSITY_DAYS == 3650
    assert _facet("Duration") == _facet("PurchaseDays") == MAX_HISTORY_DAYS == 36_525
    assert _facet("Amount") == MAX_SPEND == 1e9
    schema = wsdl_tree().find(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{XS}schema")
    for el in schema.iter(f"{XS}element"):  # no request list without a bound
        if el.get("name") in ("customer", "transaction", "attribute", "segment") and el.get("maxOccurs"):
            assert el.get("maxOccurs") != "unbounded" or el.getparent().getparent().getparent().get(
                "name", "").endswith("Response"), el.get("name")


OVER_THE_LIMIT = {
    "horizon 10,000,000 months": (predict(horizon="10000000"), "horizon", "1200"),
    "horizon 1201 months": (predict(horizon="1201"), "horizon", "1200"),
    "horizonDays 3651": (targets(responseRate=None, horizonDays="3651"), "horizonDays", "3650"),
    "maxContacts 10^12": (targets(maxContacts="1000000000000"), "maxContacts", "1000000"),
    "budget 10^30": (targets(budget="1e30"), "budget", "1E12"),
    "T of 10^30 days": (predict(T="1e30"), "'{urn:segwork:segmentation:1}T'", "36525"),
    "frequency 10^30": (predict(frequency="1" + "0" * 30, recency="200", T="200"), "frequency", "36525"),
    "101 segments": (targets(segments=[f"s{i}" for i in range(101)]), "segment", "segment"),
}


@pytest.mark.parametrize("case", list(OVER_THE_LIMIT))
def test_a_number_over_its_limit_gets_a_client_fault_at_once(server, case):
    data, field, limit = OVER_THE_LIMIT[case]
    faultcode, faultstring = _fault(_post(server, _env(data)))
    assert faultcode == "soap:Client" and faultstring.startswith("InvalidRequest: "), faultstring
    assert field in faultstring and limit in faultstring, faultstring


def test_a_customer_with_more_transactions_than_the_limit_is_refused_by_the_schema():
    tx = "".join("<tns:transaction><tns:date>2024-01-01</tns:date><tns:amount>1</tns:amount></tns:transaction>"
                 for _ in range(10_001))
    request = etree.fromstring(segment_transactions().replace(
        "<tns:transaction><tns:date>2024-03-01</tns:date><tns:amount>12.5</tns:amount></tns:transaction>", tx)
        .replace("<tns:SegmentCustomers>", f'<tns:SegmentCustomers xmlns:tns="{TNS}">', 1))
    schema = compile_schema()
    assert not schema.validate(request)
    assert "transaction" in schema.error_log.last_error.message


def test_the_library_refuses_the_numbers_over_the_limits_naming_parameter_value_and_limit(store):
    summary = store.table[["frequency", "recency", "T", "monetary_value"]].iloc[:3] / [1, 7, 7, 1]
    with pytest.raises(DataError, match=r"customer_lifetime_value: horizon=10000000 is over the limit of 1200 months"):
        customer_lifetime_value(store.transaction_model, store.spend_model, summary, horizon=10_000_000)
    with pytest.raises(DataError, match=r"purchase_propensity: horizon_days=3651 is over the limit of 3650 days"):
        purchase_propensity(store, 3651)
    with pytest.raises(DataError, match=r"frequency=1e\+30 .* within recency=200 days is not possible"):
        check_history_in_days("PredictCustomerValue", pd.Series([1e30], index=["X"]), pd.Series([200.0]),
                              pd.Series([200.0]))
    with pytest.raises(DataError, match=r"T=40000 days for customer 'X' is over the limit of 36,525 days"):
        check_history_in_days("w", pd.Series([1], index=["X"]), pd.Series([10.0], index=["X"]),
                              pd.Series([40000.0], index=["X"]))


@pytest.mark.parametrize("field, kwargs, message", [
    ("margin", dict(margin=float("nan")), "margin=nan is not a finite number"),
    ("margin", dict(margin=float("inf")), "margin=inf is not a finite number"),
    ("horizon", dict(horizon=np.int64(1201)), "horizon=1201 is over the limit"),
])
def test_customer_lifetime_value_refuses_nan_margin_and_long_horizons(store, field, kwargs, message):
    summary = store.table[["frequency", "recency", "T", "monetary_value"]].iloc[:3] / [1, 7, 7, 1]
    with pytest.raises(DataError, match=re.escape(f"customer_lifetime_value: {message}")):
        customer_lifetime_value(store.transaction_model, store.spend_model, summary, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(budget=float("nan")), "budget=nan is not a finite number"),
    (dict(cost_per_contact=float("inf")), "cost_per_contact=inf is not a finite number"),
    (dict(margin_on_value=float("nan")), "margin_on_value=nan is not a finite number"),
    (dict(response_rate=float("nan")), "response rates must lie between 0 and 1 (a probability), got nan"),
    (dict(max_contacts=-1), "max_contacts=-1 is below the limit"),
])
def test_select_targets_refuses_nan_naming_the_parameter(store, kwargs, message):
    with pytest.raises(DataError, match=re.escape(f"select_targets: {message}")):
        select_targets(store.table, store.segmentations["rfm"], **{"response_rate": 0.1, **kwargs})


def test_relationship_typer_refuses_a_nan_revenue_naming_the_customer(store):
    seg = store.segmentations["relationship"]
    table = store.table.iloc[:4].copy()
    table.loc[table.index[2], "revenue"] = np.nan
    with pytest.raises(DataError, match=rf"revenue=nan for customer '{table.index[2]}' must be a finite value"):
        seg.segmenter.predict(table)
    with pytest.raises(DataError, match=r"monetary_value=nan for customer 'X'"):
        check_history_in_days("w", pd.Series([1], index=["X"]), pd.Series([10.0], index=["X"]),
                              pd.Series([20.0], index=["X"]), pd.Series([np.nan], index=["X"]))


IMPLAUSIBLE = {
    "more purchase days than days": (predict(frequency="300", recency="200", T="200"), "frequency=300"),
    "negative share": (segment_summary(segmentation="kmeans", attributes=[("cat_home", "-0.5")]),
                       "'cat_home'=-0.5 must be a share from 0 to 1"),
    "share over 1": (segment_summary(attributes=[("ch_web", "7")]), "'ch_web'=7 must be a share"),
    "infinite share": (segment_summary(attributes=[("ch_web", "inf")]), "'ch_web'=inf must be a share"),
    "survey answer off the scale": (segment_summary(segmentation="needs", attributes=[("q01_compare_prices", "99")]),
                                    "'q01_compare_prices'=99 must be an answer on the survey's scale, 1 to 5"),
    "summary with too many purchases": (segment_summary(frequency="500", recency="30", T="40"), "frequency=500"),
}


@pytest.mark.parametrize("case", list(IMPLAUSIBLE))
def test_implausible_values_get_a_fault(server, case):
    data, expected = IMPLAUSIBLE[case]
    faultcode, faultstring = _fault(_post(server, _env(data)))
    assert faultcode == "soap:Client" and expected in faultstring, faultstring


# --------------------------------------------------------------------------- needs segmentation from transactions

def _tx_customers(crm, ids, *, categories=True):
    tx = crm.transactions[crm.transactions["customer_id"].isin(ids)]
    customers = []
    for cid in ids:
        own = tx[tx["customer_id"] == cid]
        customers.append({"customerId": cid, "transactions": {"transaction": [
            {"date": d.date(), "amount": float(a), **({"category": c, "channel": ch} if categories else {})}
            for d, a, c, ch in zip(own["date"], own["amount"], own["category"], own["channel"])]}})
    return tx, customers


def test_needs_segmentation_places_customers_sent_as_transactions_without_survey_answers(client, store, crm):
    seg = store.segmentations["needs"]
    ids = list(store.table.index[store.table["q01_compare_prices"].isna()][:12])
    tx, customers = _tx_customers(crm, ids)
    r = client.service.SegmentCustomers(segmentation="needs", customer=customers)
    got = {a["customerId"]: a["segmentName"] for a in r["assignment"]}
    # the library: the customer table of their transactions, shares of the categories and channels they never
    # bought in 0 (as customer_table gives them on the whole data), no survey answers
    own = customer_table(tx, observation_end=crm.observation_end)
    for col in store.table.columns:
        if col.startswith(("cat_", "ch_")) and col not in own.columns:
            own[col] = 0.0
    table = store.table.loc[ids].copy()
    for col in own.columns:
        table[col] = own.loc[ids, col]
    table[[c for c in table.columns if c.startswith("q") and c[1:3].isdigit()]] = np.nan
    assert got == seg.predict(table).astype(str).to_dict()
    shares = [c for c in store.table.columns if c.startswith(("cat_", "ch_"))]
    np.testing.assert_allclose(table[shares].to_numpy(dtype=float), store.table.loc[ids, shares].to_numpy(float),
                               atol=1e-12)


def test_needs_segmentation_refuses_only_what_cannot_be_derived(server, client, crm, store):
    ids = list(store.table.index[store.table["q01_compare_prices"].isna()][:2])
    _tx, customers = _tx_customers(crm, ids, categories=False)
    zeep = pytest.importorskip("zeep")
    with pytest.raises(zeep.exceptions.Fault, match=r"needs attributes the request lacks .*'cat_\w+'.* send the "
                                                    r"customers' transactions with their categories"):
        client.service.SegmentCustomers(segmentation="needs", customer=customers)
    faultcode, faultstring = _fault(_post(server, _env(segment_summary(segmentation="needs"))))
    assert "needs attributes the request lacks" in faultstring and "customer 'N' lacks 'cat_" in faultstring
    r = _post(server, _env(segment_summary(segmentation="needs", attributes=_shares(store))))
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- dates

@pytest.mark.parametrize("form", ["2024-12-31", "2024-12-31Z", "2024-12-31+02:00", "2024-12-31-05:00",
                                  "2024-12-31+14:00", "2024-12-31-12:00"])
def test_every_schema_valid_form_of_a_date_is_the_day_it_names(client, server, form):
    plain = _post(server, _env(segment_transactions(date="2024-06-30", asOf="2024-12-31")))
    assert plain.status_code == 200
    r = _post(server, _env(segment_transactions(date="2024-06-30" + form[10:], asOf=form)))
    assert r.status_code == 200, r.text
    assert r.content == plain.content
    assert request_date(form, "asOf", "SegmentCustomers") == pd.Timestamp("2024-12-31")


def test_a_date_fault_names_the_request_field(server):
    faultcode, faultstring = _fault(_post(server, _env(segment_transactions(date="2025-02-01", asOf="2025-01-31Z"))))
    assert faultstring.startswith("InvalidCustomer: SegmentCustomers: customer 'N' has no purchase up to asOf 2025-01-31")
    assert "rfm_summary" not in faultstring and "observation_end" not in faultstring
    with pytest.raises(Exception, match=r"SegmentCustomers: asOf='31.12.2024' is not a date"):
        request_date("31.12.2024", "asOf", "SegmentCustomers")


# --------------------------------------------------------------------------- SOAP headers, fault texts, profiles

def test_a_must_understand_header_gets_a_must_understand_fault(server):
    header = ('<soap:Header><sec:Security xmlns:sec="urn:example:security" soap:mustUnderstand="1">'
              '<sec:token>x</sec:token></sec:Security></soap:Header>')
    faultcode, faultstring = _fault(_post(server, _env("<tns:ListSegmentations/>", header)))
    assert faultcode == "soap:MustUnderstand" and "'Security'" in faultstring
    for ok in ('<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="0">1</x:Trace></soap:Header>',
               '<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="1" soap:actor="urn:some-other-node">1'
               '</x:Trace></soap:Header>'):
        assert _post(server, _env("<tns:ListSegmentations/>", ok)).status_code == 200


def test_zeep_gets_the_must_understand_fault(client):
    zeep = pytest.importorskip("zeep")
    header = etree.Element("{urn:example:security}Security")
    header.set(f"{{{SOAP11_ENV}}}mustUnderstand", "1")
    with pytest.raises(zeep.exceptions.Fault) as info:
        client.service.ListSegmentations(_soapheaders=[header])
    assert info.value.code.endswith("MustUnderstand")


def test_fault_texts_keep_urls_and_show_numbers_plainly(server):
    env12 = _env("<tns:ListSegmentations/>").replace(SOAP11_ENV.encode(), b"http://www.w3.org/2003/05/soap-envelope")
    _code, faultstring = _fault(_post(server, env12))
    assert SOAP11_ENV in faultstring, faultstring
    assert clean_text("got np.float64(nan) and numpy.int64(3) at /srv/app/x.py, see https://a.example/b/c?wsdl") \
        == "got nan and 3 at <path>, see https://a.example/b/c?wsdl"
    assert clean_text("file:///etc/passwd") == "<path>"


def test_segment_counts_agree_and_no_profile_is_nan(client, store):
    counts = {s["name"]: s["segments"] for s in client.service.ListSegmentations()["segmentation"]}
    for name in store.segmentations:
        profiles = client.service.GetSegmentProfiles(segmentation=name)["segment"]
        assert len(profiles) == counts[name], name
        for p in profiles:
            for key in ("meanValue", "meanPAlive"):
                assert p[key] is None or np.isfinite(p[key]), (name, p)
            assert (p["meanValue"] is None) == (p["size"] == 0), (name, p)
    assert any(p["size"] == 0 for p in client.service.GetSegmentProfiles(segmentation="apriori")["segment"])


# --------------------------------------------------------------------------- the address in the WSDL

def _location(content: bytes) -> str:
    root = etree.fromstring(content, safe_parser())
    return root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")


def test_the_wsdl_names_the_address_the_client_used(server):
    port = urlparse(server).port
    r = requests.get(f"{server}?wsdl", headers={"Host": f"segments.example.com:{port}"}, timeout=10)
    assert _location(r.content) == f"http://segments.example.com:{port}/"
    r = requests.get(f"{server}?wsdl", headers={"Host": "[::1]:8443"}, timeout=10)
    assert _location(r.content) == "http://[::1]:8443/"
    for hostile in ('evil.com"><x y="', "a b", "evil.com/path", "x" * 300):
        r = requests.get(f"{server}?wsdl", headers={"Host": hostile}, timeout=10)
        assert r.status_code == 200  # waitress passes these headers on: the WSDL must not take them
        assert _location(r.content) == server  # not from the header: the bound address


# --------------------------------------------------------------------------- a second server: settings, slow clients

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(models_dir, *args):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "segwork.cli", "serve", "--models", str(models_dir),
                             "--host", "127.0.0.1", "--port", str(port), *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    return proc, port


@pytest.fixture(scope="module")
def strict_server(models_dir):
    """``segwork serve`` with a public URL and tight connection settings (30 connections, 4 s per request)."""
    proc, port = _serve(models_dir, "--public-url", "https://crm.example.com/segments/", "--connection-limit", "30",
                        "--channel-timeout", "4", "--request-timeout", "4", "--workers", "2")
    try:
        line = proc.stderr.readline()
        assert "ready" in line, line + proc.stderr.read()
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_public_url_overrides_the_host_header(strict_server):
    r = requests.get(f"{strict_server}?wsdl", headers={"Host": "other.example.org"}, timeout=10)
    assert _location(r.content) == "https://crm.example.com/segments/"


def _slow_clients(url: str, n: int, stop: threading.Event) -> tuple[list[socket.socket], threading.Thread]:
    """``n`` connections that send a request head one byte a second (never finishing), until ``stop``."""
    parsed = urlparse(url)
    socks = []
    for _ in range(n):
        s = socket.create_connection((parsed.hostname, parsed.port), timeout=5)
        socks.append(s)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nX-Slow: " + b"a" * 10_000

    def trickle():
        for i in range(30):  # at most 30 s
            for s in socks:
                try:
                    s.send(head[i:i + 1])
                except OSError:
                    pass
            if stop.wait(1.0):
                return

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    return socks, t


def _closed_by_server(s: socket.socket) -> bool:
    s.settimeout(0.5)
    try:
        return s.recv(1) == b""
    except (socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True


def test_slow_clients_do_not_lock_out_a_well_behaved_one(server, client, store):
    """120 connections trickling a byte a second, more than waitress's default limit of 100 that locked a new
    client out for 17.9 s: ListSegmentations is still answered at once (the session server, default settings:
    500 connections)."""
    stop = threading.Event()
    socks, t = _slow_clients(server, 120, stop)
    try:
        time.sleep(2)
        zeep = pytest.importorskip("zeep")
        for _ in range(3):  # a new client each time: a new connection, after the slow ones
            # the transport's 15 s timeouts are the bound: a client queued behind the slow ones fails the call
            fresh = zeep.Client(f"{server}?wsdl", transport=zeep.Transport(timeout=15, operation_timeout=15))
            assert fresh.service.ListSegmentations()["customers"] == len(store.table)
    finally:
        stop.set()
        t.join(timeout=5)
        for s in socks:
            s.close()


def test_slow_clients_beyond_the_connection_limit_are_dropped_after_the_request_timeout(strict_server):
    """More slow connections than the limit (40 > 30): the service drops each after its request timeout (4 s),
    so a well-behaved client is answered within a bounded wait (< 20 s) instead of waiting forever."""
    stop = threading.Event()
    socks, t = _slow_clients(strict_server, 40, stop)
    try:
        t0 = time.monotonic()
        r = _post(strict_server, _env("<tns:ListSegmentations/>"))
        waited = time.monotonic() - t0
        assert r.status_code == 200 and b"ListSegmentationsResponse" in r.content
        assert waited < 20, waited
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(_closed_by_server(s) for s in socks[:30]):
            time.sleep(0.5)
        assert all(_closed_by_server(s) for s in socks[:30])
    finally:
        stop.set()
        t.join(timeout=5)
        for s in socks:
            s.close()


def test_a_second_serve_on_a_used_port_is_one_error_line_exit_2(server, models_dir):
    port = urlparse(server).port
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "segwork.cli", "serve", "--models", str(models_dir), "--host",
                           "127.0.0.1", "--port", str(port)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: serve: cannot listen on 127.0.0.1:"), done.stderr
    assert "already in use" in lines[0] and "Traceback" not in done.stderr


def test_customers_times_horizon_has_a_limit(strict_server):
    """PredictCustomerValue: 1,001 customers x 1,200 months is over the 1,200,000 customer-months of one request."""
    many = "".join(_history(cid=f"c{i}") for i in range(1_001))
    body = predict(horizon="1200").replace(_history(), many)
    _code, faultstring = _fault(_post(strict_server, _env(body)))
    assert faultstring.startswith("BatchTooLarge: PredictCustomerValue: 1,001 customers x horizon 1,200 months"), \
        faultstring
    assert "send at most 1,000 customers" in faultstring
    r = _post(strict_server, _env(predict(horizon="1200").replace(_history(), "".join(_history(cid=f"c{i}")
                                                                                       for i in range(1_000)))))
    assert r.status_code == 200


# --------------------------------------------------------------------------- round 2: a fresh user's findings

def _serve_once(models_dir, *args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "segwork.cli", "serve", "--models", str(models_dir), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("args, option, valid", [
    (("--port", "99999"), "--port", "0 to 65535"),   # the socket layer wrapped it to 34463
    (("--port", "65536"), "--port", "0 to 65535"),   # waitress served a random port
    (("--port", "-1"), "--port", "0 to 65535"),      # waitress: ValueError traceback
    (("--port", "80.5"), "--port", "0 to 65535"),
    (("--host", "999.1.1.1"), "--host", "255.255.255.255"),  # waitress: ValueError traceback
    (("--host", "1.2.3"), "--host", "IPv4 address"),
    (("--host", "a b"), "--host", "IPv6 address"),
    (("--host", "nosuch.invalid"), "--host", "IPv4 address"),  # a name that does not resolve: at bind time
])
def test_a_bad_port_or_host_is_one_error_line_exit_2(models_dir, args, option, valid):
    done = _serve_once(models_dir, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert option in lines[0] and valid in lines[0] and args[1] in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def test_make_server_refuses_a_port_out_of_range(models_dir):
    from segwork.service.server import make_server

    for port in (-1, 65536, 99999):
        with pytest.raises(DataError, match="--port must be a port number from 0 to 65535"):
            make_server(models_dir, port=port)


def _summary_customer(store, cid, *, attributes=None) -> dict:
    """A customer of the served table as a SegmentCustomers summary with the given (default: its shares and
    survey answers) attributes."""
    row = store.table.loc[cid]
    if attributes is None:
        attributes = [c for c in store.table.columns
                      if c.startswith(("cat_", "ch_")) or (c.startswith("q") and c[1:3].isdigit())]
    return {"customerId": cid, "summary": {"frequency": row["frequency"], "recency": row["recency"], "T": row["T"],
                                           "monetaryValue": row["monetary_value"], "revenue": row["revenue"]},
            "attribute": [{"name": a, "value": repr(float(row[a]))} for a in attributes if pd.notna(row[a])]}


def test_needs_distance_is_the_distance_to_the_customers_centre_in_factor_space(client, store):
    """Every customer got the same distance (1.0976...): the survey answers' median-imputed factor scores of a
    customer without answers. Now the distance is to the centre of the customer's cluster in the factor space
    the needs segmenter assigns in, and is left out for non-respondents (placed by the behaviour classifier)."""
    seg = store.segmentations["needs"]
    answered = store.table[store.table["q01_compare_prices"].notna()]
    labels = seg.labels.reindex(answered.index).astype(str)
    ids = [labels.index[labels == s][0] for s in labels.unique()[:3]]  # customers of different segments
    silent = store.table.index[store.table[seg.features].isna().all(axis=1)][:2].tolist()
    r = client.service.SegmentCustomers(segmentation="needs",
                                        customer=[_summary_customer(store, c) for c in ids + silent])
    got = {a["customerId"]: a for a in r["assignment"]}
    segmenter = seg.segmenter
    scores = segmenter.preprocess(store.table.loc[ids, seg.features])
    codes = segmenter.predict(store.table.loc[ids, seg.features])
    expected = segmenter.model_.transform(scores)[np.arange(len(ids)), codes]
    distances = [got[c]["distance"] for c in ids]
    np.testing.assert_allclose(distances, expected, rtol=1e-9)
    assert len(set(distances)) == len(ids) and len({got[c]["segmentName"] for c in ids}) == len(ids)
    for c in silent:  # placed from behaviour: no centre, no distance
        assert got[c]["distance"] is None and got[c]["segmentName"]


def test_kmeans_distance_is_to_the_assigned_centre(client, store):
    seg = store.segmentations["kmeans"]
    ids = store.table.index[:4].tolist()
    extras = [c for c in store.table.columns if c.startswith(("cat_", "ch_"))] + ["mean_amount"]
    r = client.service.SegmentCustomers(segmentation="kmeans",
                                        customer=[_summary_customer(store, c, attributes=extras) for c in ids])
    X = store.table.loc[ids, seg.features]
    codes = seg.segmenter.predict(X)
    expected = seg.segmenter.model_.transform(seg.segmenter.preprocess(X))[np.arange(len(ids)), codes]
    np.testing.assert_allclose([a["distance"] for a in r["assignment"]], expected, rtol=1e-6)


def _shares(store):
    """Category and channel shares that are a split of a customer's purchases: each group sums to 1."""
    out = []
    for prefix in ("cat_", "ch_"):
        cols = [c for c in store.table.columns if c.startswith(prefix)]
        out += [(c, repr(1 / len(cols))) for c in cols]
    return out


APRIORI_GAPS = {
    # attributes -> what the fault must name (before: every one of these was answered "Other")
    "no attributes": ([], ["'customer_type', 'company_size', 'age_band', 'region'"]),
    "misspelt name": ([("customer_type", "B2C"), ("agee_band", "25-34"), ("region", "north")],
                      ["unknown attribute name(s) 'agee_band'", "did you mean 'age_band'?", "'age_band'", "'region'"]),
    "misspelt value": ([("customer_type", "b2c"), ("age_band", "25-34"), ("region", "north")],
                       ["'customer_type'='b2c'", "did you mean 'B2C'?"]),
    "a B2C customer without age band and region": ([("customer_type", "B2C")], ["lacks 'age_band', 'region'"]),
    "a B2B customer without company size": ([("customer_type", "B2B"), ("region", "north")],
                                            ["lacks 'company_size'"]),
}


@pytest.mark.parametrize("case", list(APRIORI_GAPS))
def test_apriori_refuses_missing_or_misspelt_attributes_like_the_clusterings(server, case):
    attributes, expected = APRIORI_GAPS[case]
    faultcode, faultstring = _fault(_post(server, _env(segment_summary(segmentation="apriori",
                                                                       attributes=attributes))))
    assert faultcode == "soap:Client" and faultstring.startswith("InvalidRequest: SegmentCustomers: "), faultstring
    for text in expected:
        assert text in faultstring, (text, faultstring)


def test_apriori_places_customers_with_the_attributes_their_rules_read(client, store):
    seg = store.segmentations["apriori"]
    b2b = store.table.index[store.table["customer_type"] == "B2B"][:3].tolist()
    b2c = store.table.index[store.table["customer_type"] == "B2C"][:3].tolist()
    customers = [_summary_customer(store, c, attributes=[]) for c in b2b + b2c]
    for c, customer in zip(b2b + b2c, customers):
        cols = ["customer_type", "company_size"] if c in b2b else ["customer_type", "age_band", "region"]
        customer["attribute"] = [{"name": a, "value": str(store.table.loc[c, a])} for a in cols]
    r = client.service.SegmentCustomers(segmentation="apriori", customer=customers)
    assert {a["customerId"]: a["segmentName"] for a in r["assignment"]} == seg.labels.loc[b2b + b2c].astype(str).to_dict()


def test_unknown_attribute_names_are_refused_for_every_segmentation_naming_the_known_ones(server):
    for name in ("rfm", "kmeans", "needs", "apriori", "value"):
        _code, faultstring = _fault(_post(server, _env(segment_summary(segmentation=name,
                                                                       attributes=[("b2c", "x"), ("Region", "n")]))))
        assert "unknown attribute name(s) 'b2c' (customer 'N')" in faultstring, faultstring
        assert "'Region' (customer 'N'; did you mean 'region'?)" in faultstring
        assert "the attributes are: " in faultstring and "'customer_type'" in faultstring
    # an unknown name with an empty value: the same fault (it ended in an InternalError)
    _code, faultstring = _fault(_post(server, _env(segment_summary(attributes=[("foo", "")]))))
    assert faultstring.startswith("InvalidRequest: SegmentCustomers: unknown attribute name(s) 'foo' (customer 'N')")


@pytest.mark.parametrize("segmentation", ["kmeans", "needs"])
def test_a_fault_names_every_missing_attribute_of_every_customer(server, store, segmentation):
    shares = [c for c, _v in _shares(store)]
    partial = [(c, "0.1") for c in shares[:3]]
    body = segment_summary(segmentation=segmentation, attributes=partial)
    # three customers: N (3 shares given), M and O (none given)
    other = segment_summary(segmentation=segmentation)
    one = other[other.index("<tns:customer>"):other.index("</tns:SegmentCustomers>")]
    body = body.replace("</tns:SegmentCustomers>", one.replace(">N<", ">M<") + one.replace(">N<", ">O<")
                        + "</tns:SegmentCustomers>")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert f"needs attributes the request lacks ({len(shares)}: " in faultstring, faultstring
    assert f"customer 'N' lacks {', '.join(repr(c) for c in shares[3:])}" in faultstring
    assert f"customers 'M', 'O' lack {', '.join(repr(c) for c in shares)}" in faultstring
    r = _post(server, _env(segment_summary(segmentation=segmentation, attributes=_shares(store))))
    assert r.status_code == 200, r.text


def test_list_segmentations_gives_every_attribute_a_segmentation_reads(client, store):
    infos = {s["name"]: s for s in client.service.ListSegmentations()["segmentation"]}
    kmeans = store.segmentations["kmeans"]
    assert "..." in infos["kmeans"]["method"]  # the library's summary shortens; the attribute list does not
    # every feature the fitted k-means reads, in its order (before: the shares only, not mean_amount)
    assert [a["name"] for a in infos["kmeans"]["attribute"]] == list(kmeans.features)
    assert all(a["required"] for a in infos["kmeans"]["attribute"])
    needs = {a["name"]: a for a in infos["needs"]["attribute"]}
    assert set(store.segmentations["needs"].features) <= set(needs)
    assert not needs["q01_compare_prices"]["required"] and not needs["cat_home"]["required"]
    assert "without survey answers" in needs["cat_home"]["note"]
    apriori = {a["name"]: a for a in infos["apriori"]["attribute"]}
    assert set(apriori) == {"customer_type", "company_size", "age_band", "region"}
    assert apriori["customer_type"]["required"] and "B2B" in apriori["customer_type"]["note"]
    assert not apriori["company_size"]["required"] and "when customer_type = B2B" in apriori["company_size"]["note"]
    assert not infos["rfm"]["attribute"]


def _raw_get_wsdl(port: int, host_header: str | None) -> bytes:
    """GET /?wsdl over a raw socket: HTTP/1.0 without a Host header when ``host_header`` is None."""
    head = (b"GET /?wsdl HTTP/1.0\r\n" if host_header is None
            else f"GET /?wsdl HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + b"\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1]


def test_a_wildcard_bind_names_the_machine_in_the_wsdl_and_the_ready_line(models_dir):
    from segwork.service.server import public_host

    name = public_host("0.0.0.0")
    assert name not in ("0.0.0.0", "::", "") and name == public_host("::")
    assert name in (socket.getfqdn(), socket.gethostname())
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "segwork.cli", "serve", "--models", str(models_dir),
                             "--host", "0.0.0.0", "--port", str(port), "--workers", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert "ready" in line, line + proc.stderr.read()
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        assert f"ready at http://{name}:{port}/" in line and "listening on all interfaces, 0.0.0.0:" in line, line
        # HTTP/1.0 without a Host header, and Host headers that are not taken: the machine's name, not 0.0.0.0
        for host_header in (None, "crm.example:99999", "crm.example:0", 'evil"><x'):
            assert _location(_raw_get_wsdl(port, host_header)) == f"http://{name}:{port}/", host_header
        assert _location(_raw_get_wsdl(port, "crm.example:65535")) == "http://crm.example:65535/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_host_header_port_over_65535_is_not_taken(server):
    for host in ("crm.example:99999", "[::1]:65536", "crm.example:00000"):
        r = requests.get(f"{server}?wsdl", headers={"Host": host}, timeout=10)
        assert r.status_code == 200
        assert _location(r.content) == server, host


def test_no_negative_zero_in_a_response(server):
    r = _post(server, _env(predict(margin="-0")))
    assert r.status_code == 200, r.text
    assert b"-0.0<" not in r.content and b"<tns:clv>0.0</tns:clv>" in r.content
    r = _post(server, _env(predict(margin="-0.0", discountRate="-0")))
    assert r.status_code == 200 and b">-0.0<" not in r.content


@pytest.mark.parametrize("sent", ["1", "true", " true "])
def test_a_must_understand_fault_quotes_what_was_sent(server, sent):
    header = (f'<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="{sent}">1</x:Trace></soap:Header>')
    faultcode, faultstring = _fault(_post(server, _env("<tns:ListSegmentations/>", header)))
    assert faultcode == "soap:MustUnderstand" and f'mustUnderstand="{sent}"' in faultstring, faultstring


def test_a_history_fault_in_weeks_says_the_value_as_sent_and_in_days(server):
    body = predict(frequency="72", recency="10", T="20").replace(">days<", ">weeks<")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert "frequency=72 repeat purchase days" in faultstring and "within recency=10 weeks (70 days)" in faultstring, \
        faultstring
    body = predict(frequency="1", recency="6000", T="6000").replace(">days<", ">weeks<")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert "recency=6000 weeks (42000 days)" in faultstring and "36,525 days" in faultstring, faultstring
    body = predict(frequency="1", recency="30", T="20").replace(">days<", ">weeks<")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert "recency=30, T=20" in faultstring, faultstring  # recency > T: the values as sent
    _code, faultstring = _fault(_post(server, _env(predict(frequency="12", recency="10", T="20"))))
    assert "within recency=10 days is not possible" in faultstring, faultstring


def test_needs_customers_with_survey_answers_need_no_shares(client, store):
    """The shares feed the behaviour classifier, which places only customers without survey answers."""
    seg = store.segmentations["needs"]
    answered = store.table.index[store.table[seg.features].notna().all(axis=1)][:4].tolist()
    r = client.service.SegmentCustomers(segmentation="needs", customer=[
        _summary_customer(store, c, attributes=seg.features) for c in answered])
    assert [a["segmentName"] for a in r["assignment"]] == seg.labels.loc[answered].astype(str).tolist()
    silent = store.table.index[store.table[seg.features].isna().all(axis=1)][:1].tolist()
    zeep = pytest.importorskip("zeep")
    with pytest.raises(zeep.exceptions.Fault, match=rf"customer {silent[0]!r} lacks 'cat_"):
        client.service.SegmentCustomers(segmentation="needs", customer=[
            _summary_customer(store, c, attributes=seg.features) for c in answered + silent])


# --------------------------------------------------------------------------- one fault for every problem (fresh user)

def _batch(segmentation, *customers, asOf=None) -> str:
    """SegmentCustomers of several summary customers: (id, attributes[, summary fields])."""
    body = ""
    for cid, attributes, *fields in customers:
        one = segment_summary(segmentation=segmentation, attributes=attributes, **(fields[0] if fields else {}))
        body += one[one.index("<tns:customer>"):one.index("</tns:SegmentCustomers>")].replace(">N<", f">{cid}<")
    as_of = "" if asOf is None else f"<tns:asOf>{asOf}</tns:asOf>"
    return (f"<tns:SegmentCustomers><tns:segmentation>{segmentation}</tns:segmentation>{as_of}{body}"
            "</tns:SegmentCustomers>")


def _with(store, **over):
    return [(c, over.get(c, v)) for c, v in _shares(store)]


def test_one_fault_names_every_problem_of_every_customer(server, store):
    """Before, each kind of error was its own round trip: the unknown name of C2 first, then C1's share, then
    (with two bad shares) only C1's, and a summary with recency > T alone. Now one fault names them all."""
    body = _batch("kmeans", ("C1", _with(store, cat_beauty="1.5")),
                  ("C2", _shares(store) + [("agee_band", "25-34")]), ("C3", []),
                  ("C4", _with(store, ch_web="-1")), ("C5", _shares(store), {"recency": "30", "T": "20"}))
    faultcode, faultstring = _fault(_post(server, _env(body)))
    assert faultcode == "soap:Client" and faultstring.startswith("InvalidRequest: SegmentCustomers: "), faultstring
    for text in ("unknown attribute name(s) 'agee_band' (customer 'C2'; did you mean 'age_band'?)",
                 "customer 'C1': attribute 'cat_beauty'=1.5 must be a share from 0 to 1",
                 "customer 'C4': attribute 'ch_web'=-1 must be a share from 0 to 1",
                 "customer 'C5': ", "recency=30, T=20",
                 "customer 'C3' lacks 'cat_beauty'"):
        assert text in faultstring, (text, faultstring)
    # the customers' own problems in the order of the request
    assert faultstring.index("customer 'C1':") < faultstring.index("customer 'C4':") < faultstring.index("'C5':")
    # a refused share is not also reported missing, and C1's other shares are not summed
    assert "customer 'C1' lacks" not in faultstring and "'C1': the category shares" not in faultstring


def test_a_fault_about_many_customers_is_bounded(server, store):
    body = _batch("kmeans", *[(f"C{i}", _with(store, cat_home="2")) for i in range(30)])
    _code, faultstring = _fault(_post(server, _env(body)))
    assert "customer 'C9': attribute 'cat_home'=2" in faultstring and "'C10'" not in faultstring
    assert "and 20 more customer(s) with problems" in faultstring and len(faultstring) < 6000


def test_shares_must_sum_to_one(server, store):
    """kmeans with every cat_/ch_ share set to 1 (category shares summing to 6) was answered 200."""
    ones = [(c, "1") for c, _v in _shares(store)]
    n_cat = sum(c.startswith("cat_") for c, _v in ones)
    _code, faultstring = _fault(_post(server, _env(_batch("kmeans", ("C1", ones)))))
    assert (f"customer 'C1': the category shares (cat_...) sum to {n_cat}; they must sum to 1 (within 0.01), or "
            "all be 0 for a customer without purchases") in faultstring, faultstring
    assert "the channel shares (ch_...) sum to 4" in faultstring
    # rounded shares pass, all 0 (no purchases in any category) pass
    rounded = [(c, f"{float(v):.3f}") for c, v in _shares(store)]
    zeros = [(c, "0") for c, _v in _shares(store)]
    r = _post(server, _env(_batch("kmeans", ("C1", rounded), ("C2", zeros))))
    assert r.status_code == 200, r.text


def test_the_attribute_list_is_what_the_fitted_segmenters_read(client, store, server):
    """ListSegmentations left out mean_amount, which moves a k-means customer to another segment, and listed 10
    of the needs classifier's 15 columns."""
    infos = {s["name"]: s for s in client.service.ListSegmentations()["segmentation"]}
    for name, seg in store.segmentations.items():
        read = list(seg.features or []) + [str(c) for c in getattr(getattr(seg, "unplaced_model", None),
                                                                   "feature_names_in_", [])]
        read += [c for r in getattr(seg.segmenter, "rules_", None) or [] for c in r["where"]]
        assert [a["name"] for a in infos[name]["attribute"] or []] == list(dict.fromkeys(read)), name
    needs = {a["name"]: a for a in infos["needs"]["attribute"]}
    assert len(store.segmentations["needs"].unplaced_model.feature_names_in_) == 15
    assert "mean_amount" in needs and "not given as an attribute" in needs["revenue"]["note"]
    kmeans = {a["name"]: a for a in infos["kmeans"]["attribute"]}
    assert "the exact value given as this attribute" in kmeans["mean_amount"]["note"]
    # mean_amount is read: it moves the customer
    low = store.table["mean_amount"].idxmin()
    a = client.service.SegmentCustomers(segmentation="kmeans", customer=[
        _summary_customer(store, low, attributes=[c for c, _v in _shares(store)])])
    b_customer = _summary_customer(store, low, attributes=[c for c, _v in _shares(store)])
    b_customer["attribute"].append({"name": "mean_amount", "value": "5000"})
    b = client.service.SegmentCustomers(segmentation="kmeans", customer=[b_customer])
    assert a["assignment"][0]["segmentName"] != b["assignment"][0]["segmentName"]
    # n_transactions is not read by k-means: refused, not accepted without effect
    _code, faultstring = _fault(_post(server, _env(_batch("kmeans", ("C1", _shares(store) + [("n_transactions",
                                                                                               "100")])))))
    assert "attribute(s) not read by segmentation 'kmeans': 'n_transactions' (customer 'C1')" in faultstring
    assert "it reads 'mean_amount', 'cat_" in faultstring
    # a profile field is the customer's record: taken by every segmentation
    r = _post(server, _env(_batch("kmeans", ("C1", _shares(store) + [("region", "north")]))))
    assert r.status_code == 200, r.text


def test_revenue_is_a_field_of_the_summary_as_the_wsdl_says(server):
    summary = wsdl_tree().find(f".//{XS}complexType[@name='Summary']")
    doc = " ".join(summary.find(f"{XS}annotation/{XS}documentation").text.split())
    assert "revenue" not in doc.split("attributes")[1] and "mean_amount" in doc, doc
    _code, faultstring = _fault(_post(server, _env(segment_summary(attributes=[("revenue", "5000")]))))
    assert "customer 'N': attribute 'revenue' is a field of the summary (tns:revenue), not an attribute" in faultstring


def test_faults_say_which_attributes_are_needed_when_and_every_way_to_give_them(server):
    _code, faultstring = _fault(_post(server, _env(segment_summary(segmentation="apriori"))))
    assert ("profile attributes: 'customer_type' always, 'company_size' only when customer_type = B2B, 'age_band' "
            "only when customer_type = B2C, 'region' only when customer_type = B2C") in faultstring, faultstring
    _code, faultstring = _fault(_post(server, _env(segment_summary(segmentation="needs"))))
    assert "or give the customer's survey answers (q01_compare_prices" in faultstring
    assert "a customer with survey answers is placed by them and needs no shares" in faultstring


def _tx_body(segmentation, customers, asOf) -> str:
    body = ""
    for cid, rows in customers:
        tx = "".join(f"<tns:transaction><tns:date>{d}</tns:date><tns:amount>10</tns:amount>"
                     + (f"<tns:category>{c}</tns:category>" if c else "")
                     + (f"<tns:channel>{ch}</tns:channel>" if ch else "") + "</tns:transaction>"
                     for d, c, ch in rows)
        body += f"<tns:customer><tns:customerId>{cid}</tns:customerId><tns:transactions>{tx}</tns:transactions>" \
                "</tns:customer>"
    return (f"<tns:SegmentCustomers><tns:segmentation>{segmentation}</tns:segmentation><tns:asOf>{asOf}</tns:asOf>"
            f"{body}</tns:SegmentCustomers>")


def test_transactions_after_as_of_and_unknown_categories_are_refused(server):
    body = _tx_body("rfm", [("A", [("2024-01-01", None, None), ("2024-08-01", None, None)]),
                            ("B", [("2024-09-01", None, None)])], "2024-06-01")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert faultstring.startswith("InvalidCustomer: SegmentCustomers: customer 'A' has 1 transaction(s) after asOf "
                                  "2024-06-01 (on 2024-08-01)"), faultstring
    assert "customer 'B' has no purchase up to asOf 2024-06-01" in faultstring
    body = _tx_body("kmeans", [("T", [("2024-01-01", "toys", "fax"), ("2024-02-01", "home", "web")])], "2024-06-01")
    _code, faultstring = _fault(_post(server, _env(body)))
    assert ("customer 'T': transaction category 'toys' is not one of the categories of the data the models were "
            "built from ('beauty', ") in faultstring, faultstring
    assert "transaction channel 'fax' is not one of the channels" in faultstring and "'web')" in faultstring
