"""Read transaction files into segwork's canonical, validated, cleaned table.

The canonical transaction table has one row per transaction line:

========== =========== ===================================================
column     dtype       meaning
========== =========== ===================================================
customer_id string      who bought
date        datetime64  when (day resolution is enough for every model)
amount      float64     money of the line, in the data's currency
quantity    float64     optional: units bought
product     string      optional: product or stock code
category    string      optional: product category
channel     string      optional: sales channel (store, web, app, ...)
invoice_id  string      optional: invoice / order number
========== =========== ===================================================

``read_transactions`` accepts CSV (delimiter and encoding detected or given:
UTF-8, cp1252, UTF-16/32 by their byte-order mark), Parquet, Excel (every sheet
in the recognised layout; title rows above the header and trailing total rows
handled) and in-memory DataFrames. It recognises the UCI "Online Retail II" and the CDNOW layouts as
they are. Dates and numbers are read as real exports write them: one date form
and one day/month convention per column, one decimal and thousands mark per
column, each decided from the values that prove it (or refused in one line
when the column contradicts itself), and each decision is recorded as a
:class:`Decision` in the report. Cleaning is explicit: each rule in
:class:`CleaningRules` drops, keeps or rejects the rows it matches, and the
returned :class:`CleaningReport` says how many rows each rule touched, with an
example. Input files are only ever read.
"""
from __future__ import annotations

import codecs
import csv
import datetime as _dt
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "LAYOUTS",
    "CleaningRules",
    "CleaningReport",
    "PLACEHOLDER_DATES",
    "PLAUSIBLE_FIRST_DATE",
    "PLAUSIBLE_FUTURE_DAYS",
    "implausible_dates",
    "SCIENTIFIC_ID",
    "scientific_id_error",
    "check_one_currency",
    "check_column_map",
    "RuleResult",
    "Decision",
    "read_transactions",
    "clean_transactions",
    "text_dialect",
    "HEADER_SCAN_ROWS",
    "bom_encoding",
    "is_wide_encoding",
    "utf8_copy",
]

REQUIRED_COLUMNS = ("customer_id", "date", "amount")
OPTIONAL_COLUMNS = ("quantity", "product", "category", "channel", "invoice_id")
_STRING_COLUMNS = ("customer_id", "product", "category", "channel", "invoice_id")

#: Known source layouts: source column -> canonical column. ``price`` is a unit
#: price; when present without ``amount`` the amount is ``quantity * price``.
LAYOUTS: dict[str, dict[str, str]] = {
    "online_retail_ii": {
        "Invoice": "invoice_id",
        "StockCode": "product",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "Price": "price",
        "Customer ID": "customer_id",
        "Country": "country",
    },
    # The first UCI "Online Retail" release names the same fields differently.
    "online_retail": {
        "InvoiceNo": "invoice_id",
        "StockCode": "product",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "UnitPrice": "price",
        "CustomerID": "customer_id",
        "Country": "country",
    },
    "cdnow": {
        "customer_id": "customer_id",
        "date": "date",
        "number_of_cds": "quantity",
        "dollar_value": "amount",
    },
}

Action = Literal["drop", "keep", "error"]
_ACTIONS = ("drop", "keep", "error")


