"""The WSGI application of the segmentation service: size limit, safe parsing, validation, dispatch, faults.

``GET /?wsdl`` returns the WSDL with the endpoint address filled in: the
``public_url`` when one is set (``segwork serve --public-url``), else the
request's ``Host`` header when it is a plain ``host[:port]`` with a port
from 1 to 65535 (as a client behind a proxy or on another machine reaches
the service), else the bound address (for a wildcard bind, 0.0.0.0 or ::,
the machine's host name);
``POST /`` takes a SOAP 1.1 envelope. A request goes through, in order:

1. the size limit, decided from ``Content-Length`` before the body is read
   (413; a request without a length is refused with 411);
2. no DTD: a body with ``<!DOCTYPE`` is refused before parsing (XXE,
   external DTDs, entity expansion: nothing is ever resolved or expanded);
3. parsing with lxml with entities, DTD loading and network access off
   (:func:`segwork.service.contract.safe_parser`); malformed XML -> 400;
4. a SOAP 1.1 ``Envelope`` with a ``Body`` holding one operation element of
   the service's namespace (a SOAP 1.2 envelope -> ``VersionMismatch``); a
   ``Header`` entry for this node (no ``actor``, or the ``next`` actor) with
   ``mustUnderstand="1"`` -> ``MustUnderstand`` (the service understands no
   header, SOAP 1.1 section 4.2.3);
5. the batch size (``customer`` elements) against ``max_batch``;
6. validation of the operation element against the WSDL's schema (libxml2);
7. the operation (:mod:`segwork.service.operations`).

After a request of more than :data:`TRIM_AFTER_BYTES` bytes, or one that took
more than :data:`TRIM_AFTER_SECONDS` to answer, the process returns
the heap memory freed by the request to the system (glibc ``malloc_trim``;
measured: the C allocator, not Python objects, kept what large requests had
used, see the README's "Memory").

Every refusal is a SOAP 1.1 Fault (:mod:`segwork.service.faults`); an
unexpected error is logged with its traceback on the server and answered
with a Server fault that says only that it happened.
"""
from __future__ import annotations

import logging
import re
import threading
import time

from lxml import etree

from .contract import SOAP11_ENV, SOAP12_ENV, TNS, compile_schema, operation_names, safe_parser, served_wsdl
from .faults import ServiceFault, fault_envelope
from .operations import call
from ..models.store import ModelStore

__all__ = ["SegmentationApp", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_BATCH", "TRIM_AFTER_BYTES", "TRIM_AFTER_SECONDS",
           "release_memory"]

#: Default request size limit (bytes): a 10,000-customer batch of summaries is about 4 MB.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Default largest number of customers in one request.
DEFAULT_MAX_BATCH = 10_000

#: Requests larger than this (bytes) are followed by :func:`release_memory`.
TRIM_AFTER_BYTES = 256 * 1024
#: ... and so are requests that took longer than this (seconds): a small request can do large work (a long horizon).
TRIM_AFTER_SECONDS = 0.2

log = logging.getLogger("segwork.service")
#: A Host header the WSDL's address may be built from: a DNS name, IPv4 address or [IPv6] literal, and a port.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"
_XML = [("Content-Type", "text/xml; charset=utf-8")]


