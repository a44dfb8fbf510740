"""The service contract: the WSDL file in the package and the XML Schema compiled from its inline types.

The WSDL (``segmentation.wsdl`` beside this module) is the source of truth:
:func:`request_schema` compiles its ``wsdl:types`` schema once with lxml's
``XMLSchema`` (libxml2); the server validates every request body with it,
and responses are built to the same element names and types.
:func:`served_wsdl` is the file as it is, with only the endpoint address of
``wsdl:service`` filled in.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from xml.sax.saxutils import quoteattr

from lxml import etree

__all__ = ["TNS", "SOAP11_ENV", "SOAP12_ENV", "WSDL_NS", "XSD_NS", "wsdl_bytes", "wsdl_tree", "request_schema",
           "operation_names", "served_wsdl", "safe_parser", "compile_schema"]

#: The target namespace of the service's elements.
TNS = "urn:segwork:segmentation:1"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
_PLACEHOLDER = b'location="http://localhost:8000/"'


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves nothing: no entities, no DTD loading or validation, no network, no huge trees."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=False)


@lru_cache(maxsize=1)
def wsdl_bytes() -> bytes:
    """The WSDL file shipped in the package, as bytes."""
    return resources.files("segwork.service").joinpath("segmentation.wsdl").read_bytes()


def wsdl_tree() -> etree._Element:
    """The parsed WSDL (root ``wsdl:definitions``)."""
    return etree.fromstring(wsdl_bytes(), safe_parser())


def compile_schema() -> etree.XMLSchema:
    """The inline schema of the WSDL, compiled (libxml2); the schema element declares its own prefixes."""
    schema = wsdl_tree().find(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema), safe_parser()))


@lru_cache(maxsize=1)
def request_schema() -> etree.XMLSchema:
    """The inline schema of the WSDL, compiled once (for single-threaded use; the server compiles one per thread)."""
    return compile_schema()


@lru_cache(maxsize=1)
def operation_names() -> tuple[str, ...]:
    """The operations of the port type, in the order of the WSDL."""
    return tuple(op.get("name") for op in wsdl_tree().iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"))


def served_wsdl(endpoint: str) -> bytes:
    """The WSDL with the endpoint address (``http://host:port/``) filled in; nothing else changed."""
    data = wsdl_bytes()
    if _PLACEHOLDER not in data:  # pragma: no cover - guarded by the tests of the file
        raise RuntimeError("segmentation.wsdl: the endpoint placeholder is missing")
    return data.replace(_PLACEHOLDER, b"location=" + quoteattr(endpoint).encode("utf-8"))
