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

The package, one job per module (lowest first; a module imports only those above it):

============ ===============================================================
``messages``  how the data is quoted in messages and reports
``rules``     :class:`CleaningRules`, the rule texts, :func:`implausible_dates`
``report``    :class:`RuleResult`, :class:`Decision`, :class:`CleaningReport`
``layouts``   canonical columns, :data:`LAYOUTS`, column mapping, header checks
``dates``     :func:`parse_dates`: one form and convention per date column
``numbers``   :func:`to_number`: decimal marks, currencies; ids in scientific notation; ids as codes
``text``      encodings, lines, delimiter and header of text files (:func:`text_dialect`)
``workbook``  Excel sheets, header rows, total rows
``clean``     :func:`clean_transactions`: the rules applied in order
``read``      :func:`read_transactions`: a file or DataFrame to the cleaned table (:func:`read_rows`: unordered)
============ ===============================================================

Every public name of the modules that other segwork modules use is
re-exported here; no module imports another's private (underscore) names.
"""
from __future__ import annotations

from .clean import CLEANED_ATTR, clean_rows, clean_transactions, duplicated_rows, passed_the_gate
from .dates import parse_dates
from .layouts import (HEADER_SCAN_ROWS, LAYOUTS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, apply_layout, check_column_map,
                      check_duplicate_columns, detect_layout)
from .messages import format_example, note_line, shown_path
from .numbers import SCIENTIFIC_ID, check_one_currency, scientific_id_error
from .read import read_file, read_rows, read_transactions
from .report import CleaningReport, Decision, RuleResult
from .rules import (PLACEHOLDER_DATES, PLAUSIBLE_FIRST_DATE, PLAUSIBLE_FUTURE_DAYS, RULE_TEXT, Action, CleaningRules,
                    implausible_dates)
from .text import CSV_NULL_STRINGS, bom_encoding, check_encoding_against_bom, is_wide_encoding, text_dialect, text_lines, utf8_copy

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
    "clean_rows",
    "read_rows",
    "duplicated_rows",
    "CSV_NULL_STRINGS",
    "CLEANED_ATTR",
    "passed_the_gate",
    "text_dialect",
    "HEADER_SCAN_ROWS",
    "bom_encoding",
    "is_wide_encoding",
    "utf8_copy",
    # public since io became a package (other segwork modules use them)
    "Action",
    "check_encoding_against_bom",
    "RULE_TEXT",
    "format_example",
    "shown_path",
    "note_line",
    "detect_layout",
    "check_duplicate_columns",
    "apply_layout",
    "read_file",
    "parse_dates",
    "text_lines",
]