@dataclass(frozen=True)
class CleaningRules:
    """What to do with each kind of problem row: ``"drop"``, ``"keep"`` or ``"error"``.

    ``"error"`` raises :class:`~segwork.DataError` naming the first offending
    row. Rules run in the order of the fields below; each sees only the rows
    the earlier rules kept.

    Attributes
    ----------
    missing_customer_id:
        Rows without a customer id (guest checkouts). They cannot belong to a
        customer, so the default drops them; ``"keep"`` is not allowed.
    unparseable_date:
        Rows whose date cannot be read. Default ``"drop"``; ``"keep"`` is not allowed.
    implausible_date:
        Rows dated on a day no real transaction has: a placeholder day
        (:data:`PLACEHOLDER_DATES`: 1900-01-01, 1970-01-01, 2099-12-31,
        9999-12-31, ...), or outside ``plausible_dates`` (default: from
        1950-01-01 up to one year after today, UTC). Such dates are typos
        (``2203`` for ``2023``) or sentinels of the exporting system, and one of
        them would move the observation end (or start) by decades and every
        recency and T with it. Default ``"drop"``; ``"keep"`` turns the rule
        off (CLI: ``--implausible-date keep``).
    bad_amount:
        Rows whose amount (or quantity / price) is not a finite number.
        Default ``"drop"``; ``"keep"`` is not allowed.
    returns:
        Cancellations and returns: an invoice number starting with ``"C"`` or
        a negative quantity. Default ``"drop"``: customer-base models count
        purchases, not their reversals.
    non_positive_amount:
        Lines worth zero or less (free samples, adjustments, bad debt
        entries). Default ``"drop"``.
    duplicates:
        Rows identical in every column to an earlier row. Default ``"drop"``.
    after_observation_end:
        Rows dated after ``observation_end`` (when one is given). Default ``"drop"``.
    observation_end:
        Last day of the observation period (inclusive), or ``None`` for no limit.
    plausible_dates:
        ``(first, last)`` days (inclusive) a transaction can have, either
        ``None`` for its default; ``None`` for the default window
        (:data:`PLAUSIBLE_FIRST_DATE` .. today + :data:`PLAUSIBLE_FUTURE_DAYS`).
        Why a fixed window and not one from the file's own dates: it is the
        same for a file, a DataFrame, one Parquet partition of many (the Dask
        engine cleans partitions one by one) and a SQL condition (DuckDB), so
        every engine drops the same rows; and a date inside the window but
        years away from the other dates can be a real old customer.
    """

    missing_customer_id: Action = "drop"
    unparseable_date: Action = "drop"
    implausible_date: Action = "drop"
    bad_amount: Action = "drop"
    returns: Action = "drop"
    non_positive_amount: Action = "drop"
    duplicates: Action = "drop"
    after_observation_end: Action = "drop"
    observation_end: Any = None
    plausible_dates: tuple | None = None

    def __post_init__(self) -> None:
        if self.plausible_dates is not None:
            try:
                first, last = self.plausible_dates
                for day in (first, last):
                    if day is not None and pd.isna(pd.Timestamp(day)):
                        raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"CleaningRules.plausible_dates={self.plausible_dates!r} is not a pair of "
                                 "days (first, last), e.g. ('1990-01-01', '2030-12-31'); None for a default") from None
        for f in fields(self):
            if f.name in _NOT_ACTIONS:
                continue
            value = getattr(self, f.name)
            if value not in _ACTIONS:
                raise ValueError(
                    f"CleaningRules.{f.name}={value!r} is not one of {_ACTIONS}"
                )
            if value == "keep" and f.name in _MUST_DROP:
                raise ValueError(
                    f"CleaningRules.{f.name}='keep' is not possible: such rows cannot "
                    "be used by any model; choose 'drop' or 'error'"
                )

    @property
    def rule_names(self) -> list[str]:
        """The rule names, in the order they run."""
        return [f.name for f in fields(self) if f.name not in _NOT_ACTIONS]

    def plausible_window(self, today: Any = None) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last plausible day (inclusive, midnight) of the ``implausible_date`` rule.

        ``plausible_dates`` where given, else :data:`PLAUSIBLE_FIRST_DATE` and
        ``today`` (default: today's UTC date) + :data:`PLAUSIBLE_FUTURE_DAYS`.
        """
        first, last = self.plausible_dates or (None, None)
        if today is None:
            today = pd.Timestamp.now(tz="UTC").tz_localize(None)
        first = pd.Timestamp(first if first is not None else PLAUSIBLE_FIRST_DATE).normalize()
        last = (pd.Timestamp(last) if last is not None
                else pd.Timestamp(today) + pd.Timedelta(days=PLAUSIBLE_FUTURE_DAYS)).normalize()
        return first, last

    def resolved(self) -> "CleaningRules":
        """The same rules with the plausible window fixed to days (so that every worker uses the same today)."""
        return replace(self, plausible_dates=tuple(str(d.date()) for d in self.plausible_window()))


_NOT_ACTIONS = {"observation_end", "plausible_dates"}
_MUST_DROP = {"missing_customer_id", "unparseable_date", "bad_amount"}

#: Days that exporting systems write for "no date": Excel's day 0 and 1, SQL Server's and .NET's minimum,
#: the Unix epoch, and end-of-time sentinels. A row on one of them is implausible whatever the window.
PLACEHOLDER_DATES = ("0001-01-01", "1753-01-01", "1899-12-30", "1899-12-31", "1900-01-01", "1970-01-01",
                     "2099-12-31", "2999-12-31", "3000-01-01", "9999-12-31")
#: The default first plausible day: before it, dates are typos (1923 for 2023) or system minimums.
PLAUSIBLE_FIRST_DATE = "1950-01-01"
#: Days after today still plausible by default (pre-orders, time zones, end-of-period dates).
PLAUSIBLE_FUTURE_DAYS = 366


def implausible_dates(dates: pd.Series, rules: CleaningRules | None = None) -> pd.Series:
    """Boolean mask of the dates the ``implausible_date`` rule matches (``False`` for missing dates).

    ``dates``: a ``datetime64`` Series (naive). See :class:`CleaningRules`
    for the criterion: a day in :data:`PLACEHOLDER_DATES` or outside
    :meth:`CleaningRules.plausible_window`.
    """
    first, last = (rules or CleaningRules()).plausible_window()
    day = dates.dt.normalize()
    placeholders = np.array(PLACEHOLDER_DATES, dtype="datetime64[D]").astype(dates.dtype)
    out = (day < first) | (day > last) | day.isin(placeholders)
    return out.fillna(False).astype(bool)

_RULE_TEXT = {
    "missing_customer_id": "missing customer id",
    "unparseable_date": "unparseable date",
    "implausible_date": "implausible or placeholder date",
    "bad_amount": "non-numeric or non-finite amount",
    "returns": "returns / cancellations",
    "non_positive_amount": "zero or negative amount",
    "duplicates": "exact duplicate rows",
    "after_observation_end": "dated after the observation end",
}


@dataclass
class RuleResult:
    """What one cleaning rule did: how many rows it matched and one example."""

    rule: str
    action: str
    rows: int
    example: dict | str | None = None

    @property
    def description(self) -> str:
        return _RULE_TEXT.get(self.rule, self.rule)


@dataclass
class Decision:
    """One reading decision about a column, and what it rests on.

    ``column`` is the canonical column (or ``"(workbook)"``), ``topic`` what was
    decided (``"date convention"``, ``"number format"``, ``"sheets"``, ...),
    ``decision`` the outcome, ``evidence`` the value that proves it, or
    ``"ASSUMED: ..."`` when no value could.
    """

    column: str
    topic: str
    decision: str
    evidence: str = ""

    def __str__(self) -> str:
        return f"{self.column}: {self.topic}: {self.decision}" + (f" ({self.evidence})" if self.evidence else "")


@dataclass
class CleaningReport:
    """The outcome of reading and cleaning one source.

    Attributes
    ----------
    source: the file path or ``"<DataFrame>"``.
    layout: the recognised layout (``"canonical"``, ``"online_retail_ii"``, ``"cdnow"``, ...).
    rows_read, rows_kept: row counts before and after cleaning.
    rules: one :class:`RuleResult` per rule, in the order they ran.
    customers: distinct customers kept.
    first_date, last_date: the date range of the kept rows.
    decisions: one :class:`Decision` per thing decided while reading (date
        convention, decimal / thousands marks, time zones, sheets), with its evidence.
    sheets_read, sheets_skipped: for workbooks, the sheets concatenated and the
        ``(sheet, reason)`` pairs left out.
    warnings: library warnings raised while reading (kept here, not printed).
    """

    source: str
    layout: str
    rows_read: int
    rows_kept: int = 0
    rules: list[RuleResult] = field(default_factory=list)
    customers: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    revenue: float = 0.0
    decisions: list[Decision] = field(default_factory=list)
    sheets_read: list[str] = field(default_factory=list)
    sheets_skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: rule, description, action, rows, example (as text)."""
        return pd.DataFrame(
            [
                {
                    "rule": r.rule,
                    "description": r.description,
                    "action": r.action,
                    "rows": r.rows,
                    "example": "" if r.example is None else _format_example(r.example),
                }
                for r in self.rules
            ]
        )

    def to_dict(self) -> dict:
        """A JSON-serialisable summary."""
        return {
            "source": self.source,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "customers": self.customers,
            "first_date": None if self.first_date is None else str(self.first_date.date()),
            "last_date": None if self.last_date is None else str(self.last_date.date()),
            "revenue": round(float(self.revenue), 2),
            "rules": [
                {"rule": r.rule, "action": r.action, "rows": r.rows,
                 "example": None if r.example is None else _format_example(r.example)}
                for r in self.rules
            ],
            "decisions": [{"column": d.column, "topic": d.topic, "decision": d.decision, "evidence": d.evidence}
                          for d in self.decisions],
            "sheets_read": list(self.sheets_read),
            "sheets_skipped": [{"sheet": n, "reason": r} for n, r in self.sheets_skipped],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "CleaningReport":
        """Rebuild a report saved with :meth:`to_dict` (examples come back as text)."""
        ts = lambda v: None if v is None else pd.Timestamp(v)  # noqa: E731
        return cls(
            source=data["source"], layout=data["layout"], rows_read=int(data["rows_read"]),
            rows_kept=int(data["rows_kept"]), customers=int(data["customers"]),
            first_date=ts(data.get("first_date")), last_date=ts(data.get("last_date")),
            revenue=float(data.get("revenue", 0.0)),
            rules=[RuleResult(r["rule"], r["action"], int(r["rows"]), r.get("example")) for r in data["rules"]],
            decisions=[Decision(d["column"], d["topic"], d["decision"], d.get("evidence", ""))
                       for d in data.get("decisions", [])],
            sheets_read=list(data.get("sheets_read", [])),
            sheets_skipped=[(d["sheet"], d["reason"]) for d in data.get("sheets_skipped", [])],
            warnings=list(data.get("warnings", [])),
        )

    @classmethod
    def merged(cls, source: str, layout: str, reports) -> "CleaningReport":
        """One report of several parts read separately (files, chunks, partitions): rows and rule counts
        summed, rules in the order of the first report (the first example kept), decisions and warnings once."""
        reports = [r for r in reports if r is not None]
        out = cls(source=source, layout=layout, rows_read=sum(r.rows_read for r in reports),
                  rows_kept=sum(r.rows_kept for r in reports), revenue=sum(r.revenue for r in reports))
        names = [x.rule for r in reports for x in r.rules]
        for name in dict.fromkeys(names):
            hits = [x for r in reports for x in r.rules if x.rule == name]
            example = next((x.example for x in hits if x.example is not None), None)
            out.rules.append(RuleResult(name, hits[0].action, sum(x.rows for x in hits), example))
        out.decisions = list({str(d): d for r in reports for d in r.decisions}.values())  # each once, first kept
        out.warnings = list(dict.fromkeys(w for r in reports for w in r.warnings))
        firsts = [r.first_date for r in reports if r.first_date is not None]
        lasts = [r.last_date for r in reports if r.last_date is not None]
        out.first_date, out.last_date = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
        return out

    def _rule_line(self, r: RuleResult) -> str:
        verb = {"drop": "dropped", "keep": "kept", "error": "rejected"}[r.action]
        line = f"  {r.description:<36} {r.rows:>9,} rows {verb}"
        if r.example is not None:
            line += f"   e.g. {_format_example(r.example)}"
        return line

    def brief(self) -> str:
        """The facts of :meth:`__str__` a command prints after its result (``segwork score``): rows read and
        kept, each rule that matched rows (with its count and an example), the sheets skipped and every
        ASSUMED reading decision, in the lines ``segwork data validate`` prints them."""
        lines = [f"cleaning: {self.rows_read:,} rows read, {self.rows_kept:,} kept"
                 + ("" if any(r.rows for r in self.rules) else " (no cleaning rule matched a row)")]
        lines.extend(self._rule_line(r) for r in self.rules if r.rows)
        lines.extend(f"  SHEET SKIPPED {sheet!r}: {reason}" for sheet, reason in self.sheets_skipped)
        lines.extend(f"  reading decision: {d}" for d in self.decisions if "ASSUMED" in d.evidence
                     or "ASSUMED" in d.decision)
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = [
            f"source      {self.source} (layout: {self.layout})",
            f"rows read   {self.rows_read:,}",
            f"rows kept   {self.rows_kept:,}",
            f"customers   {self.customers:,}",
        ]
        if self.first_date is not None:
            lines.append(f"date range  {self.first_date.date()} .. {self.last_date.date()}")
        lines.append(f"revenue     {self.revenue:,.2f}")
        if self.sheets_read:
            lines.append(f"sheets read {', '.join(repr(n) for n in self.sheets_read)}")
        for sheet, reason in self.sheets_skipped:
            lines.append(f"SHEET SKIPPED {sheet!r}: {reason}")
        if self.decisions:
            lines.append("reading decisions:")
            lines.extend(f"  {d}" for d in self.decisions)
        for w in self.warnings:
            lines.append(f"warning: {w}")
        lines.append("cleaning rules (in order):")
        lines.extend(self._rule_line(r) for r in self.rules)
        return "\n".join(lines)


def _format_example(row: Mapping | str) -> str:
    if isinstance(row, str):
        return row
    parts = []
    for key, value in row.items():
        if isinstance(value, float) and np.isnan(value):
            value = "NaN"
        elif value is None or value is pd.NaT:
            value = "missing"
        parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------- reading


def read_transactions(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    layout: str = "auto",
    rules: CleaningRules | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    sheet_name: str | int | None = None,
    header_row: int | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Read a transaction source into the canonical table, cleaned and reported.

    Parameters
    ----------
    source:
        Path to a CSV / TSV / TXT, Parquet (``.parquet``, ``.pq``) or Excel
        (``.xlsx``, ``.xls``) file, or a pandas DataFrame.
    columns:
        Mapping from the source's column names to canonical names, e.g.
        ``{"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"}``.
        Applied after any recognised layout.
    layout:
        ``"auto"`` (recognise Online Retail II, Online Retail and CDNOW),
        ``"canonical"`` (use the names as they are), or a key of :data:`LAYOUTS`.
    rules:
        The :class:`CleaningRules`; defaults drop every problem row and report it.
    sep, decimal, encoding:
        CSV dialect. ``None`` detects the delimiter (``, ; tab |``) and the
        encoding (UTF-8, else cp1252). The decimal and thousands marks are
        decided per numeric column from its values (``12,50`` or ``1.234,5``
        prove a decimal comma, ``1.234.567`` a thousands dot); a column with
        only ``1.250``-like values takes the mark the other columns or a ``;``
        delimiter point to, recorded as an assumption in the report.
        ``decimal=`` overrides the evidence.
    date_format, dayfirst:
        How to parse dates. By default each date column gets one form and one
        convention, decided from its values: ISO 8601 (offsets dropped, the
        local wall-clock time as written kept), ``D/M/Y`` or ``M/D/Y`` (a first
        field above 12 proves day-first, a second one month-first; with no
        proof month-first is assumed, day-first for ``DD.MM.YYYY``),
        ``Y/M/D``, ``D-Mon-Y``, ``YYYYMMDD``, Excel serials and datetime cells,
        Unix seconds / milliseconds. ``dayfirst=`` or ``date_format=`` decide instead.
    sheet_name:
        The Excel sheet to read (name or 0-based position). ``None`` reads every
        sheet in the layout of the first usable sheet and concatenates them;
        the other sheets are named in ``report.sheets_skipped``.
    header_row:
        The row number (1-based, as Excel or a text editor shows it, blank
        rows counted) of the column names, for report-style files with title
        lines above the table. ``None``: row 1, or, when row 1 does not name
        the required columns, the first of the first :data:`HEADER_SCAN_ROWS`
        rows that does (recorded as a reading decision). Trailing total rows
        of a workbook (customer id ``Total`` / ``Grand total`` / ``Summe`` ...
        and no date) are dropped and recorded as a reading decision.

    Returns
    -------
    (transactions, report):
        The canonical DataFrame (columns :data:`REQUIRED_COLUMNS` plus any of
        :data:`OPTIONAL_COLUMNS` present, sorted by customer and date, fresh
        ``RangeIndex``) and the :class:`CleaningReport`.

    Raises
    ------
    DataError
        When the source cannot be used at all: missing or empty file,
        unreadable format, duplicate or missing required columns, a date
        column mixing day-first and month-first values or in no known form,
        a number column mixing decimal marks, an amount column with marks of
        more than one currency, customer / invoice ids in scientific notation
        (``1.23457E+11``, Excel's CSV export), title lines above the header
        that no row among the first :data:`HEADER_SCAN_ROWS` resolves (the
        message names ``header_row=``), a bad ``header_row``, a rule set to
        ``"error"`` that matches, or nothing left after cleaning.
        The message names the file, column and value. Library warnings raised
        while reading are collected in ``report.warnings``, not emitted.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tx, report = _read_transactions(source, columns=columns, layout=layout, rules=rules, sep=sep,
                                        decimal=decimal, encoding=encoding, date_format=date_format,
                                        dayfirst=dayfirst, sheet_name=sheet_name, header_row=header_row)
    for w in caught:
        if issubclass(w.category, (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)):
            continue  # about library internals, nothing the user can act on
        text = f"{w.category.__name__}: {_first_line(w.message)}"
        if text not in report.warnings:
            report.warnings.append(text)
    return tx, report


def check_column_map(columns: Mapping[str, str] | None) -> None:
    """Refuse a column mapping whose target is not a column segwork reads (a typo such as ``custmer_id``).

    Checked before any file is read (``read_transactions``, ``segwork data validate`` and ``segwork score``
    share it), naming the known targets and the nearest one: a misspelt target would otherwise surface later as
    "required column 'customer_id' is missing" of a file that has it.
    """
    import difflib

    known = list(dict.fromkeys([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "price",
                                *(v for layout in LAYOUTS.values() for v in layout.values())]))
    for src, dst in (columns or {}).items():
        if str(dst).strip() in known:
            continue
        near = difflib.get_close_matches(str(dst).strip(), known, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise DataError(f"column map {src}={dst} (CLI: --map '{src}={dst}'): {str(dst).strip()!r} is not a column segwork "
                        f"reads; {hint}the targets are {', '.join(known)}")


def _read_transactions(source, *, columns, layout, rules, sep, decimal, encoding, date_format, dayfirst,
                       sheet_name, header_row=None):
    rules = rules or CleaningRules()
    check_column_map(columns)
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = source.copy()
        detected = _detect_layout(list(raw.columns)) if layout == "auto" else layout
    else:
        path = Path(source)
        name = str(path)
        if header_row is not None and (isinstance(header_row, bool) or not isinstance(header_row, (int, np.integer))
                                       or header_row < 1):
            raise DataError(f"{name}: header_row={header_row!r} is not a row number; give the 1-based row "
                            "of the column names (CLI: --header-row N)")
        raw, detected = _read_file(path, layout, sep, decimal, encoding, sheet_name, columns, header_row)
    _check_duplicate_columns(raw.columns, name)
    attrs = dict(raw.attrs)
    raw = _apply_layout(raw, detected, columns, name)
    raw.attrs.update(attrs)
    return clean_transactions(
        raw, rules=rules, source=name, layout=detected, date_format=date_format, dayfirst=dayfirst
    )


def _read_file(path, layout, sep, decimal, encoding, sheet_name, columns=None, header_row=None):
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a transaction file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; it needs a header and at least one transaction")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"{path}: cannot read as Parquet ({_first_line(exc)})") from None
        return raw, (_detect_layout(list(raw.columns)) if layout == "auto" else layout)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raw, detected = _read_workbook(path, layout, sheet_name, columns, header_row)
        if decimal is not None:
            raw.attrs["decimal"] = decimal
        return raw, detected
    return _read_text(path, layout, sep, decimal, encoding, columns, header_row)


def _sheet_fits(cols, layout: str, columns) -> bool:
    """Whether a sheet with these headers gives the required columns under ``layout``."""
    names = {str(c).strip() for c in cols}
    if layout in LAYOUTS:
        names = {LAYOUTS[layout].get(c, c) for c in names}
    names = {(columns or {}).get(c, c) for c in names}
    return {"customer_id", "date"} <= names and ("amount" in names or {"quantity", "price"} <= names)


#: Rows searched for the header when the first row is not one (title lines above a report's table).
HEADER_SCAN_ROWS = 20

#: Labels of a total row in the customer id column ("Total", "Grand total", "Summe", "Gesamt", ...).
_TOTAL_LABEL = re.compile(r"^(?:grand[\s-]*|sub-?)?totals?:?$|^(?:gesamt|zwischen)?summe:?$|^gesamt:?$|^insgesamt:?$"
                          r"|^sum:?$|^total g[ée]n[ée]ral:?$|^totaal:?$|^totale:?$|^totalt:?$", re.IGNORECASE)


def _canonical_names(cols, layout: str, columns) -> dict[str, str]:
    """Source column (stripped text) -> canonical name under ``layout`` and the user's mapping."""
    out = {}
    for c in cols:
        name = str(c).strip()
        canon = LAYOUTS[layout].get(name, name) if layout in LAYOUTS else name
        out[name] = (columns or {}).get(name, (columns or {}).get(canon, canon))
    return out


def _header_cells(values) -> list[str]:
    return [str(v).strip() for v in values if not (v is None or (isinstance(v, float) and np.isnan(v)))
            and str(v).strip()]


def _fits(cells, layout: str, columns) -> bool:
    found = _detect_layout(cells) if layout == "auto" else layout
    return _sheet_fits(cells, found, columns)


def _find_header_row(frame: pd.DataFrame, layout: str, columns) -> int | None:
    """The position in ``frame`` (read with row 1 as header) of the first row among the first
    :data:`HEADER_SCAN_ROWS` rows of the sheet that names the required columns, or ``None``."""
    for i in range(min(HEADER_SCAN_ROWS - 1, len(frame))):
        if _fits(_header_cells(frame.iloc[i].tolist()), layout, columns):
            return i
    return None


def _looks_like_title(cols) -> bool:
    """Row 1 is a title line, not column names: one named cell (or none) and the rest unnamed."""
    named = [c for c in map(str, cols) if c.strip() and not c.startswith("Unnamed:")]
    return len(cols) > 1 and len(named) <= 1


def _reheader(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    """``frame`` with its row ``i`` as the header; labels keep ``label + 2`` = the sheet's row number."""
    names = [str(v).strip() if str(v).strip() and not pd.isna(v) else f"Unnamed: {j}"
             for j, v in enumerate(frame.iloc[i].tolist())]
    out = frame.iloc[i + 1:].copy()
    out.columns = names
    out.index = pd.RangeIndex(i + 1, i + 1 + len(out))
    return out


def _drop_total_rows(frame: pd.DataFrame, layout: str, columns, where: str, decisions: list) -> pd.DataFrame:
    """Drop the rows at the end of a table whose customer id cell is a total label and whose date is empty.

    A report-style sheet ends in ``Total | | 100``: not a customer, and
    read as a sale it would count the period's revenue twice. Only trailing rows (empty rows
    between them allowed) are dropped, and each drop is a reading decision.
    """
    canon = _canonical_names(frame.columns, layout, columns)
    ids = [c for c in frame.columns if canon.get(str(c).strip()) == "customer_id"]
    dates = [c for c in frame.columns if canon.get(str(c).strip()) == "date"]
    if len(ids) != 1 or len(dates) != 1 or frame.empty:
        return frame
    empty = frame.isna().all(axis=1).to_numpy()
    label = frame[ids[0]].map(lambda v: isinstance(v, str) and bool(_TOTAL_LABEL.match(v.strip()))).to_numpy()
    no_date = frame[dates[0]].map(lambda v: v is None or pd.isna(v) or (isinstance(v, str) and not v.strip()))
    total = label & no_date.to_numpy()
    drop = []
    for k in range(len(frame) - 1, -1, -1):
        if total[k]:
            drop.append(k)
        elif not empty[k]:
            break
    if not drop:
        return frame
    first = frame.iloc[min(drop)]
    example = ", ".join(f"{c}={_py(v)}" for c, v in first.items() if not pd.isna(v))
    decisions.append(Decision("customer_id", "total rows", f"dropped {len(drop)} total row(s) at the end{where}",
                              f"row {_row_number(frame.index[min(drop)], layout)}: {example}; no customer, no date"))
    return frame.drop(index=frame.index[drop])


def _read_workbook(path: Path, layout: str, sheet_name, columns, header_row=None):
    """One sheet when ``sheet_name`` is given; else every sheet in the first usable sheet's layout."""
    header = header_row or 1
    try:
        if sheet_name is not None:
            with pd.ExcelFile(path) as book:
                names = [str(n) for n in book.sheet_names]
                if str(sheet_name) in names:  # a sheet named '2010' is meant by --sheet 2010
                    sheet_name = str(sheet_name)
                elif not (isinstance(sheet_name, int) and 0 <= sheet_name < len(names)):
                    raise DataError(f"{path}: no sheet {sheet_name!r}; the sheets are "
                                    f"{', '.join(map(repr, names))}; pass --sheet NAME or a 0-based number")
                raw = pd.read_excel(book, sheet_name=sheet_name, dtype=object, header=header - 1)
            sheet = names[sheet_name] if isinstance(sheet_name, int) else sheet_name
            decisions: list[Decision] = []
            raw = _header_of(raw, layout, columns, header_row, f" of sheet {sheet!r}", decisions)
            detected = _detect_layout(list(raw.columns)) if layout == "auto" else layout
            raw = _drop_total_rows(raw, detected, columns, f" of sheet {sheet!r}", decisions)
            if header_row is None and not _fits(list(raw.columns), layout, columns) and \
                    _looks_like_title(list(raw.columns)):
                raw.attrs["header_hint"] = _header_hint(raw.columns[0], f"sheet {sheet!r}")
            raw.attrs["sheets_read"] = [sheet]
            raw.attrs["read_decisions"] = decisions
            return raw, detected
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, header=header - 1)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read as Excel ({_first_line(exc)})") from None
    decisions = []
    chosen, skipped, ref_layout, ref_cols = [], [], None, None
    for name, frame in list(sheets.items()):
        frame = sheets[name] = _header_of(frame, layout, columns, header_row, f" of sheet {str(name)!r}",
                                          decisions)
        cols = [str(c).strip() for c in frame.columns]
        found = _detect_layout(cols) if layout == "auto" else layout
        if frame.dropna(how="all").empty:
            skipped.append((str(name), "empty"))
        elif not _sheet_fits(cols, found, columns):
            skipped.append((str(name), f"not a transaction layout (columns: {', '.join(cols[:8])})"))
        elif ref_layout is None:
            chosen, ref_layout, ref_cols = [name], found, set(cols)
        elif found != ref_layout or (found == "canonical" and set(cols) != ref_cols):
            skipped.append((str(name), f"another layout ({found}) than sheet {chosen[0]!r} ({ref_layout})"))
        else:
            chosen.append(name)
    if not chosen:  # nothing usable: read the first sheet so the column error names its columns
        name = next(iter(sheets))
        raw = sheets[name]
        skipped = [s for s in skipped if s[0] != str(name)]
        chosen, ref_layout = [name], (_detect_layout(list(raw.columns)) if layout == "auto" else layout)
        if header_row is None and _looks_like_title(list(raw.columns)):
            raw.attrs["header_hint"] = _header_hint(raw.columns[0], f"sheet {str(name)!r}")
    else:
        for n in chosen:
            sheets[n] = _drop_total_rows(sheets[n], ref_layout, columns, f" of sheet {str(n)!r}", decisions)
        if len(chosen) == 1:
            raw = sheets[chosen[0]]
        else:
            raw = pd.concat({str(n): sheets[n].rename(columns=lambda c: str(c).strip()) for n in chosen},
                            names=["sheet", None])
    raw.attrs["sheets_read"] = [str(n) for n in chosen]
    raw.attrs["sheets_skipped"] = skipped
    raw.attrs["read_decisions"] = [d for d in decisions if any(f"sheet {str(n)!r}" in d.decision for n in chosen)]
    return raw, ref_layout


def _header_hint(first_cell, where: str) -> str:
    return (f"row 1 of {where} looks like a title ({str(first_cell)[:60]!r}), not the column names, and no row "
            f"among the first {HEADER_SCAN_ROWS} names the required columns: give the header's row number, "
            "header_row=N (CLI: --header-row N, the row number as Excel or a text editor shows it)")


def _header_of(frame: pd.DataFrame, layout: str, columns, header_row, where: str, decisions: list) -> pd.DataFrame:
    """``frame`` (read with row ``header_row`` or 1 as the header) with the header row found when row 1 is not it."""
    column = "(workbook)" if where.startswith(" of sheet") else "(file)"
    if header_row is not None:
        decisions.append(Decision(column, "header row", f"row {header_row}{where}", "given by header_row="))
        if header_row > 1:
            frame.index = pd.RangeIndex(header_row - 1, header_row - 1 + len(frame))
        return frame
    if _fits([str(c).strip() for c in frame.columns], layout, columns):
        return frame
    i = _find_header_row(frame, layout, columns)
    if i is None:
        return frame
    above = [str(c) for c in frame.columns if not str(c).startswith("Unnamed:")]
    above += [" ".join(_header_cells(frame.iloc[k].tolist())) for k in range(i)]
    above = [a for a in above if a]
    decisions.append(Decision(
        column, "header row", f"row {i + 2}{where}: the first row that names the required columns",
        f"{i + 1} row(s) above it{': ' + '; '.join(repr(a[:40]) for a in above[:3]) if above else ''}; "
        "pass header_row= (CLI: --header-row) if another row is the header"))
    return _reheader(frame, i)


_CDNOW_LINE = re.compile(r"^\s*\d+\s+(\d+\s+)?\d{8}\s+\d+\s+[\d.]+\s*$")


#: Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(path: str | Path) -> str | None:
    """The encoding a text file's byte-order mark declares, or ``None`` when it has none.

    Returns a Python codec name: ``"utf-32"``, ``"utf-16"`` (Excel's "Unicode
    Text" export: UTF-16 LE with a BOM) or ``"utf-8-sig"``. Reads 4 bytes.
    The out-of-core engines use it to transcode UTF-16/32 files, which DuckDB's
    CSV reader does not read, through :func:`utf8_copy`.
    """
    with Path(path).open("rb") as fh:
        head = fh.read(4)
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


_BOM_NAMES = ((codecs.BOM_UTF32_LE, "UTF-32 LE", ("utf-32", "utf-32-le")),
              (codecs.BOM_UTF32_BE, "UTF-32 BE", ("utf-32", "utf-32-be")),
              (codecs.BOM_UTF8, "UTF-8", ("utf-8", "utf-8-sig")),
              (codecs.BOM_UTF16_LE, "UTF-16 LE", ("utf-16", "utf-16-le")),
              (codecs.BOM_UTF16_BE, "UTF-16 BE", ("utf-16", "utf-16-be")))


def check_encoding_against_bom(path: str | Path, encoding: str | None, head: bytes | None = None) -> None:
    """Raise :class:`DataError` when a given ``encoding`` contradicts the file's byte-order mark.

    A forced encoding overrides the mark, so ``encoding='latin-1'`` on Excel's
    "Unicode Text" (FF FE ...) reads NUL bytes everywhere; the message says
    which mark the file has and that the given encoding disagrees.
    """
    if not encoding:
        return
    if head is None:
        with Path(path).open("rb") as fh:
            head = fh.read(4)
    try:
        given = codecs.lookup(encoding).name
    except LookupError:
        return  # said elsewhere: unknown encoding
    for bom, label, agree in _BOM_NAMES:
        if head.startswith(bom):
            if given not in agree:
                raise DataError(f"{path}: the file starts with a {label} byte-order mark, but the given encoding "
                                f"{encoding!r} (--encoding {encoding}) disagrees; leave the encoding out (the mark "
                                f"decides it) or give {agree[0]}")
            return


def is_wide_encoding(encoding: str | None) -> bool:
    """True for UTF-16 / UTF-32 (any byte order): text with NUL bytes that DuckDB's CSV reader cannot read."""
    if not encoding:
        return False
    try:
        return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def utf8_copy(path: str | Path, folder: str | Path, encoding: str) -> Path:
    """Transcode the text file ``path`` from ``encoding`` into a UTF-8 file in ``folder``; returns its path.

    The same text, streamed in 1 MiB pieces (the input is only read). Used
    where a reader takes UTF-8 only (DuckDB) and the file is UTF-16/32.
    Raises :class:`DataError` naming the file when it is not valid ``encoding``.
    """
    path = Path(path)
    check_encoding_against_bom(path, encoding)
    target = Path(folder) / f"{len(list(Path(folder).iterdir()))}-{path.stem}.utf8{path.suffix}"
    try:
        with path.open("r", encoding=encoding, newline="") as src, target.open("w", encoding="utf-8",
                                                                                  newline="") as dst:
            while piece := src.read(1 << 20):
                dst.write(piece)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not valid {encoding} text ({_first_line(exc)}); save it as UTF-8 CSV") from None
    return target


def text_dialect(path: str | Path, *, encoding: str | None = None, sep: str | None = None,
                 columns: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    """``(encoding, sep, skip)`` of a CSV transaction file, decided as :func:`read_transactions` decides them.

    ``encoding``: a Python codec name, from the byte-order mark, else UTF-8,
    else cp1252; ``sep``: the delimiter sniffed among ``, ; tab |``; ``skip``:
    the number of lines (blank ones counted) above the header, 0 unless title
    lines stand above it (see ``header_row`` of :func:`read_transactions`).
    Given values are kept. Raises :class:`DataError` as ``read_transactions``
    does for a binary or empty file.
    """
    path = Path(path)
    encoding, lines, numbers = _text_lines(path, encoding, whole_file=False)
    sep, skip, _header, _decision = _csv_header(path, lines, numbers, sep, "auto", columns, None)
    return encoding, sep, skip


def _read_text(path, layout, sep, decimal, encoding, columns=None, header_row=None):
    given_encoding = encoding
    encoding, lines, numbers = _text_lines(path, encoding)
    return _read_text_lines(path, lines, numbers, layout, sep, decimal, encoding, columns, header_row,
                            given_encoding=given_encoding)


def _cells(line: str, sep: str) -> list[str]:
    """The cells of one text line: CSV quoting for a one-character delimiter, a regex split for ``\\s+``."""
    if len(sep) == 1:
        return next(csv.reader([line], delimiter=sep), [])
    return re.split(sep, line.strip())


def _csv_header(path: Path, lines: list[str], numbers: list[int], sep, layout, columns, header_row):
    """``(sep, lines to skip, header cells, decision or None)``: the header on line 1, the given line, or the
    first of the first :data:`HEADER_SCAN_ROWS` lines that names the required columns (title lines above)."""
    given = sep
    if header_row is not None:
        k = next((i for i, n in enumerate(numbers) if n >= header_row - 1), None)
        if k is None:
            raise DataError(f"{path}: header_row={header_row} is beyond the lines read (the file's first "
                            f"{numbers[-1] + 1} lines); give the row of the column names")
        sep = given or _sniff_sep(lines[k:], path)
        return sep, header_row - 1, _cells(lines[k], sep), Decision(
            "(file)", "header row", f"line {header_row}", "given by header_row=")
    sep = given or _sniff_sep(lines, path)
    header = _cells(lines[0], sep)
    if _fits(header, layout, columns):
        return sep, 0, header, None
    for k in range(1, min(HEADER_SCAN_ROWS, len(lines))):
        try:
            sep_k = given or _sniff_sep(lines[k:], path)
        except DataError:
            continue
        cells = _cells(lines[k], sep_k)
        if _fits([c.strip() for c in cells], layout, columns):
            above = "; ".join(repr(ln.strip()[:40]) for ln in lines[:min(k, 3)])
            return sep_k, numbers[k], cells, Decision(
                "(file)", "header row", f"line {numbers[k] + 1}: the first line that names the required columns",
                f"{numbers[k]} line(s) above it: {above}; pass header_row= (CLI: --header-row) if another line "
                "is the header")
    return sep, 0, header, None


def _text_lines(path: Path, encoding: str | None, whole_file: bool = True) -> tuple[str, list[str], list[int]]:
    """The file's encoding, its first non-blank lines (from the first 64 KiB) and their 0-based line numbers.

    Without a byte-order mark or a given encoding, UTF-8 is checked on the whole file, or on the 64 KiB only
    when not ``whole_file`` (a quick look at many files, e.g. for DuckDB's ``skip``).
    """
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    # The encoding is decided before the binary check: UTF-16/32 text is full of NUL bytes.
    bom = next((name for b, name in _BOMS if head.startswith(b)), None)
    if encoding is None:
        encoding = bom
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"{path}: unknown encoding {encoding!r}; give a Python codec name such as "
                            "'utf-8', 'cp1252' or 'utf-16'") from None
        check_encoding_against_bom(path, encoding, head)
    if b"\x00" in head and not is_wide_encoding(encoding):
        raise DataError(
            f"{path}: looks like a binary file, not CSV text (NUL bytes, no UTF-16/32 byte-order mark); "
            "save it as CSV, Parquet or Excel, or if it is UTF-16 text without a byte-order mark pass "
            "encoding='utf-16-le' (CLI: --encoding utf-16-le)"
        )
    if encoding is None and not whole_file:
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            encoding = "utf-8" if exc.start >= len(head) - 3 else "cp1252"  # a character cut at 64 KiB
    if encoding is None:
        encoding = _detect_encoding(path, head)
    if is_wide_encoding(encoding) and len(head) % 4:
        head = head[: len(head) - len(head) % 4]  # whole code units only
    text = head.decode(encoding, errors="replace")
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines()) if ln.strip()]
    if not numbered:
        raise DataError(f"{path}: the file has no text lines")
    return encoding, [ln for _, ln in numbered], [n for n, _ in numbered]


def _read_text_lines(path, lines, numbers, layout, sep, decimal, encoding, columns=None, header_row=None, *,
                     given_encoding=None):
    """A text file's raw frame and layout, from its first lines (see :func:`_text_lines`)."""
    # CDNOW: whitespace separated, with (master) or without (sample) a header.
    if layout in ("auto", "cdnow") and sep is None and header_row is None:
        body = lines[1:] if not _CDNOW_LINE.match(lines[0]) else lines
        if body and all(_CDNOW_LINE.match(ln) for ln in body[:50]):
            names = (
                ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
                if len(body[0].split()) == 5
                else ["customer_id", "date", "number_of_cds", "dollar_value"]
            )
            raw = pd.read_csv(
                path, sep=r"\s+", header=None, names=names, dtype=str,
                skiprows=0 if body is lines else 1, encoding=encoding,
            )
            return raw.drop(columns=["sample_id"], errors="ignore"), "cdnow"

    given_sep, title_hint = sep, None
    sep, skip, header, decision = _csv_header(path, lines, numbers, sep, layout, columns, header_row)
    _check_duplicate_columns(header, str(path))
    if decision is None and not _fits([c.strip() for c in header], layout, columns):
        try:  # the delimiter of the lines below line 1 (a title line can mislead the sniffer)
            body_sep = sep if given_sep is not None else _sniff_sep(lines[1:HEADER_SCAN_ROWS], path)
        except (DataError, IndexError):
            body_sep = sep
        widths = [len(_cells(ln, body_sep)) for ln in lines[1:HEADER_SCAN_ROWS]]
        named = [c.strip() for c in _cells(lines[0], body_sep) if c.strip()]
        # a title: one cell above a table of several; but a line 1 that another separator splits like every line
        # below it ('Kunde;Datum;Betrag' above 'K1;2024-01-05;1,50', sniffed as ',') is column names, not a title
        body = [ln for ln in lines[1:HEADER_SCAN_ROWS] if ln.strip()]
        no_other_table = not any(
            len(_cells(lines[0], other)) >= 2 and all(len(_cells(ln, other)) == len(_cells(lines[0], other))
                                                     for ln in body)
            for other in (";", ",", "\t", "|") if other != body_sep)
        if widths and no_other_table and len(named) <= 1 < max(widths):
            raise DataError(f"{path}: {_header_hint(lines[0].strip(), 'the file')}; or map the columns with "
                            "columns= (CLI: --map)")
        found = _detect_layout(named) if layout == "auto" else layout
        known = set(_canonical_names(named, found, columns).values()) & {*REQUIRED_COLUMNS, "quantity", "price"}
        if widths and no_other_table and not known and len(named) < max(widths):  # fewer cells, none a known name
            title_hint = _header_hint(lines[0].strip(), "the file")
    try:
        raw = pd.read_csv(
            path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
            na_values=["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"],
            skipinitialspace=True, skiprows=skip or None, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        title = decision is None and not _fits([c.strip() for c in header], layout, columns)
        raise DataError(f"{path}: cannot read as CSV with sep={sep!r} ({_first_line(exc)}); "
                        "pass sep=/encoding= explicitly"
                        + ("; if title lines stand above the column names, give the header's line number, "
                           "header_row=N (CLI: --header-row N)" if title else "")) from None
    if skip:
        raw.index = pd.RangeIndex(skip, skip + len(raw))  # labels + 2 stay the file's line numbers (no blanks)
    if title_hint:
        raw.attrs["header_hint"] = title_hint
    decisions = [decision] if decision is not None else []
    if encoding not in ("utf-8", "utf-8-sig", "cp1252") or is_wide_encoding(encoding):
        with path.open("rb") as fh:
            head = fh.read(4)  # read once: the marks are compared with the same first bytes
        mark = next((b for b, _ in _BOMS if head.startswith(b)), b"")
        decisions.insert(0, Decision("(file)", "encoding", codecs.lookup(encoding).name.upper(),
                                     "given by encoding= / --encoding" if given_encoding is not None
                                     else f"detected from its byte-order mark {mark.hex(' ').upper()}" if mark
                                     else "detected from the bytes"))
    raw.attrs["read_decisions"] = decisions
    if raw.empty:
        raise DataError(f"{path}: has a header but no transaction rows")
    detected = _detect_layout(list(raw.columns)) if layout == "auto" else layout
    if decimal is not None:
        raw.attrs["decimal"] = decimal
    raw.attrs["sep"] = sep
    return raw, detected


def _detect_encoding(path: Path, head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        with path.open("r", encoding="utf-8") as fh:
            while fh.read(1 << 20):
                pass
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _sniff_sep(lines: list[str], path: Path) -> str:
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            if len(lines) and len(lines[0].split()) > 1:
                return r"\s+"
            raise DataError(
                f"{path}: cannot find a column delimiter in the header {lines[0][:80]!r}; "
                "pass sep= (',' ';' tab '|')"
            ) from None
        return best


def _detect_layout(cols: list) -> str:
    names = {str(c) for c in cols}
    for key in ("online_retail_ii", "online_retail"):
        required = set(LAYOUTS[key]) - {"Description", "Country"}
        if required <= names:
            return key
    if {"number_of_cds", "dollar_value"} <= names:
        return "cdnow"
    return "canonical"


def _check_duplicate_columns(cols, name: str) -> None:
    seen, dupes = set(), []
    for c in cols:
        key = str(c).strip()
        if key in seen:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise DataError(
            f"{name}: duplicate column name {dupes[0]!r}; each column must have a unique name "
            "(rename one in the file or pass columns=)"
        )


def _apply_layout(raw: pd.DataFrame, layout: str, columns, name: str) -> pd.DataFrame:
    if layout not in ("canonical", *LAYOUTS):
        raise DataError(f"{name}: unknown layout {layout!r}; use 'auto', 'canonical' or one of {sorted(LAYOUTS)}")
    raw = raw.rename(columns=lambda c: str(c).strip())
    if layout in LAYOUTS:
        raw = raw.rename(columns=LAYOUTS[layout])
    if columns:
        missing = [src for src in columns if src not in raw.columns]
        if missing:
            raise DataError(
                f"{name}: column mapping names column {missing[0]!r}, which is not in the file "
                f"(columns: {', '.join(map(str, raw.columns))})"
            )
        raw = raw.rename(columns=dict(columns))
    _check_duplicate_columns(raw.columns, name)
    if "amount" not in raw.columns and {"quantity", "price"} <= set(raw.columns):
        raw.attrs["amount_from"] = "quantity * price"
    for col in REQUIRED_COLUMNS:
        if col == "amount" and raw.attrs.get("amount_from"):
            continue
        if col not in raw.columns:
            raise DataError(
                f"{name}: required column {col!r} is missing (columns: "
                f"{', '.join(map(str, raw.columns))}); rename it in the file or map it, e.g. "
                f"columns={{'<your column>': {col!r}}} (CLI: --map '<your column>={col}')"
                + (f"; but {raw.attrs['header_hint']}" if raw.attrs.get("header_hint") else "")
            )
    return raw


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- cleaning


def _decimal_hint(raw: pd.DataFrame, numeric: list[str], sep: str | None) -> tuple[str, str] | None:
    """The decimal mark the file's other evidence points to, for columns that prove none, and why.

    A mark proven by the number columns (all agreeing) wins; else a ``;``
    delimiter points to the decimal comma; else ``None`` (no evidence).
    """
    proven = {}
    for col in numeric:
        values = raw[col]
        if pd.api.types.is_numeric_dtype(values):
            continue
        uniques = pd.Series(pd.unique(values.dropna()), dtype=object).astype(str)
        mark = _Marks(_normalise_number_text(uniques)[0]).proven_decimal()
        if mark:
            proven.setdefault(mark, col)
    if len(proven) == 1:
        mark, col = proven.popitem()
        return mark, f"column {col!r} proves this decimal mark"
    return (",", "the ';' delimiter points to a decimal comma") if sep == ";" else None


#: An id that Excel wrote in scientific notation ("1.23457E+11"): the digits after the sixth are lost.
SCIENTIFIC_ID = r"[+-]?\d(?:[.,]\d+)?[eE][+-]\d{1,3}"


def scientific_id_error(source: str, column: str, value: str, rows: int) -> DataError:
    """The one-line refusal of an id column that holds ids in scientific notation (shared by every engine)."""
    return DataError(
        f"{source}: column {column!r} holds ids in scientific notation, e.g. {value!r} ({rows:,} row(s)): "
        "Excel writes long numbers that way when it saves a CSV, which loses digits, so different customers "
        "would merge into one; export the ids as text (format the id column as Text before saving, or open the "
        "file with Data > From Text/CSV and set the column to Text) and read the new file"
    )


def _check_ids_written_out(values: pd.Series, column: str, source: str) -> None:
    """Refuse text ids in scientific notation: ``1.23457E+11`` stands for many ids, ``1.23E+05`` for 123000."""
    if pd.api.types.is_numeric_dtype(values):
        return
    text = values.dropna()
    text = text[text.map(lambda v: isinstance(v, str))].str.strip()
    sci = text[text.str.fullmatch(SCIENTIFIC_ID)]
    if len(sci):
        raise scientific_id_error(source, column, sci.iloc[0], len(sci))


def _to_id(values: pd.Series) -> pd.Series:
    """Customer / invoice ids as strings; ``13085.0`` from spreadsheets becomes ``13085``."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            out = values.astype("Int64").astype("string")
            return out
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def clean_transactions(
    raw: pd.DataFrame,
    *,
    rules: CleaningRules | None = None,
    source: str = "<DataFrame>",
    layout: str = "canonical",
    date_format: str | None = None,
    dayfirst: bool | None = None,
    allow_empty: bool = False,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the cleaning rules to a frame that already has canonical column names.

    ``raw`` needs ``customer_id``, ``date`` and either ``amount`` or both
    ``quantity`` and ``price``. See :func:`read_transactions` for the output,
    how dates and numbers are decided and the errors raised. ``allow_empty``
    returns an empty table instead of raising when no row is left (one
    partition of many, as the Dask engine cleans them).
    """
    rules = rules or CleaningRules()
    decimal = raw.attrs.get("decimal")
    report = CleaningReport(source=source, layout=layout, rows_read=len(raw),
                            sheets_read=list(raw.attrs.get("sheets_read", [])),
                            sheets_skipped=list(raw.attrs.get("sheets_skipped", [])))
    if len(report.sheets_read) > 1 or report.sheets_skipped:
        report.decisions.append(Decision(
            "(workbook)", "sheets", f"read {len(report.sheets_read)}: {', '.join(map(repr, report.sheets_read))}",
            "skipped " + "; ".join(f"{n!r} ({r})" for n, r in report.sheets_skipped) if report.sheets_skipped
            else "all sheets share the layout"))
    report.decisions.extend(raw.attrs.get("read_decisions", []))
    if raw.empty:
        raise DataError(f"{source}: no transaction rows to read")

    df = pd.DataFrame(index=raw.index)
    for col in ("customer_id", "invoice_id"):
        if col in raw.columns:
            _check_ids_written_out(raw[col], col, source)
    df["customer_id"] = _to_id(raw["customer_id"])
    fmt = date_format or ("%Y%m%d" if layout == "cdnow" else None)
    df["date"] = _parse_dates(raw["date"], fmt, dayfirst, column="date", source=source,
                              decisions=report.decisions)
    if fmt and not date_format:
        for d in report.decisions:
            if d.topic == "date format":
                d.evidence = f"the {layout} layout"
    numeric = [c for c in ("quantity", "price", "amount") if c in raw.columns]
    hint = None if decimal else (lambda: _decimal_hint(raw, numeric, raw.attrs.get("sep")))  # only when needed
    for col in numeric:
        df[col] = _to_number(raw[col], decimal, column=col, source=source, hint=hint,
                             decisions=report.decisions)
    if "amount" not in raw.columns:
        df["amount"] = df["quantity"] * df["price"]
    for col in ("product", "category", "channel", "invoice_id"):
        if col in raw.columns:
            df[col] = _to_id(raw[col]) if col == "invoice_id" else raw[col].astype("string").str.strip()

    def apply(rule: str, mask: pd.Series, example_cols=None) -> None:
        nonlocal df
        action = getattr(rules, rule)
        n = int(mask.sum())
        example = None
        if n:
            i = mask.to_numpy().nonzero()[0][0]
            label = df.index[i]
            cols = [c for c in raw.columns if c in df.columns or c not in ("",)]
            example = {str(c): _py(raw.at[label, c]) for c in cols[:8]}
        report.rules.append(RuleResult(rule, action, n, example))
        if n and action == "error":
            col = example_cols or "row"
            raise DataError(
                f"{source}: {n:,} row(s) with {_RULE_TEXT[rule]} (column {col}), first at row "
                f"{_row_number(label, layout)}: {_format_example(example)}; fix the file or set "
                f"CleaningRules({rule}='drop')"
            )
        if n and action == "drop":
            df = df[~mask]

    apply("missing_customer_id", df["customer_id"].isna(), "customer_id")
    apply("unparseable_date", df["date"].isna(), "date")
    apply("implausible_date", implausible_dates(df["date"], rules), "date")
    bad = ~np.isfinite(df["amount"].to_numpy(dtype="float64", na_value=np.nan))
    apply("bad_amount", pd.Series(bad, index=df.index), "amount")
    returns = pd.Series(False, index=df.index)
    if "invoice_id" in df.columns:
        returns |= df["invoice_id"].str.upper().str.startswith("C").fillna(False).astype(bool)
    if "quantity" in df.columns:
        returns |= (df["quantity"] < 0).fillna(False)
    apply("returns", returns, "invoice_id/quantity")
    apply("non_positive_amount", df["amount"] <= 0, "amount")
    apply("duplicates", df.duplicated(keep="first"), "all columns")
    if rules.observation_end is not None:
        end = pd.Timestamp(rules.observation_end)
        apply("after_observation_end", df["date"] > end + pd.Timedelta(days=1) - pd.Timedelta(1), "date")
    else:
        report.rules.append(RuleResult("after_observation_end", rules.after_observation_end, 0, None))

    keep = ["customer_id", "date", "amount"] + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    out = df[keep].sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)
    if out.empty and not allow_empty:
        raise DataError(
            f"{source}: no rows left after cleaning ({report.rows_read:,} read); "
            + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
            + ". Check the column mapping and the cleaning rules"
        )
    out["customer_id"] = out["customer_id"].astype(str)
    report.rows_kept = len(out)
    report.customers = int(out["customer_id"].nunique())
    report.first_date = out["date"].min()
    report.last_date = out["date"].max()
    report.revenue = float(out["amount"].sum())
    return out, report


# --------------------------------------------------------------------------- dates
#
# Dates are decided per column, on the column's unique values, and then parsed
# vectorised by pandas with an explicit format per form: ISO 8601 (with or
# without time, ``T``, ``Z``, fractions, offsets), ``D/M/Y`` or ``M/D/Y`` with
# ``/ . -`` and two- or four-digit years, ``Y/M/D``, ``D-Mon-Y``, ``YYYYMMDD``
# numbers, Excel serial day numbers, Unix epoch seconds or milliseconds and true
# datetime cells. Whatever is decided is recorded in the cleaning report.

_OFFSET = re.compile(r"(:\d{2}(?:[.,]\d+)?)\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})$")
_TIME = r"(?:(?P<tsep>[ T]+)(?P<t>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AaPp][Mm])?))?"
_NUMERIC_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<s>[/.\-])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})" + _TIME + "$")
_YMD = re.compile(r"^(?P<y>\d{4})(?P<s>[/.])(?P<a>\d{1,2})(?P=s)(?P<b>\d{1,2})" + _TIME + "$")
_MONTH_FIRST_NAME = re.compile(r"^(?P<b>[A-Za-z]{3,9}) (?P<a>\d{1,2})(?P<s>,?) (?P<y>\d{4})" + _TIME + "$")
_MONTH_NAME = re.compile(r"^(?P<a>\d{1,2})(?P<s>[ \-./])(?P<b>[A-Za-z]{3,9})(?P=s)(?P<y>\d{4}|\d{2})" + _TIME + "$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")

#: numeric date forms: name -> (lowest, highest) value, inclusive
_NUMERIC_FORMS = {
    "YYYYMMDD integers": (1900_01_01, 2100_12_31),
    "Excel serial day numbers (1900 date system)": (10_000, 100_000),  # 1927-05-18 .. 2173-10-14
    "Unix time in seconds (UTC)": (1e8, 1e10),  # 1973 .. 2286
    "Unix time in milliseconds (UTC)": (1e11, 1e13),
}


def _time_format(t: str, tsep: str) -> str:
    """strftime format of one time part, e.g. ``'14:15:00.5'`` -> ``' %H:%M:%S.%f'``."""
    if not t:
        return ""
    ampm = re.search(r"\s?[AaPp][Mm]$", t)
    core = t[: ampm.start()] if ampm else t
    fmt = "%H:%M" if core.count(":") == 1 else "%H:%M:%S"
    frac = re.search(r"([.,])\d+$", core)
    if frac:
        fmt += frac.group(1) + "%f"
    if ampm:
        fmt = fmt.replace("%H", "%I") + (" %p" if ampm.group(0).startswith(" ") else "%p")
    return (tsep if tsep.strip() else " ") + fmt


def _parse_by_groups(parts: pd.DataFrame, date_fmt) -> pd.Series:
    """Parse ``parts['text']`` with one explicit format per (date form, time form) group."""
    tsep = parts["tsep"].fillna("")
    tkey = parts["t"].fillna("").str.replace(r"\d", "9", regex=True)
    key = parts["s"] + "|" + parts["y"].str.len().astype(str) + "|" + tsep + "|" + tkey
    if "b" in parts and parts["b"].dtype == object:
        key = key + "|" + parts["b"].str.len().astype(str).where(parts["b"].str.isalpha(), "")
    out = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[us]")
    for k, idx in key.groupby(key).groups.items():
        first = parts.loc[idx[0]]
        fmt = date_fmt(first) + _time_format(first["t"] if isinstance(first["t"], str) else "",
                                             first["tsep"] if isinstance(first["tsep"], str) else "")
        out.loc[idx] = pd.to_datetime(parts.loc[idx, "text"], format=fmt, errors="coerce").astype("datetime64[us]")
    return out


def _parse_date_strings(u: pd.Series, dayfirst: bool | None, column: str, source: str,
                        decisions: list) -> pd.Series:
    """Parse unique date strings (no missing values); returns datetime64 aligned with ``u``."""
    def drop_offsets(text: pd.Series) -> pd.Series:
        offsets = text.str.extract(_OFFSET)[1]
        if offsets.notna().any():
            seen = sorted(offsets.dropna().unique())
            decisions.append(Decision(column, "time zone", "UTC offsets dropped after parsing: the local "
                                      "calendar day and wall-clock time as written are kept",
                                      f"offsets {', '.join(seen[:4])}{' ...' if len(seen) > 4 else ''}"))
            text = text.str.replace(_OFFSET, r"\1", regex=True)
        return text

    u = u.str.strip()
    try:  # the common case, ISO 8601 in one time zone or none, in one vectorised pass
        iso = pd.to_datetime(u, format="ISO8601", errors="coerce")
    except ValueError:  # offsets that change (daylight-saving time, several zones)
        u = drop_offsets(u)
        iso = pd.to_datetime(u, format="ISO8601", errors="coerce")
    out = pd.Series(iso.to_numpy(), index=u.index) if getattr(iso.dt, "tz", None) is None else None
    if out is None:  # one offset throughout: keep the wall-clock time as written
        u = drop_offsets(u)
        out = pd.Series(pd.to_datetime(u, format="ISO8601", errors="coerce").to_numpy(), index=u.index)
    out = out.astype("datetime64[us]")
    rest = u[out.isna()]
    if rest.empty:
        return out
    stripped = drop_offsets(rest)
    if not stripped.equals(rest):  # e.g. '2014-03-08 10:00:00 UTC', '08/03/2014 10:00 +0100'
        u = u.copy()
        u[stripped.index] = stripped
        out[stripped.index] = pd.to_datetime(stripped, format="ISO8601", errors="coerce").astype("datetime64[us]")
        rest = u[out.isna()]
        if rest.empty:
            return out

    numeric = rest.str.extract(_NUMERIC_DMY)
    numeric["text"] = rest
    numeric = numeric[numeric["a"].notna()]
    if not numeric.empty:
        a, b = numeric["a"].astype(int), numeric["b"].astype(int)
        day_proof, month_proof = numeric["text"][(a > 12) & (b <= 12)], numeric["text"][(b > 12) & (a <= 12)]
        if dayfirst is None:
            if len(day_proof) and len(month_proof):
                raise DataError(
                    f"{source}: column {column!r} mixes day-first and month-first dates: "
                    f"{day_proof.iloc[0]!r} can only be day-first, {month_proof.iloc[0]!r} only month-first; "
                    "fix the file, or pass the convention with date_format= / dayfirst= "
                    "(CLI: --date-format '%d/%m/%Y' or --dayfirst)"
                )
            if len(day_proof) or len(month_proof):
                dayfirst = bool(len(day_proof))
                proof = (day_proof if dayfirst else month_proof).iloc[0]
                evidence = f"{proof!r} proves it; {len(day_proof) or len(month_proof):,} value(s) like it"
            else:
                dayfirst = bool((numeric["s"] == ".").all())
                evidence = ("ASSUMED: no value has a field above 12"
                            + (" ('.' separators are written day-first)" if dayfirst else "")
                            + "; pass dayfirst= / --dayfirst or date_format= if this is wrong")
        else:
            evidence = "given by dayfirst="
        decisions.append(Decision(column, "date convention", "day-first (D/M/Y)" if dayfirst else
                                  "month-first (M/D/Y)", evidence))
        if (numeric["y"].str.len() == 2).any():
            decisions.append(Decision(column, "two-digit years", "69-99 read as 19xx, 00-68 as 20xx",
                                      f"e.g. {numeric['text'][numeric['y'].str.len() == 2].iloc[0]!r}"))
        order = ("%d", "%m") if dayfirst else ("%m", "%d")
        out.loc[numeric.index] = _parse_by_groups(
            numeric, lambda r: f"{order[0]}{r['s']}{order[1]}{r['s']}{'%Y' if len(r['y']) == 4 else '%y'}")
        rest = u[out.isna()]

    for pattern, date_fmt in (
        (_YMD, lambda r: f"%Y{r['s']}%m{r['s']}%d"),
        (_MONTH_NAME, lambda r: f"%d{r['s']}{'%b' if len(r['b']) == 3 else '%B'}{r['s']}"
                                f"{'%Y' if len(r['y']) == 4 else '%y'}"),
        (_MONTH_FIRST_NAME, lambda r: f"{'%b' if len(r['b']) == 3 else '%B'} %d{r['s']} %Y"),
    ):
        if rest.empty:
            break
        parts = rest.str.extract(pattern)
        parts["text"] = rest
        parts = parts[parts["s"].notna()]
        if not parts.empty:
            out.loc[parts.index] = _parse_by_groups(parts, date_fmt)
            rest = u[out.isna()]
    return out


def _parse_numeric_dates(x: pd.Series, column: str, source: str, decisions: list) -> pd.Series:
    """Numbers that are dates: YYYYMMDD, Excel serials, Unix seconds / milliseconds."""
    x = pd.to_numeric(x, errors="coerce").astype("float64")
    ok = x.dropna()
    if ok.empty:
        return pd.Series(pd.NaT, index=x.index, dtype="datetime64[us]")
    forms = {name for name, (lo, hi) in _NUMERIC_FORMS.items() if ((ok >= lo) & (ok <= hi)).any()}
    inside = pd.Series(False, index=ok.index)
    for name in forms:
        lo, hi = _NUMERIC_FORMS[name]
        inside |= (ok >= lo) & (ok <= hi)
    if len(forms) != 1 or not inside.all():
        odd = ok[~inside].iloc[0] if not inside.all() else ok.iloc[0]
        raise DataError(
            f"{source}: column {column!r} holds numbers that are not one date form segwork reads "
            f"(e.g. {_py(odd)!r}; forms found: {', '.join(sorted(forms)) or 'none'}; read are "
            f"{', '.join(_NUMERIC_FORMS)}); write the dates as text YYYY-MM-DD or pass date_format= "
            "(CLI: --date-format)"
        )
    form = forms.pop()
    if form.startswith("YYYYMMDD"):
        whole = x.where(x == np.floor(x))
        out = pd.to_datetime(whole.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce")
    elif form.startswith("Excel"):
        out = pd.to_datetime(x, unit="D", origin="1899-12-30", errors="coerce")
    elif "milliseconds" in form:
        out = pd.to_datetime(x, unit="ms", errors="coerce")
    else:
        out = pd.to_datetime(x, unit="s", errors="coerce")
    decisions.append(Decision(column, "date form", f"read as {form}", f"e.g. {ok.iloc[0]:.15g} -> "
                              f"{out[ok.index[0]]}"))
    return out.astype("datetime64[us]")


def _iso_fast_path(values: pd.Series) -> pd.Series | None:
    """The common case in one vectorised pass: every value ISO 8601, no time zone. Else ``None``."""
    head = values.iloc[:1000].dropna()
    try:
        if head.empty or pd.to_datetime(head, format="ISO8601", errors="coerce").isna().any():
            return None
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except ValueError:  # offsets that change: the careful path drops them
        return None
    if getattr(parsed.dt, "tz", None) is not None or (parsed.isna() & values.notna()).any():
        return None
    return parsed


def _parse_dates(values: pd.Series, fmt: str | None, dayfirst: bool | None, *, column: str = "date",
                 source: str = "<DataFrame>", decisions: list | None = None) -> pd.Series:
    """Parse one date column with one convention, decided on its unique values.

    Returns naive ``datetime64`` (offsets dropped, local wall-clock time kept);
    values that fit no form are ``NaT`` (the ``unparseable_date`` rule then
    applies). Raises :class:`DataError` for a column that mixes day-first and
    month-first values, for numbers that are no date form, and for a column
    where most values are in a form segwork does not read.
    """
    decisions = [] if decisions is None else decisions
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            decisions.append(Decision(column, "time zone", f"time zone {values.dt.tz} dropped: wall-clock time kept",
                                      "datetime values with a time zone"))
            values = values.dt.tz_localize(None)
        return values
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if kind in ("integer", "floating", "mixed-integer-float", "decimal") and fmt is None:
        return _parse_numeric_dates(values, column, source, decisions)
    if kind not in ("string", "integer", "floating", "mixed-integer-float", "decimal"):
        # Excel: true datetime cells, numbers (serials) and text in one column
        is_dt = values.map(lambda v: isinstance(v, (_dt.date, np.datetime64)))
        is_num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)) & values.notna()
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        if is_dt.any():
            cells = pd.to_datetime(values[is_dt], errors="coerce", utc=False)
            if getattr(cells.dt, "tz", None) is not None:
                cells = cells.dt.tz_localize(None)
            out[is_dt] = cells.astype("datetime64[us]")
        if is_num.any():
            out[is_num] = _parse_numeric_dates(values[is_num], column, source, decisions)
        text = values.notna() & ~is_dt & ~is_num
        if text.any():
            out[text] = _parse_dates(values[text].astype(str), fmt, dayfirst, column=column, source=source,
                                     decisions=decisions)
        return out

    if fmt is not None and kind != "string":  # numbers with an explicit format, e.g. 20140308.0 and '%Y%m%d'
        number = pd.to_numeric(values, errors="coerce")
        whole = number.where(number == np.floor(number))
        values = whole.astype("Int64").astype("string").astype(object).where(whole.notna(), None)
    if fmt is None and kind == "string":
        fast = _iso_fast_path(values)
        if fast is not None:
            return fast
    codes, uniques = pd.factorize(values)
    u = pd.Series(uniques, dtype=object).astype(str)
    if fmt is not None:
        if "%z" in fmt or "%Z" in fmt:
            fmt = re.sub(r"\s*%[zZ]", "", fmt)
            u = u.str.strip().str.replace(_OFFSET, r"\1", regex=True)
            decisions.append(Decision(column, "time zone", "UTC offsets dropped after parsing: local time kept",
                                      f"date_format={fmt!r}"))
        parsed = pd.Series(pd.to_datetime(u.str.strip(), format=fmt, errors="coerce").to_numpy(), index=u.index)
        decisions.append(Decision(column, "date format", f"{fmt!r}", "given by date_format="))
    else:
        sample = u.head(200).str.strip()
        if sample.str.match(_NUMBER).all():
            parsed = _parse_numeric_dates(u, column, source, decisions)
        else:
            parsed = _parse_date_strings(u, dayfirst, column, source, decisions)
        failed = u[parsed.isna()]
        if len(failed) and len(values):
            failed_rows = int(np.isin(codes, failed.index.to_numpy()).sum())
            if failed_rows * 2 > int((codes >= 0).sum()):
                raise DataError(
                    f"{source}: column {column!r}: {failed_rows:,} of {int((codes >= 0).sum()):,} values are in "
                    f"no date form segwork reads, e.g. {failed.iloc[0]!r} (read are ISO 8601, D/M/Y or M/D/Y "
                    "with / . -, Y/M/D, D-Mon-Y, Mon D, Y, YYYYMMDD, Excel serials, Unix time); pass date_format= "
                    "(CLI: --date-format, e.g. '%B %d, %Y')"
                )
    result = np.asarray(parsed.to_numpy(dtype="datetime64[us]"))
    taken = result[np.where(codes >= 0, codes, 0)] if len(result) else np.full(len(codes), np.datetime64("NaT", "us"))
    taken[codes < 0] = np.datetime64("NaT")
    return pd.Series(taken, index=values.index)


