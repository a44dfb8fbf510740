"""A non-Python SOAP client calls every operation: node-soap (JavaScript) on the served WSDL, against the real server.

zeep (tests/service/test_operations.py) and raw HTTP (curl-like, tests/service/test_hostile.py) are the other two.
The node client is installed by ``make test`` from ``tests/service/node_client/package-lock.json`` (npm ci) when
npm is on the machine; without node the test is skipped with the reason, as the browser check is without Chromium.
Its answers must equal zeep's on the same requests: one contract, whatever the client.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from zeep.helpers import serialize_object

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CLIENT = Path(__file__).resolve().parent / "node_client"


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None or not (CLIENT / "node_modules" / "soap").is_dir():
        pytest.skip("node-soap not installed: install Node.js and npm, then `make test` runs "
                    "npm ci --prefix tests/service/node_client")
    return exe


def _requests(store):
    row = store.table.iloc[0]
    history = {"customerId": str(store.table.index[0]), "frequency": int(row["frequency"]),
               "recency": float(row["recency"]), "T": float(row["T"]), "monetaryValue": float(row["monetary_value"])}
    top = store.segmentations["value"].segments[0]
    return [
        ["ListSegmentations", "ListSegmentations", {}],
        ["GetSegmentProfiles", "GetSegmentProfiles", {"segmentation": "rfm"}],
        ["GetCustomerView", "GetCustomerView", {"customerId": str(store.table.index[1])}],
        # argument order as the schema's sequence: node-soap sends object keys in the order given
        ["PredictCustomerValue", "PredictCustomerValue", {"timeUnit": "days", "horizon": 12, "customer": [history]}],
        ["ClassifyRelationship", "ClassifyRelationship",
         {"customer": [{**history, "revenue": float(row["revenue"])}]}],
        ["SelectCampaignTargets", "SelectCampaignTargets",
         {"segmentation": "value", "segment": [top], "costPerContact": 1.0, "margin": 0.3, "maxContacts": 5}],
        ["SegmentCustomers", "SegmentCustomers",
         {"segmentation": "rfm", "asOf": "2024-12-31+02:00", "customer": [
             {"customerId": "N1", "transactions": {"transaction": [{"date": "2024-03-01", "amount": 40.0},
                                                                   {"date": "2024-06-01", "amount": 60.0}]}}]}],
        ["ExplainDefection", "ExplainDefection",
         {"customer": [{"customerId": str(store.table.index[2])},
                       {"customerId": "N2", "transactions": {"transaction": [{"date": "2024-02-01", "amount": 25.0},
                                                                             {"date": "2024-09-01", "amount": 35.0}]},
                        "attribute": [{"name": k, "value": str(store.defection.customers.at[store.table.index[2],
                                                                                           f"current:{k}"])}
                                      for k in store.defection.document["static"]]}]}],
        ["horizon over its limit", "PredictCustomerValue",
         {"timeUnit": "days", "horizon": 10_000_000, "customer": [history]}],
    ]


def _zeep(client, operation, args):
    return json.loads(json.dumps(serialize_object(getattr(client.service, operation)(**args)), default=str))


def _same(node_value, zeep_value, path="response"):
    """node-soap gives numbers as JS numbers or strings, zeep as Python types: compare as values."""
    if isinstance(zeep_value, dict):
        for key, value in zeep_value.items():
            if value is None or value == []:  # absent optional / empty repeated element: zeep None or [], node omits
                assert node_value.get(key) in (None, [], ""), f"{path}.{key}: node-soap has {node_value.get(key)!r}"
                continue
            assert key in node_value, f"{path}.{key} missing from node-soap's answer"
            _same(node_value[key], value, f"{path}.{key}")
    elif isinstance(zeep_value, list):
        node_list = node_value if isinstance(node_value, list) else [node_value]
        assert len(node_list) == len(zeep_value), path
        for i, (a, b) in enumerate(zip(node_list, zeep_value)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(zeep_value, bool):
        assert str(node_value).lower() == str(zeep_value).lower(), path
    elif isinstance(zeep_value, (int, float)):
        assert float(node_value) == pytest.approx(float(zeep_value), rel=1e-12), path
    elif str(node_value) != str(zeep_value):  # xs:date / xs:dateTime: node-soap gives JS Dates (ISO, UTC)
        a, b = pd.Timestamp(str(node_value)), pd.Timestamp(str(zeep_value))
        if b.tzinfo is None:
            a = a.tz_localize(None) if a.tzinfo is not None else a
        assert a == b, (path, node_value, zeep_value)


def test_node_soap_calls_every_operation_and_gets_zeeps_answers(node, server, client, store, tmp_path):
    requests = _requests(store)
    operations = {op for _, op, _ in requests}
    wsdl = (Path(__file__).resolve().parents[2] / "segwork" / "service" / "segmentation.wsdl").read_text()
    assert operations == {name for name in ("SegmentCustomers", "GetSegmentProfiles", "PredictCustomerValue",
                                            "ClassifyRelationship", "SelectCampaignTargets", "GetCustomerView",
                                            "ListSegmentations", "ExplainDefection")
                          if f'operation name="{name}"' in wsdl}
    spec = tmp_path / "requests.json"
    spec.write_text(json.dumps(requests))
    run = subprocess.run([node, str(CLIENT / "call_every_operation.js"), f"{server}?wsdl", str(spec)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout)
    assert answers["endpoint"] == server  # the served WSDL names the address the client used
    for label, operation, args in requests[:-1]:
        assert "fault" not in answers[label] and "error" not in answers[label], (label, answers[label])
        _same(answers[label], _zeep(client, operation, args), label)
    over = answers["horizon over its limit"]
    assert over["fault"] == "soap:Client" and "horizon" in over["text"], over
