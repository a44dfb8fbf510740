"""The contract itself: segmentation.wsdl is well-formed WSDL 1.1 whose parts all resolve and whose schema compiles."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from lxml import etree

from segwork.service.contract import (SOAP11_ENV, TNS, WSDL_NS, XSD_NS, compile_schema, operation_names,
                                      safe_parser, served_wsdl, wsdl_bytes)

W = f"{{{WSDL_NS}}}"
SOAPB = "{http://schemas.xmlsoap.org/wsdl/soap/}"
ISSUE_OPERATIONS = {"SegmentCustomers", "GetSegmentProfiles", "PredictCustomerValue", "ClassifyRelationship",
                    "SelectCampaignTargets", "GetCustomerView", "ListSegmentations",
                    "ExplainDefection"}  # issue 20: the eighth operation


def _tree():
    return etree.fromstring(wsdl_bytes(), safe_parser())


def _local(qname: str) -> str:
    prefix, _, local = qname.rpartition(":")
    assert prefix == "tns", qname
    return local


def test_wsdl_is_well_formed_and_its_schema_compiles():
    root = _tree()
    assert root.tag == f"{W}definitions" and root.get("targetNamespace") == TNS
    assert isinstance(compile_schema(), etree.XMLSchema)
    assert set(operation_names()) == ISSUE_OPERATIONS


def test_every_operation_has_input_output_fault_and_documentation():
    root = _tree()
    messages = {m.get("name") for m in root.iterfind(f"{W}message")}
    for op in root.iterfind(f"{W}portType/{W}operation"):
        name = op.get("name")
        assert (op.findtext(f"{W}documentation") or "").strip(), name
        for kind in ("input", "output", "fault"):
            el = op.find(f"{W}{kind}")
            assert el is not None, (name, kind)
            assert _local(el.get("message")) in messages, (name, kind)
        assert _local(op.find(f"{W}fault").get("message")) == "SegmentationFault"
    binding = root.find(f"{W}binding")
    assert binding.find(f"{SOAPB}binding").get("style") == "document"
    assert binding.find(f"{SOAPB}binding").get("transport") == "http://schemas.xmlsoap.org/soap/http"
    bound = {op.get("name"): op for op in binding.iterfind(f"{W}operation")}
    assert set(bound) == ISSUE_OPERATIONS
    for name, op in bound.items():
        for kind in ("input", "output"):
            assert op.find(f"{W}{kind}/{SOAPB}body").get("use") == "literal"
        assert op.find(f"{W}fault/{SOAPB}fault").get("name") == "SegmentationFault"


def test_every_message_is_documented_and_its_one_part_refers_to_a_defined_element():
    root = _tree()
    schema = root.find(f"{W}types/{{{XSD_NS}}}schema")
    elements = {e.get("name") for e in schema.iterfind(f"{{{XSD_NS}}}element")}
    for message in root.iterfind(f"{W}message"):
        assert (message.findtext(f"{W}documentation") or "").strip(), message.get("name")
        parts = message.findall(f"{W}part")
        assert len(parts) == 1, message.get("name")  # document/literal wrapped: one part, an element
        assert parts[0].get("type") is None
        assert _local(parts[0].get("element")) in elements, message.get("name")
    # wrapped: the request element is named like the operation, the response element + "Response"
    for op in ISSUE_OPERATIONS:
        assert op in elements and f"{op}Response" in elements
    fault = schema.find(f"{{{XSD_NS}}}element[@name='SegmentationFault']")
    assert [e.get("name") for e in fault.iter(f"{{{XSD_NS}}}element")][1:] == ["code", "text"]


def test_explain_defection_takes_customers_by_id_or_by_history():
    schema = compile_schema()
    by_id = f'<ExplainDefection xmlns="{TNS}"><customer><customerId>C1</customerId></customer></ExplainDefection>'
    assert schema.validate(etree.fromstring(by_id))
    by_history = (f'<ExplainDefection xmlns="{TNS}"><asOf>2024-12-31</asOf><customer><customerId>N1</customerId>'
                  "<transactions><transaction><date>2024-01-02</date><amount>10</amount></transaction></transactions>"
                  "<attribute><name>contract</name><value>none</value></attribute>"
                  "<driver><name>open_complaint</name><value>1</value><from>2024-12-01</from></driver>"
                  "</customer></ExplainDefection>")
    assert schema.validate(etree.fromstring(by_history))
    for bad in ("<value>NaN</value>", "<value>INF</value>"):  # a driver's value is a finite number
        assert not schema.validate(etree.fromstring(by_history.replace("<value>1</value>", bad)))
    assert not schema.validate(etree.fromstring(f'<ExplainDefection xmlns="{TNS}"/>'))  # at least one customer


def test_list_segmentations_needs_no_argument():
    schema = compile_schema()
    assert schema.validate(etree.fromstring(f'<ListSegmentations xmlns="{TNS}"/>'))


def test_served_wsdl_differs_only_in_the_endpoint_address():
    served = served_wsdl("http://127.0.0.1:4321/")
    root = etree.fromstring(served, safe_parser())
    address = root.find(f"{W}service/{W}port/{SOAPB}address")
    assert address.get("location") == "http://127.0.0.1:4321/"
    assert served.replace(b"http://127.0.0.1:4321/", b"http://localhost:8000/") == wsdl_bytes()
    assert SOAP11_ENV  # the binding is SOAP 1.1 (soap: namespace of WSDL 1.1), checked above


def test_the_wsdl_ships_as_package_data():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "service/*.wsdl" in pyproject["tool"]["setuptools"]["package-data"]["segwork"]


def test_xmlschema_reads_the_wsdl_strictly_and_resolves_every_part():
    """An independent reader: xmlschema's Wsdl11Document validates the file against the WSDL 1.1 schema and
    resolves every message part to an element of the inline schema (only local files, everything defused)."""
    wsdl = pytest.importorskip("xmlschema.extras.wsdl")
    import segwork.service

    doc = wsdl.Wsdl11Document(str(Path(segwork.service.__file__).parent / "segmentation.wsdl"), allow="local",
                              defuse="always", validation="strict")
    (port_type,) = doc.port_types.values()
    assert {key[0] for key in port_type.operations} == ISSUE_OPERATIONS
    for op in port_type.operations.values():
        assert op.input.message is not None and op.output.message is not None
        assert set(op.faults) == {"SegmentationFault"}
    (binding,) = doc.bindings.values()
    assert binding.soap_style == "document" and binding.soap_transport == "http://schemas.xmlsoap.org/soap/http"
    for message in doc.messages.values():
        (part,) = message.parts.values()
        assert part.__class__.__name__ == "XsdElement"
