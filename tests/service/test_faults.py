"""Bad and hostile requests: each gets a SOAP 1.1 Fault without a traceback or a path, and the server keeps serving.

The requests are sent raw (``requests``, a socket for a lying Content-Length),
as a careless or hostile client would. The module ends with one more good call.
"""
from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest
import requests
from lxml import etree

from segwork.service.contract import SOAP11_ENV, SOAP12_ENV, TNS, safe_parser

MAX_BODY = 200_000  # as the server fixture starts it (conftest.py)
MAX_BATCH = 50


def _env(op_xml: str, ns: str = SOAP11_ENV, prolog: str = "") -> bytes:
    return (f'{prolog}<soap:Envelope xmlns:soap="{ns}" xmlns:tns="{TNS}"><soap:Body>{op_xml}</soap:Body>'
            '</soap:Envelope>').encode()


def _history(cid="A", frequency="2", recency="10", T="20", money="5.5", extra=""):
    return (f"<tns:customer><tns:customerId>{cid}</tns:customerId><tns:frequency>{frequency}</tns:frequency>"
            f"<tns:recency>{recency}</tns:recency><tns:T>{T}</tns:T><tns:monetaryValue>{money}</tns:monetaryValue>"
            f"{extra}</tns:customer>")


def _predict(*customers: str) -> str:
    return ("<tns:PredictCustomerValue><tns:timeUnit>days</tns:timeUnit><tns:horizon>12</tns:horizon>"
            + "".join(customers) + "</tns:PredictCustomerValue>")


