"""The service's refusals: :class:`ServiceFault` and the SOAP 1.1 Fault envelope that carries it.

Every refusal is a SOAP 1.1 ``soap:Fault`` with a ``faultcode``
(``soap:Client`` for a bad request, ``soap:VersionMismatch`` for a SOAP 1.2
envelope, ``soap:Server`` for a failure of the service), a one-line
``faultstring`` and, in ``detail``, the typed ``tns:SegmentationFault``
(``code``, ``text``) of the WSDL. No traceback and no file path is ever put
in a fault (:func:`clean_text`).
"""
from __future__ import annotations

import re

from lxml import etree

from .contract import SOAP11_ENV, TNS

__all__ = ["ServiceFault", "fault_envelope", "clean_text"]

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.~-]+){2,}[\\/]?")
#: Web addresses (http, https) are kept whole; a file: URL is a path and is replaced like one.
_URL = re.compile(r"\bhttps?://[^\s'\"<>]+")
_FILE_URL = re.compile(r"\bfile:/*[^\s'\"<>]*")
#: NumPy scalar reprs (np.float64(nan), numpy.int64(3)) shown as the plain number.
_NUMPY_REPR = re.compile(r"\b(?:np|numpy)\.(?:float|int|uint|bool_|complex)\w*\(([^()]*)\)")


class ServiceFault(Exception):
    """A request the service refuses.

    Attributes: ``code`` (the SegmentationFault code, e.g. ``"InvalidRequest"``),
    ``text`` (what is wrong and what to change; at most ``limit`` characters), ``faultcode`` (``"Client"``,
    ``"Server"`` or ``"VersionMismatch"``), ``status`` (the HTTP status).
    """

    def __init__(self, code: str, text: str, *, faultcode: str = "Client", status: int = 500,
                 limit: int = 2000) -> None:
        super().__init__(text)
        self.code, self.text, self.faultcode, self.status = code, clean_text(text, limit), faultcode, status


def clean_text(text: str, limit: int = 2000) -> str:
    """One line, file paths (and file: URLs) replaced by ``<path>``, web addresses kept, NumPy reprs such as
    ``np.float64(nan)`` shown as the plain number (``nan``); at most ``limit`` characters."""
    text = _NUMPY_REPR.sub(r"\1", " ".join(str(text).split()))
    text = _FILE_URL.sub("<path>", text)
    pieces, last = [], 0
    for m in _URL.finditer(text):  # paths are replaced between the web addresses only
        pieces += [_PATH.sub("<path>", text[last:m.start()]), m.group(0)]
        last = m.end()
    text = "".join(pieces) + _PATH.sub("<path>", text[last:])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fault_envelope(fault: ServiceFault) -> bytes:
    """The SOAP 1.1 envelope of a fault (UTF-8 bytes with an XML declaration)."""
    env = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV, "tns": TNS})
    body = etree.SubElement(env, f"{{{SOAP11_ENV}}}Body")
    f = etree.SubElement(body, f"{{{SOAP11_ENV}}}Fault")
    etree.SubElement(f, "faultcode").text = f"soap:{fault.faultcode}"
    etree.SubElement(f, "faultstring").text = f"{fault.code}: {fault.text}"
    detail = etree.SubElement(f, "detail")
    typed = etree.SubElement(detail, f"{{{TNS}}}SegmentationFault")
    etree.SubElement(typed, f"{{{TNS}}}code").text = fault.code
    etree.SubElement(typed, f"{{{TNS}}}text").text = fault.text
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")
