"""Reading a source into the canonical table: :func:`read_transactions`, the gate from a file or a DataFrame.

A file is read raw (:func:`read_file`: Parquet, Excel or text), its columns
are mapped to the canonical names, and :func:`~segwork.io.clean.clean_transactions`
decides dates and numbers and applies the cleaning rules.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .clean import clean_rows, clean_transactions
from .layouts import apply_layout, check_column_map, check_duplicate_columns, detect_layout
from .messages import first_line
from .report import CleaningReport
from .rules import CleaningRules
from .text import read_text
from .workbook import read_workbook

__all__ = ["read_transactions", "read_rows", "read_file"]


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
    return _with_warnings(_read_transactions, source, columns=columns, layout=layout, rules=rules, sep=sep,
                          decimal=decimal, encoding=encoding, date_format=date_format, dayfirst=dayfirst,
                          sheet_name=sheet_name, header_row=header_row)


def read_rows(
    source: pd.DataFrame, *, columns: Mapping[str, str] | None = None, rules: CleaningRules | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """:func:`read_transactions` of a DataFrame with canonical names, without the canonical order.

    Every rule and the whole report of ``read_transactions(source, columns=columns, layout="canonical",
    rules=rules)``; the kept rows as :func:`~segwork.io.clean.clean_rows` gives them (the order of
    ``source``, ``customer_id`` categorical) for an aggregation that needs no order: it spares the
    sort and the 1-text-per-row id column of the canonical table. Raises as ``read_transactions``.
    """
    return _with_warnings(_read_transactions, source, columns=columns, layout="canonical", rules=rules, sep=None,
                          decimal=None, encoding=None, date_format=None, dayfirst=None, sheet_name=None,
                          clean=clean_rows)


def _with_warnings(read, *args, **kwargs):
    """``read(*args, **kwargs)`` with library warnings collected in ``report.warnings``, not emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tx, report = read(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)):
            continue  # about library internals, nothing the user can act on
        text = f"{w.category.__name__}: {first_line(w.message)}"
        if text not in report.warnings:
            report.warnings.append(text)
    return tx, report


def _read_transactions(source, *, columns, layout, rules, sep, decimal, encoding, date_format, dayfirst,
                       sheet_name, header_row=None, clean=None):
    rules = rules or CleaningRules()
    check_column_map(columns)
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = source.copy()
        detected = detect_layout(list(raw.columns)) if layout == "auto" else layout
    else:
        path = Path(source)
        name = str(path)
        if header_row is not None and (isinstance(header_row, bool) or not isinstance(header_row, (int, np.integer))
                                       or header_row < 1):
            raise DataError(f"{name}: header_row={header_row!r} is not a row number; give the 1-based row "
                            "of the column names (CLI: --header-row N)")
        raw, detected = read_file(path, layout, sep, decimal, encoding, sheet_name, columns, header_row)
    check_duplicate_columns(raw.columns, name)
    attrs = dict(raw.attrs)
    raw = apply_layout(raw, detected, columns, name)
    raw.attrs.update(attrs)
    return (clean or clean_transactions)(
        raw, rules=rules, source=name, layout=detected, date_format=date_format, dayfirst=dayfirst
    )


def read_file(path, layout, sep, decimal, encoding, sheet_name, columns=None, header_row=None):
    """``(raw, layout)`` of one transaction file, read but not yet mapped or cleaned.

    ``path``: a :class:`~pathlib.Path` to a Parquet (``.parquet``, ``.pq``),
    Excel (``.xlsx``, ``.xlsm``, ``.xls``) or text file (anything else);
    ``layout``: ``"auto"`` or a layout name; the other arguments as
    :func:`read_transactions` takes them. ``raw`` has the source's own column
    names (map them with :func:`~segwork.io.layouts.apply_layout`) and its
    reading decisions in ``attrs``; ``layout`` is the one found.

    Raises :class:`~segwork.DataError` naming the file when it is missing,
    a folder, empty, or unreadable in its format.
    """
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
            raise DataError(f"{path}: cannot read as Parquet ({first_line(exc)})") from None
        return raw, (detect_layout(list(raw.columns)) if layout == "auto" else layout)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raw, detected = read_workbook(path, layout, sheet_name, columns, header_row)
        if decimal is not None:
            raw.attrs["decimal"] = decimal
        return raw, detected
    return read_text(path, layout, sep, decimal, encoding, columns, header_row)