# --------------------------------------------------------------------------- numbers
#
# Decimal and thousands marks are decided per column on its unique values:
# three digits after a mark can be a thousands group; any other count of digits
# after a mark makes it the decimal mark; a value with both marks proves both
# (the last one is the decimal). Spaces and apostrophes between digit groups are
# thousands separators; currency symbols and codes are removed; ``(12,50)`` and
# ``12,50-`` are negative. The strings are then converted vectorised.

_CURRENCY = re.compile(r"^(?:[A-Z]{1,3}\$|[A-Z]{3}|Fr\.|kr\.?|zł|Kč)\s*|\s*(?:[A-Z]{3}|Fr\.|kr\.?|zł|Kč)$"
                       r"|[€$£¥₹₽¤]")
_GROUP_SPACE = re.compile(r"(?<=\d)[ \u00a0\u202f'’](?=\d{3}(?:\D|$))")


class _Marks:
    """The evidence about decimal and thousands marks in one column."""

    def __init__(self, u: pd.Series):
        self.proof, self.ambiguous = {}, {}
        both = {}
        for mark, other in ((".", ","), (",", ".")):
            # both marks, well grouped: the last (``mark``) is the decimal, ``other`` groups thousands
            both[mark] = u.str.match(rf"^\d{{1,3}}(?:{re.escape(other)}\d{{3}})+{re.escape(mark)}\d*$")
        for mark, other in ((".", ","), (",", ".")):
            m = re.escape(mark)
            once = u.str.match(rf"^\d*{m}\d*$") & u.str.contains(r"\d")
            # a possible thousands group: 3 digits after 1-3 digits not starting with 0 ('0.250' is a decimal)
            group = u.str.match(rf"^[1-9]\d{{0,2}}{m}\d{{3}}$")
            several = u.str.match(rf"^\d{{1,3}}(?:{m}\d{{3}}){{2,}}$")
            self.proof[("decimal", mark)] = u[both[mark] | (once & ~group)]
            self.proof[("thousands", mark)] = u[several | both[other]]
            self.ambiguous[mark] = u[group]

    def proven_decimal(self) -> str | None:
        for mark in (".", ","):
            other = "," if mark == "." else "."
            if len(self.proof[("decimal", mark)]) or len(self.proof[("thousands", other)]):
                return mark
        return None

    def contradiction(self) -> tuple[str, str] | None:
        says_dot = pd.concat([self.proof[("decimal", ".")], self.proof[("thousands", ",")]])
        says_comma = pd.concat([self.proof[("decimal", ",")], self.proof[("thousands", ".")]])
        if len(says_dot) and len(says_comma):
            return says_dot.iloc[0], says_comma.iloc[0]
        return None

    def first_proof_index(self, decimal: str):
        other = "," if decimal == "." else "."
        for key in (("decimal", decimal), ("thousands", other)):
            if len(self.proof[key]):
                return self.proof[key].index[0]
        return None