class SegmentationApp:
    """The WSGI callable. One instance per worker process holds the loaded models (``store``).

    Parameters
    ----------
    store: the loaded model folder (:func:`segwork.models.store.load_models`).
    max_body_bytes: requests with a larger ``Content-Length`` are refused (413) unread.
    max_batch: requests with more ``customer`` elements are refused (BatchTooLarge).
    endpoint: the bound address (``http://host:port/``), put in the served
        WSDL when the request has no usable Host header.
    public_url: the address put in the served WSDL for every request (e.g.
        ``https://crm.example.com/segments/`` behind a proxy); overrides the
        Host header.
    """

    def __init__(self, store: ModelStore, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_batch: int = DEFAULT_MAX_BATCH, endpoint: str | None = None,
                 public_url: str | None = None) -> None:
        self.store = store
        self.max_body_bytes = int(max_body_bytes)
        self.max_batch = int(max_batch)
        self.endpoint = endpoint
        self.public_url = public_url
        self.operations = set(operation_names())
        self._local = threading.local()  # one compiled schema per thread (a validator keeps an error log)

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        if environ.get("PATH_INFO", "/") not in ("", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: the service is at / (WSDL at /?wsdl)\n"]
        if method == "GET":
            if environ.get("QUERY_STRING", "").lower() in ("wsdl", "wsdl="):
                body = served_wsdl(self.public_url or self._endpoint_from(environ))
                start_response("200 OK", _XML + [("Content-Length", str(len(body)))])
                return [body]
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"segwork segmentation service: POST SOAP 1.1 envelopes to /; the WSDL is at /?wsdl\n"]
        if method != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Type", "text/plain")])
            return [b"use GET /?wsdl or POST /\n"]
        started = time.monotonic()
        try:
            body = self._handle(environ)
            status = "200 OK"
        except ServiceFault as fault:
            body, status = fault_envelope(fault), _STATUS[fault.status]
        except Exception:  # noqa: BLE001 - answered as a Server fault; the traceback stays in the server log
            log.exception("segwork serve: unexpected error while answering a request")
            body = fault_envelope(ServiceFault("InternalError", "the service failed to answer this request; "
                                               "the server log has the details", faultcode="Server"))
            status = _STATUS[500]
        if _length(environ) > TRIM_AFTER_BYTES or time.monotonic() - started > TRIM_AFTER_SECONDS:
            release_memory()
        start_response(status, _XML + [("Content-Length", str(len(body)))])
        return [body]

    def _endpoint_from(self, environ) -> str:
        """The address the client used (its Host header, when it is a plain host[:port]), else the bound one."""
        host = (environ.get("HTTP_HOST") or "").strip()
        if host and len(host) <= 260 and _HOST.match(host) and _port_ok(host):
            return f"http://{host}/"
        if self.endpoint:
            return self.endpoint
        return f"http://{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}/"

    def _schema(self) -> etree.XMLSchema:
        schema = getattr(self._local, "schema", None)
        if schema is None:
            schema = self._local.schema = compile_schema()
        return schema

    # ------------------------------------------------------------------ one request
    def _read(self, environ) -> bytes:
        length = environ.get("CONTENT_LENGTH") or ""
        try:
            n = int(length)
        except ValueError:
            raise ServiceFault("LengthRequired", "the request has no Content-Length; send the envelope with its "
                               "length", status=411) from None
        if n > self.max_body_bytes:
            raise ServiceFault("RequestTooLarge", f"the request is {n:,} bytes, over this service's limit of "
                               f"{self.max_body_bytes:,} bytes; send fewer customers per request", status=413)
        if n <= 0:
            raise ServiceFault("MalformedRequest", "the request body is empty; send a SOAP 1.1 envelope", status=400)
        return environ["wsgi.input"].read(n)

    @staticmethod
    def _check_headers(root) -> None:
        """SOAP 1.1 section 4.2.3: a header entry for this node with mustUnderstand="1" that the service does
        not understand (it understands none) is refused with a MustUnderstand fault."""
        header = root.find(f"{{{SOAP11_ENV}}}Header")
        if header is None:
            return
        for entry in header:
            if not isinstance(entry.tag, str):
                continue
            sent = entry.get(f"{{{SOAP11_ENV}}}mustUnderstand") or "0"
            must = sent.strip()
            actor = (entry.get(f"{{{SOAP11_ENV}}}actor") or _ACTOR_NEXT).strip()
            if must in ("1", "true") and actor == _ACTOR_NEXT:
                name = etree.QName(entry)
                raise ServiceFault("MustUnderstand", f"the header entry {name.localname!r} (namespace "
                                   f"{name.namespace or 'none'!r}) has mustUnderstand=\"{sent}\" and this service "
                                   "does not understand it; the service understands no SOAP header",
                                   faultcode="MustUnderstand")

    def _handle(self, environ) -> bytes:
        data = self._read(environ)
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise ServiceFault("DTDNotAllowed", "the request contains a document type declaration (DOCTYPE/ENTITY); "
                               "SOAP messages must not have one (SOAP 1.1, section 3)", status=400)
        try:
            root = etree.fromstring(data, safe_parser())
        except etree.XMLSyntaxError as exc:
            raise ServiceFault("MalformedRequest", f"the request is not well-formed XML ({exc.msg}); send a SOAP 1.1 "
                               "envelope", status=400) from None
        if root.getroottree().docinfo.doctype:
            raise ServiceFault("DTDNotAllowed", "the request has a document type declaration; SOAP messages must "
                               "not have one", status=400)
        if root.tag == f"{{{SOAP12_ENV}}}Envelope":
            raise ServiceFault("VersionMismatch", "this is a SOAP 1.2 envelope; this service speaks SOAP 1.1 "
                               f"(envelope namespace {SOAP11_ENV})", faultcode="VersionMismatch")
        if root.tag != f"{{{SOAP11_ENV}}}Envelope":
            raise ServiceFault("NotAnEnvelope", f"the document is a {etree.QName(root).localname!r} element, not a "
                               f"SOAP 1.1 Envelope ({SOAP11_ENV})", status=400)
        self._check_headers(root)
        body = root.find(f"{{{SOAP11_ENV}}}Body")
        children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise ServiceFault("InvalidRequest", "the SOAP Body must hold exactly one operation element, it holds "
                               f"{len(children)}")
        request = children[0]
        qname = etree.QName(request)
        if qname.namespace != TNS or qname.localname not in self.operations:
            raise ServiceFault("UnknownOperation", f"unknown operation {qname.localname!r} (namespace "
                               f"{qname.namespace!r}); the operations are {', '.join(sorted(self.operations))} "
                               f"in namespace {TNS}")
        n = sum(1 for _ in request.iterchildren(f"{{{TNS}}}customer"))
        if n > self.max_batch:
            raise ServiceFault("BatchTooLarge", f"{qname.localname}: {n:,} customers in one request, over this "
                               f"service's limit of {self.max_batch:,}; split the batch")
        schema = self._schema()
        if not schema.validate(request):
            err = schema.error_log.last_error
            raise ServiceFault("InvalidRequest", f"{qname.localname}: the request does not match the WSDL's schema: "
                               f"{err.message if err is not None else 'invalid'} (line {getattr(err, 'line', '?')})")
        response = call(self.store, qname.localname, request)
        env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV, "tns": TNS})
        etree.SubElement(env, f"{{{SOAP11_ENV}}}Body").append(response)
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _port_ok(host: str) -> bool:
    """The port of a Host header (``name:port``, ``[v6]:port``) is 1 to 65535; no port is fine."""
    tail = host.rsplit("]", 1)[-1]
    if ":" not in tail:
        return True
    return 1 <= int(tail.rsplit(":", 1)[1]) <= 65535


def _length(environ) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


_MALLOC_TRIM = None


def release_memory() -> bool:
    """Return the C heap's free memory to the system (glibc ``malloc_trim(0)``); False where there is none.

    The arrays and trees of a large request are freed when it is answered, but
    glibc keeps the freed pages in its per-thread arenas, so the process stays
    at its peak size; trimming gives them back (a few milliseconds).
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes
            import ctypes.util

            _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without it)
            _MALLOC_TRIM = False
    if not _MALLOC_TRIM:
        return False
    _MALLOC_TRIM(0)
    return True


_STATUS = {400: "400 Bad Request", 411: "411 Length Required", 413: "413 Payload Too Large",
           500: "500 Internal Server Error"}
