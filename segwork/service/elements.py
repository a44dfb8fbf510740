"""Request and response elements of the service: qualified names, xs:double and xs:date text, one place for each.

Every operation module (:mod:`segwork.service.operations`, :mod:`segwork.service.defection`) builds its
response with these and reads the request's dates with :func:`request_date`, so a number or a date is written
and read the same way by every operation.
"""
from __future__ import annotations

import math
import re

import pandas as pd
from lxml import etree

from ..errors import DataError
from ..io import CleaningRules, clean_transactions
from .contract import TNS
from .faults import ServiceFault

__all__ = ["qname", "xs_double", "add", "response", "text_of", "request_date", "through_the_gate"]


def qname(name: str) -> str:
    """``{namespace}name`` of an element of the service's namespace."""
    return f"{{{TNS}}}{name}"


def xs_double(x) -> str:
    """xs:double text (NaN, INF, -INF spelled as XML Schema spells them)."""
    x = float(x)
    if x == 0:  # -0.0 (e.g. a CLV with margin=-0) is written 0.0: a client should not see a signed zero
        return "0.0"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    return repr(x)


def add(parent, name: str, text) -> etree._Element:
    """A child element ``name`` of ``parent`` with ``text`` (a string as it is, a number as :func:`xs_double`)."""
    el = etree.SubElement(parent, qname(name))
    el.text = text if isinstance(text, str) else xs_double(text)
    return el


def response(op: str) -> etree._Element:
    """The empty response element of operation ``op`` (``<op>Response``)."""
    return etree.Element(qname(f"{op}Response"), nsmap={"tns": TNS})


def text_of(el, name: str, default=None):
    """The stripped text of child ``name`` of ``el``, or ``default`` when it is absent."""
    v = el.findtext(qname(name))
    return default if v is None else v.strip()


#: xs:date: [-]YYYY-MM-DD with an optional timezone (Z or +hh:mm / -hh:mm).
_XS_DATE = re.compile(r"^\s*(-?\d{4,})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d)?\s*$")


def request_date(text: str, field: str, where: str) -> pd.Timestamp:
    """The calendar day an xs:date of a request names, as a midnight Timestamp (the one reader of request dates).

    Every lexical form of xs:date is read: ``2024-12-31``, ``2024-12-31Z``,
    ``2024-12-31+02:00``, ``2024-12-31-05:00``, all the day 2024-12-31; the
    timezone says where the day is and does not move it. ``field`` is the
    request's element name and ``where`` the operation, for the fault
    (InvalidRequest) when the text is not such a date or names a day pandas
    cannot represent.
    """
    m = _XS_DATE.match(text or "")
    try:
        if m is None:
            raise ValueError
        return pd.Timestamp(year=int(m.group(1)), month=int(m.group(2)), day=int(m.group(3)))
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ServiceFault("InvalidRequest", f"{where}: {field}={text!r} is not a date; write it as an xs:date, "
                           "e.g. 2024-12-31 (a timezone such as Z or +02:00 may follow)") from None


def through_the_gate(tx: pd.DataFrame, as_of: pd.Timestamp, where: str, refuse) -> tuple[pd.DataFrame, object]:
    """A request's transactions through the one gate, :func:`segwork.io.clean_transactions`, under the rules
    ``segwork score`` cleans a file with (the defaults, the histories ending at ``as_of``): a purchase of amount 0
    or a row given twice counts here as it counts there. Returns ``(transactions, report)``.

    ``refuse(cid, text, kind)`` is called for each customer every one of whose transactions the rules drop
    (``kind`` "transactions"), naming the rules that dropped the rows (the gate run on that customer's rows
    alone). Raises :class:`ServiceFault` InvalidRequest (prefixed with ``where``) when the gate refuses the rows
    as a whole (nothing the schema lets through should get there)."""
    rules = CleaningRules(observation_end=as_of)
    try:
        clean, report = clean_transactions(tx, rules=rules, source="the request", allow_empty=True)
    except DataError as exc:
        raise ServiceFault("InvalidRequest", f"{where}: {exc}") from None
    gone = pd.Index(tx["customer_id"].unique()).difference(pd.Index(clean["customer_id"].unique()))
    for cid in gone:  # the few refused customers: which rules matched their rows
        _, own = clean_transactions(tx[tx["customer_id"] == cid], rules=rules, source="the request", allow_empty=True)
        why = "; ".join(f"{r.rows} with {r.description}" for r in own.rules if r.rows)
        refuse(cid, f"has no transaction the cleaning rules keep ({why}); segwork score drops such rows too; give at "
                    "least one purchase of an amount above 0", "transactions")
    return clean, report