#: Currency marks -> the currency they stand for ("$" alone is taken as USD, like "US$" and "USD").
_CURRENCY_OF = {"€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB",
                "Fr.": "CHF", "zł": "PLN", "Kč": "CZK", "kr": "kr (SEK/NOK/DKK)", "kr.": "kr (SEK/NOK/DKK)"}


def check_one_currency(u: pd.Series, column: str, source: str) -> None:
    """Raise :class:`DataError` for a column whose values carry marks of more than one currency.

    ``u``: the column's distinct values as text, in file order. Amounts in
    different currencies cannot be added up, and stripping the marks would
    do exactly that; the message names the file, the column, the currencies
    and two example values, and says to split the file (or convert).
    ``$``, ``US$`` and ``USD`` count as one currency. Shared by every engine.
    """
    marks = u.str.findall(_CURRENCY)
    first_of: dict[str, str] = {}
    for text, found in zip(u, marks):
        for mark in found:
            mark = mark.strip()
            currency = _CURRENCY_OF.get(mark, mark)
            first_of.setdefault(currency, text)
    if len(first_of) > 1:
        (c1, v1), (c2, v2) = list(first_of.items())[:2]
        raise DataError(
            f"{source}: column {column!r} holds amounts in {len(first_of)} currencies ({', '.join(first_of)}), "
            f"e.g. {v1!r} ({c1}) and {v2!r} ({c2}); amounts in different currencies cannot be added up: split "
            "the file by currency (or convert the amounts to one currency) and read each part on its own"
        )