def _fault(response, status: tuple[int, ...] = (500,)) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP 1.1 Fault response; asserts nothing internal leaks."""
    text = response.text
    assert response.status_code in status, (response.status_code, text[:300])
    for leak in ("Traceback", 'File "', "/work/", "/tmp/", "site-packages", ".py", "root:x:"):
        assert leak not in text, (leak, text)
    root = etree.fromstring(response.content, safe_parser())
    fault = root.find(f"{{{SOAP11_ENV}}}Body/{{{SOAP11_ENV}}}Fault")
    assert fault is not None, text
    typed = fault.find(f"detail/{{{TNS}}}SegmentationFault")
    assert typed is not None and typed.findtext(f"{{{TNS}}}code") and typed.findtext(f"{{{TNS}}}text")
    return fault.findtext("faultcode"), fault.findtext("faultstring")


def _post(server, data: bytes, **headers):
    return requests.post(server, data=data, headers={"Content-Type": "text/xml; charset=utf-8", **headers},
                         timeout=30)


LOL = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
BAD = {
    "malformed": (b"<soap:Envelope><unclosed>", "MalformedRequest", (400,)),
    "not xml": (b"hello", "MalformedRequest", (400,)),
    "deep nesting": (_env("<a>" * 5000 + "</a>" * 5000), "MalformedRequest", (400,)),
    "not an envelope": (f'<tns:ListSegmentations xmlns:tns="{TNS}"/>'.encode(), "NotAnEnvelope", (400,)),
    "soap 1.2": (_env("<tns:ListSegmentations/>", ns=SOAP12_ENV), "VersionMismatch", (500,)),
    "unknown operation": (_env("<tns:DeleteAllCustomers/>"), "UnknownOperation", (500,)),
    "foreign namespace": (_env('<x:ListSegmentations xmlns:x="urn:other"/>'), "UnknownOperation", (500,)),
    "empty body": (_env(""), "InvalidRequest", (500,)),
    "missing field": (_env("<tns:GetSegmentProfiles/>"), "InvalidRequest", (500,)),
    "wrong type": (_env(_predict(_history(frequency="many"))), "InvalidRequest", (500,)),
    "negative count": (_env(_predict(_history(frequency="-3"))), "InvalidRequest", (500,)),
    "negative time": (_env(_predict(_history(T="-1"))), "InvalidRequest", (500,)),
    "unknown segmentation": (_env("<tns:GetSegmentProfiles><tns:segmentation>astrology</tns:segmentation>"
                                  "</tns:GetSegmentProfiles>"), "UnknownSegmentation", (500,)),
    "unknown customer": (_env("<tns:GetCustomerView><tns:customerId>nobody</tns:customerId></tns:GetCustomerView>"),
                         "UnknownCustomer", (500,)),
    "unknown segment": (_env("<tns:SelectCampaignTargets><tns:segmentation>rfm</tns:segmentation><tns:segment>Nope"
                             "</tns:segment><tns:costPerContact>1</tns:costPerContact><tns:margin>1</tns:margin>"
                             "</tns:SelectCampaignTargets>"), "InvalidRequest", (500,)),
    "channel without permission column": (_env(
        "<tns:SelectCampaignTargets><tns:segmentation>rfm</tns:segmentation><tns:costPerContact>1</tns:costPerContact>"
        "<tns:margin>1</tns:margin><tns:channel>fax</tns:channel></tns:SelectCampaignTargets>"), "InvalidRequest", (500,)),
    "zero incremental share": (_env(
        "<tns:SelectCampaignTargets><tns:segmentation>rfm</tns:segmentation><tns:costPerContact>1</tns:costPerContact>"
        "<tns:margin>1</tns:margin><tns:incrementalShare>0</tns:incrementalShare></tns:SelectCampaignTargets>"),
        "InvalidRequest", (500,)),
    "computed attribute": (_env("<tns:SegmentCustomers><tns:segmentation>rfm</tns:segmentation><tns:customer>"
                                "<tns:customerId>N</tns:customerId><tns:summary><tns:frequency>1</tns:frequency>"
                                "<tns:recency>5</tns:recency><tns:T>9</tns:T><tns:monetaryValue>3</tns:monetaryValue>"
                                "<tns:revenue>6</tns:revenue></tns:summary><tns:attribute><tns:name>clv</tns:name>"
                                "<tns:value>1e9</tns:value></tns:attribute></tns:customer></tns:SegmentCustomers>"),
                           "InvalidRequest", (500,)),
    "purchases after asOf": (_env("<tns:SegmentCustomers><tns:segmentation>rfm</tns:segmentation>"
                                  "<tns:asOf>2024-01-01</tns:asOf><tns:customer><tns:customerId>N</tns:customerId>"
                                  "<tns:transactions><tns:transaction><tns:date>2024-05-01</tns:date><tns:amount>3"
                                  "</tns:amount></tns:transaction></tns:transactions></tns:customer><tns:customer><tns:customerId>M"
                                  "</tns:customerId><tns:transactions><tns:transaction><tns:date>2023-05-01</tns:date>"
                                  "<tns:amount>3</tns:amount></tns:transaction></tns:transactions></tns:customer>"
                                  "</tns:SegmentCustomers>"), "InvalidCustomer", (500,)),
    "batch too large": (_env(_predict(*[_history(cid=f"c{i}") for i in range(MAX_BATCH + 1)])), "BatchTooLarge",
                        (500,)),
    "xxe local file": (_env("<tns:GetCustomerView><tns:customerId>&x;</tns:customerId></tns:GetCustomerView>",
                            prolog='<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
                       "DTDNotAllowed", (400,)),
    "external dtd": (_env("<tns:ListSegmentations/>", prolog='<!DOCTYPE e SYSTEM "http://127.0.0.1:9/evil.dtd">'),
                     "DTDNotAllowed", (400,)),
    "billion laughs": (_env("<tns:GetCustomerView><tns:customerId>&lol9;</tns:customerId></tns:GetCustomerView>",
                            prolog=f'<!DOCTYPE e [<!ENTITY lol0 "lol">{LOL}]>'), "DTDNotAllowed", (400,)),
    "quadratic blow-up": (_env("<tns:GetCustomerView><tns:customerId>" + "&a;" * 2000
                               + "</tns:customerId></tns:GetCustomerView>",
                               prolog=f'<!DOCTYPE e [<!ENTITY a "{"x" * 20000}">]>'), "DTDNotAllowed", (400,)),
    "utf-16 dtd": (('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    f'<soap:Envelope xmlns:soap="{SOAP11_ENV}" xmlns:tns="{TNS}"><soap:Body><tns:GetCustomerView>'
                    '<tns:customerId>&x;</tns:customerId></tns:GetCustomerView></soap:Body></soap:Envelope>')
                   .encode("utf-16"), "DTDNotAllowed", (400,)),
    "over the size limit": (_env("<!--" + "x" * (MAX_BODY + 10) + "--><tns:ListSegmentations/>"), "RequestTooLarge",
                            (413,)),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_request_gets_a_fault(server, case):
    data, code, status = BAD[case]
    faultcode, faultstring = _fault(_post(server, data), status)
    assert faultstring.startswith(f"{code}: "), faultstring
    assert faultcode == ("soap:VersionMismatch" if code == "VersionMismatch" else "soap:Client")


def test_recency_larger_than_t_is_refused_naming_the_customer(server):
    data = _env(_predict(_history(cid="OK"), _history(cid="Late", recency="30", T="20")))
    _faultcode, faultstring = _fault(_post(server, data))
    assert "recency is larger than T" in faultstring and "'Late'" in faultstring


def test_frequency_zero_with_recency_is_refused(server):
    data = _env(_predict(_history(cid="Odd", frequency="0", recency="3")))
    _faultcode, faultstring = _fault(_post(server, data))
    assert "'Odd'" in faultstring and "recency must be 0" in faultstring


def test_a_lying_content_length_is_refused_before_the_body_is_read(server):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 5000000000\r\n\r\n<a/>")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 413") or head.startswith(b"HTTP/1.0 413"), head[:100]


def test_after_all_the_bad_requests_a_good_call_still_works(server, client, store):
    for data, _code, _status in BAD.values():  # once more, all of them
        assert _post(server, data).status_code >= 400
    r = client.service.ListSegmentations()
    assert r["customers"] == len(store.table)
    r = client.service.GetCustomerView(customerId=store.table.index[0])
    assert r["customerId"] == store.table.index[0]