def _normalise_number_text(u: pd.Series) -> tuple[pd.Series, pd.Series, bool]:
    """Strip currency, spaces and sign; returns (digits-and-marks text, negative mask, had currency)."""
    t = u.str.strip()
    currency = t.str.contains(_CURRENCY)
    had_currency = bool(currency.any())
    if had_currency:
        t = t.str.replace(_CURRENCY, "", regex=True).str.strip()
    t = t.str.replace("\u2212", "-", regex=False)
    paren = t.str.match(r"^\(.*\)$")
    trailing = t.str.match(r"^[^-]*\d-$")
    leading = t.str.startswith("-")
    t = t.str.replace(r"^\(|\)$", "", regex=True).str.replace(r"^[+-]|-$", "", regex=True).str.strip()
    t = t.str.replace(_CURRENCY, "", regex=True).str.strip() if had_currency else t
    t = t.str.replace(_GROUP_SPACE, "", regex=True)
    return t, (paren | trailing | leading), had_currency


def _to_number(values: pd.Series, decimal: str | None = None, *, column: str = "amount",
               source: str = "<DataFrame>", hint=None, decisions: list | None = None) -> pd.Series:
    """Numbers written as text in any common local format -> float64 (NaN where not a number).

    ``decimal`` is the user's decimal mark (always honoured); otherwise the
    column's values decide, and a column without proof takes ``hint`` (mark,
    reason, or a function returning them: from the other columns or the
    file's delimiter), recorded in
    ``decisions``. Raises :class:`DataError` for a column that proves both
    marks decimal, or whose ``1.250``-like values no evidence can decide.
    """
    decisions = [] if decisions is None else decisions
    if decimal is not None and decimal not in (".", ","):
        raise DataError(f"{source}: decimal={decimal!r} is not a decimal mark; use '.' or ','")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):  # spreadsheet number cells
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind in ("mixed", "mixed-integer"):  # number cells and text cells: only the text needs deciding
        is_num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
        out = pd.to_numeric(values.where(is_num), errors="coerce").astype("float64")
        text = ~is_num & values.notna()
        if text.any():
            out[text] = _to_number(values[text].astype(str), decimal, column=column, source=source, hint=hint,
                                   decisions=decisions)
        return out
    codes, uniques = pd.factorize(values)
    u = pd.Series(uniques, dtype=object).astype(str)
    t, negative, had_currency = _normalise_number_text(u)
    if had_currency:
        check_one_currency(u, column, source)
    marks = _Marks(t)
    if decimal is None:
        clash = marks.contradiction()
        decimal = marks.proven_decimal()
        if clash:
            raise DataError(
                f"{source}: column {column!r} mixes decimal marks: {clash[0]!r} has a decimal point, "
                f"{clash[1]!r} a decimal comma; fix the file or pass decimal= (CLI: --decimal '.' or ',')"
            )
        if decimal is not None:
            proof = u[marks.first_proof_index(decimal)]
            decisions.append(Decision(column, "number format",
                                      f"decimal {decimal!r}, thousands {'.' if decimal == ',' else ','!r}",
                                      f"{proof!r} proves the decimal mark; the thousands mark is then the other"))
        else:
            ambiguous = marks.ambiguous["."] if len(marks.ambiguous["."]) else marks.ambiguous[","]
            if len(ambiguous):
                example = u[ambiguous.index[0]]
                hint = hint() if callable(hint) else hint
                if hint is None:
                    raise DataError(
                        f"{source}: column {column!r}: {example!r} can be a whole number with a thousands "
                        f"mark or a decimal, and no value in the file proves which ({len(ambiguous):,} such "
                        "value(s)); pass decimal= (CLI: --decimal ',' when '.' groups thousands, "
                        "--decimal '.' when it is the decimal point)"
                    )
                decimal, why = hint
                text = ambiguous.iloc[0]
                value = float(text.replace("," if decimal == "." else ".", "").replace(",", "."))
                decisions.append(Decision(
                    column, "number format",
                    f"ASSUMED decimal {decimal!r}: {example!r} read as {value:g}",
                    f"no value in the column proves the marks ({len(ambiguous):,} value(s) like {example!r}); "
                    + why + "; pass decimal= (CLI: --decimal) if wrong"))
            else:
                decimal = "."
    else:
        decisions.append(Decision(column, "number format", f"decimal {decimal!r}", "given by decimal="))
    if had_currency:
        decisions.append(Decision(column, "currency", "currency symbols / codes removed",
                                  f"e.g. {u[u.str.contains(_CURRENCY)].iloc[0]!r}"))
    thousands = "," if decimal == "." else "."
    d, th = re.escape(decimal), re.escape(thousands)
    valid = t.str.match(rf"^(?:\d{{1,3}}(?:{th}\d{{3}})+|\d+)?(?:{d}\d+)?(?:[eE][+-]?\d+)?$") & t.str.contains(r"\d")
    plain = t.str.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False)
    number = pd.to_numeric(plain.where(valid), errors="coerce").astype("float64")
    number = number.where(~negative, -number).to_numpy()
    taken = number[np.where(codes >= 0, codes, 0)] if len(number) else np.full(len(codes), np.nan)
    taken[codes < 0] = np.nan
    return pd.Series(taken, index=values.index, dtype="float64")


def _row_number(label, layout: str) -> str:
    """The 1-based line number in a file with a header, for messages."""
    if isinstance(label, (int, np.integer)):
        return str(int(label) + (1 if layout == "cdnow" else 2))
    if isinstance(label, tuple) and len(label) == 2 and isinstance(label[1], (int, np.integer)):
        return f"{int(label[1]) + 2} of sheet {label[0]!r}"
    return repr(label)


def _py(value):
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value
