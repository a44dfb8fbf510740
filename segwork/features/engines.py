"""Engines that aggregate transactions per customer: pandas (in memory), DuckDB (out of core), Dask (a cluster).

:func:`segwork.rfm_summary` and :func:`segwork.features.customer_table` take a
DataFrame, or a path, a folder or a glob of Parquet or CSV files. For a path
they read and clean the transactions with the rules of
:func:`segwork.io.read_transactions` and aggregate them per customer:

* ``engine="pandas"`` reads everything with :func:`~segwork.io.read_transactions`
  and aggregates in memory (up to a few million transactions);
* ``engine="duckdb"`` (the default for a path) cleans and aggregates in
  DuckDB SQL straight from the files; only the per-customer result comes back
  to pandas, so the transactions never have to fit in memory;
* ``engine="dask"`` cleans each Parquet partition on the workers of a
  ``dask.distributed`` cluster (the active client, or ``scheduler=ADDRESS``),
  shuffles the rows by customer and aggregates each customer on one worker;
  only the per-customer result is collected.

All three return the same per-customer aggregate (:class:`Aggregated`),
from which ``rfm_summary`` and ``customer_table`` build their columns with
one code path, and the same :class:`~segwork.io.CleaningReport` counts.

What the out-of-core engines read the way ``read_transactions`` does
--------------------------------------------------------------------
Typed Parquet columns (string / integer / float ids; date or timestamp
dates; numeric amounts) and text (CSV, or Parquet string columns) with ISO 8601
dates and plain numbers (``12.50``, ``-3``, ``1e3``). The cleaning rules, their
order, their counts and ``"drop"`` / ``"keep"`` / ``"error"`` are the same.
What needs ``read_transactions``' deciding code is refused with a
:class:`~segwork.errors.DataError` that names the file, column and value and
says to use ``engine="pandas"``: dates in another form (``31/12/2020``,
``20201231`` numbers, Excel serials, Unix time), numbers in a local form
(``1.234,50``, ``(12.50)``, ``12 €``), dates with a time zone, Excel files and
the CDNOW text layout. Values without a digit (``"n/a"``, ``"unknown"``) are
unparseable and count as such, as in ``read_transactions``. CSV files with a
UTF-16/32 byte-order mark (Excel's "Unicode Text") are read from a temporary
UTF-8 copy (:func:`duckdb_readable`), and title lines above a CSV header are
skipped as ``read_transactions`` finds them (:func:`csv_skip`). Ids in
scientific notation (``1.23457E+11``) are refused as ``read_transactions``
refuses them, and the ``implausible_date`` rule is the same SQL condition
(:func:`implausible_date_sql`). The report's
examples are *a* matching row, not necessarily the first one in file order.
Inputs above :data:`ROWS_PER_PASS` rows run in passes over hash buckets of
customers; :data:`DUCKDB_CONFIG` sets ``memory_limit`` / ``threads`` /
``temp_directory``.

The Dask engine cleans each Parquet row group with
:func:`segwork.io.clean_transactions` itself, so text columns are decided per
row group (a row group whose ``1.250``-like amounts nothing proves is refused
there even if another row group would prove them), and duplicates are judged
on the cleaned columns, which do not include ``price`` (rows equal in every
other column, amount included, but with different ``price`` count as
duplicates; ``read_transactions`` and DuckDB keep both).
"""
from __future__ import annotations

import contextlib
import glob as _glob
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import (
    RULE_TEXT,
    LAYOUTS,
    CleaningReport,
    PLACEHOLDER_DATES,
    SCIENTIFIC_ID,
    CleaningRules,
    RuleResult,
    detect_layout,
    format_example,
    bom_encoding,
    check_one_currency,
    is_wide_encoding,
    scientific_id_error,
    text_dialect,
    utf8_copy,
)

__all__ = ["ENGINES", "AGGREGATE_COLUMNS", "DUCKDB_CONFIG", "ROWS_PER_PASS", "Aggregated", "TransactionSource", "resolve_source", "is_path_like",
           "choose_engine", "csv_skip", "duckdb_readable", "implausible_date_sql", "read_source_pandas", "duckdb_aggregate", "duckdb_aggregate_frame", "dask_aggregate",
           "pandas_aggregate_frame", "need_engine_module"]

ENGINES = ("pandas", "duckdb", "dask")
_INSTALL = "pip install 'segwork[scale]'"
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".tsv", ".txt")

#: Columns of the per-customer aggregate every engine returns (index: customer_id as text, sorted).
AGGREGATE_COLUMNS = (
    "first_day",     # int64: first calibration purchase day (days since 1970-01-01)
    "last_day",      # int64: last calibration purchase day
    "cal_days",      # int64: distinct calibration purchase days
    "holdout_days",  # int64: distinct purchase days after calibration_end, up to observation_end
    "cal_value",     # float64: money of the calibration rows
    "first_value",   # float64: money of the rows on first_day
    "holdout_value",  # float64: money of the holdout rows
    "n_rows",        # int64: transaction lines up to observation_end (both periods)
    "revenue",       # float64: money of those lines
)


def need_engine_module(module: str, engine: str):
    """Import an optional dependency of an engine (``duckdb``, ``distributed`` ...), the one check for every caller.

    Raises :class:`~segwork.errors.DataError` (one line, so the CLI shows it with exit 2) saying what to install:
    the same error wherever an engine is used (rfm_summary, customer_table, segwork score).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"engine={engine!r} needs {module.split('.')[0]}, which is not installed: {_INSTALL}") from None


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class TransactionSource:
    """Files to read as one transaction table.

    ``name`` is what the user gave (path, folder or glob, as text); ``files``
    the matching files (sorted); ``kind`` ``"parquet"`` or ``"csv"``.
    """

    name: str
    files: tuple[Path, ...]
    kind: str


def _few(files, folder=None) -> str:
    names = [str(f.relative_to(folder)) if folder is not None else str(f) for f in files]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def resolve_source(source, *, mixed: bool = False) -> TransactionSource:
    """The files behind a path, a folder (every Parquet and CSV file in it, recursively) or a glob.

    ``mixed=True`` (the pandas engine, which reads file by file): Parquet and CSV
    files together are kind ``"mixed"``. Otherwise they are refused, naming the
    files of each kind: an engine that reads one kind would skip the others, and
    customers left out without a word are wrong scores.

    Raises :class:`DataError` when nothing matches, when Parquet and CSV files
    are mixed (``mixed=False``), or for a file type the engines do not read.
    """
    if isinstance(source, (list, tuple)):
        parts = [resolve_source(s, mixed=mixed) for s in source]
        kinds = {p.kind for p in parts}
        if len(kinds) > 1:
            if not mixed:
                raise DataError(f"{', '.join(p.name for p in parts)}: mixes Parquet and CSV files; give one kind "
                                "(engine='pandas' reads both)")
            kinds = {"mixed"}
        return TransactionSource(", ".join(p.name for p in parts), tuple(f for p in parts for f in p.files), kinds.pop())
    name = str(source)
    path = Path(source)
    folder = None
    if any(ch in name for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(name, recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{name}: the pattern matches no file; check the folder and the pattern")
    elif path.is_dir():
        folder = path
        files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in _PARQUET + _CSV)
        if not files:
            raise DataError(f"{name}: the folder holds no .parquet or .csv file")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{name}: no such file or folder; check the path")
    suffixes = {f.suffix.lower() for f in files}
    if suffixes <= set(_PARQUET):
        kind = "parquet"
    elif suffixes <= set(_CSV):
        kind = "csv"
    elif suffixes <= set(_PARQUET) | set(_CSV):
        if not mixed:
            parquet = [f for f in files if f.suffix.lower() in _PARQUET]
            csv = [f for f in files if f.suffix.lower() in _CSV]
            raise DataError(f"{name}: holds Parquet files ({_few(parquet, folder)}) and CSV files "
                            f"({_few(csv, folder)}); this engine reads one kind at a time and would skip the "
                            "others: give one kind (a glob such as '*.parquet' or '*.csv'), or read both with "
                            "engine='pandas'")
        kind = "mixed"
    else:
        odd = sorted(suffixes - set(_PARQUET) - set(_CSV))
        raise DataError(f"{name}: {odd[0]!r} files are not read by the out-of-core engines; give Parquet or CSV "
                        "files (Excel and other files: engine='pandas')")
    empty = [f for f in files if f.stat().st_size == 0]
    if empty:
        raise DataError(f"{empty[0]}: the file is empty; it needs a header and at least one transaction")
    return TransactionSource(name, tuple(files), kind)


def is_path_like(source) -> bool:
    """True for what :func:`resolve_source` takes (str, os.PathLike, or a list of them)."""
    import os

    if isinstance(source, (list, tuple)):
        return bool(source) and all(isinstance(s, (str, os.PathLike)) for s in source)
    return isinstance(source, (str, os.PathLike))


def choose_engine(source, engine: str | None) -> str:
    """The engine to use: the one asked for, else ``duckdb`` for a path and ``pandas`` for a DataFrame."""
    if engine is None or engine == "auto":
        if isinstance(source, pd.DataFrame):
            return "pandas"
        return "duckdb"
    if engine not in ENGINES:
        raise DataError(f"engine={engine!r} is not one of {ENGINES}")
    return engine


@contextlib.contextmanager
def duckdb_readable(source: TransactionSource):
    """``source`` as DuckDB's CSV reader can read it: UTF-16/32 text files transcoded to temporary UTF-8 copies.

    DuckDB reads UTF-8 (and a few 8-bit encodings) only; a CSV with a UTF-16 or
    UTF-32 byte-order mark (Excel's "Unicode Text") is copied to UTF-8 in a
    temporary folder (``DUCKDB_CONFIG['temp_directory']`` when set), removed
    on exit. The name stays the user's, so messages name the original file.
    Parquet sources and UTF-8 files are given back as they are.
    """
    wide = {f: bom_encoding(f) for f in source.files} if source.kind == "csv" else {}
    if not any(is_wide_encoding(e) for e in wide.values()):
        yield source
        return
    folder = tempfile.mkdtemp(prefix="segwork-utf8-", dir=DUCKDB_CONFIG.get("temp_directory"))
    try:
        files = tuple(utf8_copy(f, folder, e) if is_wide_encoding(e) else f for f, e in wide.items())
        yield replace(source, files=files)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- pandas


def read_source_pandas(source, *, rules: CleaningRules | None, columns=None):
    """The transactions of a path, folder or glob read by :func:`segwork.io.read_transactions` (cleaned once).

    One file of any kind ``read_transactions`` reads (CSV, CDNOW text, Excel,
    Parquet) is read as it is; the files of a folder or glob are read one by
    one and cleaned together. Returns ``(transactions, report)``.
    """
    from ..io import apply_layout, check_duplicate_columns, read_file, clean_transactions, read_transactions

    if not isinstance(source, TransactionSource):
        name = str(source)
        if not isinstance(source, (list, tuple)) and not any(ch in name for ch in "*?[") and not Path(name).is_dir():
            return read_transactions(source, rules=rules, columns=columns)
        source = resolve_source(source, mixed=True)  # read file by file: Parquet and CSV together too
    if len(source.files) == 1:
        return read_transactions(source.files[0], rules=rules, columns=columns)
    frames, layouts = [], set()
    for f in source.files:
        raw, detected = read_file(f, "auto", None, None, None, None, columns)
        check_duplicate_columns(raw.columns, str(f))
        layouts.add(detected)
        frames.append(apply_layout(raw, detected, columns, str(f)))
    if len(layouts) > 1:
        raise DataError(f"{source.name}: the files are in different layouts ({', '.join(sorted(layouts))}); "
                        "read them separately")
    raw = pd.concat(frames, ignore_index=True)
    return clean_transactions(raw, rules=rules, source=source.name, layout=layouts.pop())


# --------------------------------------------------------------------------- DuckDB


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


_NULLS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"]  # read_transactions' CSV missing values


def csv_skip(files) -> int:
    """Lines above the header of CSV files (title lines), as ``read_transactions`` finds them; 0 unless every
    file has the same count (DuckDB's ``skip`` is one number for all files)."""
    skips = set()
    for f in files:
        try:
            skips.add(text_dialect(f)[2])
        except DataError:  # what read_transactions refuses, DuckDB's own reader refuses in its words
            skips.add(0)
    return skips.pop() if len(skips) == 1 else 0


def _duckdb_scan(source: TransactionSource, *, sep: str | None = None) -> str:
    files = "[" + ", ".join(_lit(str(f)) for f in source.files) + "]"
    if source.kind == "parquet":
        return f"read_parquet({files}, union_by_name = true)"
    opts = ["header = true", "all_varchar = true", "union_by_name = true",
            "nullstr = [" + ", ".join(_lit(v) for v in _NULLS) + "]"]
    skip = csv_skip(source.files)
    if skip:
        opts.append(f"skip = {int(skip)}")
    if sep is not None:
        opts.append(f"delim = {_lit(sep)}")
    return f"read_csv({files}, {', '.join(opts)})"


def _is_text(t: str) -> bool:
    return t.upper().startswith("VARCHAR")


def _is_number(t: str) -> bool:
    t = t.upper()
    return t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL")


def _is_float(t: str) -> bool:
    return t.upper() in ("FLOAT", "DOUBLE", "REAL") or t.upper().startswith("DECIMAL")


def _id_sql(col: str, t: str) -> str:
    """SQL for io.to_id: text ids stripped, '13085.0' -> '13085', '' -> missing."""
    c = _q(col)
    if _is_float(t):
        c = f"CASE WHEN isnan(CAST({c} AS DOUBLE)) THEN NULL ELSE CAST({c} AS VARCHAR) END"
    elif not _is_text(t):
        c = f"CAST({c} AS VARCHAR)"
    t = _trim(c)
    return f"nullif(CASE WHEN contains({t}, '.') THEN regexp_replace({t}, '^(\\d+)\\.0+$', '\\1') ELSE {t} END, '')"


def _text_sql(col: str, t: str) -> str:
    c = _q(col) if _is_text(t) else f"CAST({_q(col)} AS VARCHAR)"
    return _trim(c)


def _trim(c: str) -> str:
    """Whitespace stripped as Python's str.strip does for the usual characters (space, tab, newlines, NBSP)."""
    return f"trim({c}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160))"


def _number_sql(col: str, t: str) -> str:
    if _is_number(t):
        return f"CAST({_q(col)} AS DOUBLE)"
    if _is_text(t):
        return f"TRY_CAST(trim({_q(col)}) AS DOUBLE)"
    raise DataError(f"column {col!r} has type {t}, not a number; engine='pandas' reads it")


def _date_sql(col: str, t: str, source_name: str) -> str:
    u = t.upper()
    if u in ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"):
        return f"CAST({_q(col)} AS TIMESTAMP)"
    if _is_text(t):
        return f"TRY_CAST(trim({_q(col)}) AS TIMESTAMP)"
    if u.startswith("TIMESTAMP WITH TIME ZONE") or u == "TIMESTAMPTZ":
        raise DataError(f"{source_name}: column {col!r} holds dates with a time zone ({t}); the duckdb engine does "
                        "not drop time zones the way read_transactions does: use engine='pandas' or store local dates")
    raise DataError(f"{source_name}: column {col!r} holds {t} values, not dates in a form the duckdb engine reads "
                    "(numbers such as 20201231, Excel serials or Unix time); use engine='pandas'")


class _DuckPlan:
    """The SQL of one source: column types, the normalised rows and the rule conditions."""

    def __init__(self, con, source: TransactionSource, rules: CleaningRules, columns=None, sep=None):
        self.con, self.source, self.rules = con, source, rules
        self.scan = _duckdb_scan(source, sep=sep)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {self.scan}").fetchall()
        except Exception as exc:  # duckdb raises its own error types
            raise DataError(f"{source.name}: DuckDB cannot read it as {source.kind} ({str(exc).splitlines()[0]}); "
                            "engine='pandas' reads more encodings and forms") from None
        raw_types = {str(r[0]).strip(): str(r[1]) for r in described}
        raw_names = {str(r[0]).strip(): str(r[0]) for r in described}
        layout = detect_layout(list(raw_types))
        self.layout = layout
        rename = dict(LAYOUTS.get(layout, {}))
        if columns:
            missing = [c for c in columns if c not in raw_types and c not in rename.values()]
            if missing:
                raise DataError(f"{source.name}: column mapping names column {missing[0]!r}, which is not in the "
                                f"files (columns: {', '.join(raw_types)})")
        canon = {}  # canonical name -> source column
        for col in raw_types:
            name = rename.get(col, col)
            name = (columns or {}).get(col, (columns or {}).get(name, name))
            if name in canon:
                raise DataError(f"{source.name}: duplicate column name {name!r}; each column must have a unique "
                                "name (rename one in the file or pass columns=)")
            canon[name] = col
        if "amount" not in canon and not {"quantity", "price"} <= set(canon):
            canon.setdefault("amount", None)
        for col in ("customer_id", "date", "amount"):
            if canon.get(col) is None:
                raise DataError(
                    f"{source.name}: required column {col!r} is missing (columns: {', '.join(raw_types)}); "
                    f"rename it in the file or map it, e.g. columns={{'<your column>': {col!r}}}"
                    + ("; a file without a header (the CDNOW text layout) needs engine='pandas'"
                       if source.kind == "csv" else "")
                )
        self.canon = canon
        self.raw_names = raw_names
        self.types = {name: raw_types[src] for name, src in canon.items() if src is not None}
        q = lambda name: raw_names[canon[name]]  # noqa: E731  the source column of a canonical one
        sel = {"customer_id": _id_sql(q("customer_id"), self.types["customer_id"]),
               "date": _date_sql(q("date"), self.types["date"], source.name)}
        for col in ("quantity", "price", "amount"):
            if col in canon:
                sel[col] = _number_sql(q(col), self.types[col])
        if "amount" not in canon:
            sel["amount"] = f"({sel['quantity']} * {sel['price']})"
        for col in ("product", "category", "channel"):
            if col in canon:
                sel[col] = _text_sql(q(col), self.types[col])
        if "invoice_id" in canon:
            sel["invoice_id"] = _id_sql(q("invoice_id"), self.types["invoice_id"])
        self.select = sel
        self.raw_cols = [raw_names[c] for c in raw_types][:8]

    # The normalised rows, with the raw columns for examples.
    def normalised(self) -> str:
        cols = ", ".join(f"{expr} AS {_q(name)}" for name, expr in self.select.items())
        return f"SELECT {cols} FROM {self.scan}"

    def check_forms(self) -> None:
        """Refuse text dates or numbers that read_transactions would read but SQL cannot (named, with the fix).

        Also refuses, as ``read_transactions`` does, text ids in scientific notation (``1.23457E+11``).
        """
        for col in ("customer_id", "invoice_id"):
            if col in self.types and _is_text(self.types[col]):
                src = _q(self.raw_names[self.canon[col]])
                n, example = self.con.execute(
                    f"SELECT count(*), any_value({src}) FROM {self.scan} "
                    f"WHERE regexp_full_match(trim({src}), {_lit(SCIENTIFIC_ID)})").fetchone()
                if n:
                    raise scientific_id_error(self.source.name, col, example, int(n))
        checks = []
        if _is_text(self.types["date"]):
            checks.append(("date", "date"))
        for col in ("quantity", "price", "amount"):
            if col in self.types and _is_text(self.types[col]):
                checks.append((col, "number"))
        for col, what in checks:
            src = _q(self.raw_names[self.canon[col]])
            v = f"trim({src})"
            if what == "date":
                unread = f"TRY_CAST({v} AS TIMESTAMP) IS NULL"
            else:  # read_transactions' plain numbers: digits, one decimal point with digits after, an exponent
                unread = f"NOT regexp_full_match({v}, '[+-]?(\\d+(\\.\\d+)?|\\.\\d+)([eE][+-]?\\d+)?')"
            row = self.con.execute(
                f"SELECT {src} FROM {self.scan} WHERE {src} IS NOT NULL AND {unread} "
                f"AND regexp_matches({src}, '[0-9]') LIMIT 1").fetchone()
            if row is None and what == "number":
                # '1.250' alone can be 1250 with a thousands dot: read_transactions decides it from other values
                # (or a ';' delimiter); SQL reads it as 1.25, so it must be proven by a value like '12.50'
                ambiguous, proof = self.con.execute(
                    f"SELECT any_value({src}) FILTER (WHERE regexp_full_match({v}, '[+-]?[1-9]\\d{{0,2}}\\.\\d{{3}}')), "
                    f"count_if(contains({v}, '.') AND NOT regexp_full_match({v}, '[+-]?[1-9]\\d{{0,2}}\\.\\d{{3}}')) "
                    f"FROM {self.scan}").fetchone()
                row = (ambiguous,) if ambiguous is not None and not proof else None
            if row is not None and what == "number" and re.search(r"[^\d\s.,+\-eE]", str(row[0])):
                # a currency mark: several currencies are refused as read_transactions refuses them
                marked = self.con.execute(  # distinct values in a fixed order (the scan's order is not kept)
                    f"SELECT DISTINCT {src} FROM {self.scan} WHERE {src} IS NOT NULL ORDER BY 1 LIMIT 100000"
                ).fetchall()
                check_one_currency(pd.Series([str(r[0]) for r in marked], dtype=object), col, self.source.name)
            if row is not None and what == "date":
                raise DataError(
                    f"{self.source.name}: column {col!r} has the value {row[0]!r}: the duckdb engine reads only ISO "
                    "8601 dates (2020-12-31, 2020-12-31 14:05) here; use engine='pandas' for this file, or convert "
                    "the column")
            if row is not None:
                value = str(row[0]).strip()
                comma = self.con.execute(  # a decimal comma anywhere in the column ('12,50', '1.234,50')
                    f"SELECT any_value({src}) FROM {self.scan} WHERE regexp_full_match({v}, "
                    f"'[+-]?[0-9.]*\\d,\\d{{1,2}}')").fetchone()[0]
                dotted = self.con.execute(  # a thousands dot ('1.250', '1.234.567')
                    f"SELECT any_value({src}) FROM {self.scan} WHERE regexp_full_match({v}, "
                    f"'[+-]?[1-9]\\d{{0,2}}(\\.\\d{{3}})+(,\\d+)?')").fetchone()[0]
                if not (re.fullmatch(r"[+-]?[0-9.]*\d,\d{1,2}", value)
                        or re.fullmatch(r"[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d+)?", value)):
                    comma = dotted = None  # the value refused is of another form ('12.', '1e'): name it as it is
                if comma is None and dotted is not None:  # '1.250' alone: 1250 or 1.25, as the file decides
                    what_it_is = (f"has values such as {str(dotted).strip()!r}, which read as 1250 (a thousands "
                                  "dot) or 1.25")
                elif comma is not None or dotted is not None:
                    kinds = " / ".join(k for k, x in (("a decimal comma", comma), ("a thousands dot", dotted))
                                       if x is not None)
                    examples = ", ".join(dict.fromkeys(repr(str(x).strip()) for x in (comma, dotted) if x is not None))
                    what_it_is = f"uses {kinds} ({examples})"
                else:
                    what_it_is = f"has the value {value!r}"
                raise DataError(
                    f"{self.source.name}: column {col!r} {what_it_is}: the duckdb engine reads only plain numbers "
                    "with a decimal point (12.50); use engine='pandas' for this file, or convert the column")

    def conditions(self) -> dict[str, str]:
        """Each rule's SQL condition on the normalised rows (before the rule order is applied)."""
        cond = {
            "missing_customer_id": "customer_id IS NULL",
            "unparseable_date": "date IS NULL",
            "bad_amount": "(amount IS NULL OR NOT isfinite(amount))",
        }
        returns = []
        if "invoice_id" in self.select:
            returns.append("coalesce(starts_with(upper(invoice_id), 'C'), false)")
        if "quantity" in self.select:
            returns.append("coalesce(quantity < 0, false)")
        cond["returns"] = "(" + " OR ".join(returns) + ")" if returns else "false"
        cond["non_positive_amount"] = "amount <= 0"
        cond["implausible_date"] = implausible_date_sql("date", self.rules)
        return cond


def implausible_date_sql(column: str, rules: CleaningRules | None = None) -> str:
    """SQL condition of the ``implausible_date`` rule on a TIMESTAMP column (NULL for a missing date).

    The criterion of :func:`segwork.io.implausible_dates`: a day in
    :data:`~segwork.io.PLACEHOLDER_DATES` or outside the rules' plausible window.
    The days are written as literals from dates segwork computed (no user text).
    """
    first, last = (rules or CleaningRules()).plausible_window()
    day = f"CAST({_q(column)} AS DATE)"
    placeholders = ", ".join(f"DATE '{d}'" for d in PLACEHOLDER_DATES)
    return (f"({day} < DATE '{first.date()}' OR {day} > DATE '{last.date()}' OR {day} IN ({placeholders}))")


def _example(con, sql: str, cols: list[str]) -> dict | None:
    row = con.execute(sql + " LIMIT 1").fetchone()
    if row is None:
        return None
    return {c: (v.item() if isinstance(v, np.generic) else v) for c, v in zip(cols, row)}


def _rule_error(source: str, rule: str, n: int, example, col: str):
    return DataError(
        f"{source}: {n:,} row(s) with {RULE_TEXT[rule]} (column {col}), e.g. {format_example(example or {})}; "
        f"fix the file or set CleaningRules({rule}='drop')"
    )


#: The rules that judge one row alone, in their order (duplicates and the observation end come after them).
_ROW_RULES = ("missing_customer_id", "unparseable_date", "implausible_date", "bad_amount", "returns",
              "non_positive_amount")

_RULE_COLUMN = {"missing_customer_id": "customer_id", "unparseable_date": "date", "implausible_date": "date",
                "bad_amount": "amount",
                "returns": "invoice_id/quantity", "non_positive_amount": "amount", "duplicates": "all columns",
                "after_observation_end": "date"}


def _aggregate_sql(rows: str, cal_end: int | None, obs_end: int | None, *, rule_end: int | None = None,
                   drop_after: bool = True) -> str:
    """Per-customer aggregate SQL over ``rows`` (columns customer_id, date, amount, copies; one row per distinct row).

    ``cal_end`` / ``obs_end``: the summary's period ends (day numbers, ``None``
    = no limit); ``rule_end``: the cleaning rule's observation end (its rows
    after are counted, and dropped when ``drop_after``). Besides
    :data:`AGGREGATE_COLUMNS` the result has what the cleaning report needs:
    ``kept_*`` over every kept row, ``dup_rows`` (copies beyond the first) and
    ``after_rows``. One row per customer with any clean row.
    """
    kept = "true" if rule_end is None or not drop_after else f"day <= {int(rule_end)}"
    inside = f"{kept}" + ("" if obs_end is None else f" AND day <= {int(obs_end)}")
    cal = inside + ("" if cal_end is None else f" AND day <= {int(cal_end)}")
    hold = inside + ("" if cal_end is None else f" AND day > {int(cal_end)}") if cal_end is not None else "false"
    after = "false" if rule_end is None else f"day > {int(rule_end)}"
    return f"""
        WITH per_day AS (
            SELECT customer_id, CAST(date AS DATE) - DATE '1970-01-01' AS day,
                   sum(amount) AS v, count(*) AS n, sum(copies) AS c, min(date) AS mind, max(date) AS maxd
            FROM ({rows}) GROUP BY ALL
        )
        SELECT customer_id,
               min(day) FILTER (WHERE {cal}) AS first_day,
               max(day) FILTER (WHERE {cal}) AS last_day,
               count(*) FILTER (WHERE {cal}) AS cal_days,
               count(*) FILTER (WHERE {hold}) AS holdout_days,
               coalesce(sum(v) FILTER (WHERE {cal}), 0) AS cal_value,
               coalesce(arg_min(v, day) FILTER (WHERE {cal}), 0) AS first_value,
               coalesce(sum(v) FILTER (WHERE {hold}), 0) AS holdout_value,
               coalesce(sum(n) FILTER (WHERE {inside}), 0) AS n_rows,
               coalesce(sum(v) FILTER (WHERE {inside}), 0) AS revenue,
               coalesce(sum(n) FILTER (WHERE {kept}), 0) AS kept_rows,
               coalesce(sum(v) FILTER (WHERE {kept}), 0) AS kept_revenue,
               min(mind) FILTER (WHERE {kept}) AS kept_min_date,
               max(maxd) FILTER (WHERE {kept}) AS kept_max_date,
               min(day) FILTER (WHERE {kept}) AS kept_min_day,
               max(day) FILTER (WHERE {kept}) AS kept_max_day,
               sum(c - n) AS dup_rows,
               coalesce(sum(n) FILTER (WHERE {after}), 0) AS after_rows
        FROM per_day GROUP BY customer_id
    """


def _close_report(report: CleaningReport, per_customer: pd.DataFrame, rules: CleaningRules, name: str,
                  rule_end: int | None, after_example=lambda: None) -> tuple[pd.DataFrame, int, int]:
    """Fill the report's duplicates / after_observation_end rules and totals from a per-customer aggregate.

    ``per_customer`` has the columns of :func:`_aggregate_sql`. Raises the
    rules' ``"error"`` and "no rows left" as ``read_transactions`` does.
    Returns the calibration customers, the first and the last kept day.
    """
    dup = int(per_customer["dup_rows"].sum())
    if rules.duplicates == "error" and dup:
        raise _rule_error(name, "duplicates", dup, None, "all columns")
    report.rules.append(RuleResult("duplicates", rules.duplicates, dup if rules.duplicates != "keep" else 0, None))
    n_after = int(per_customer["after_rows"].sum()) if rule_end is not None else 0
    example = after_example() if n_after else None
    report.rules.append(RuleResult("after_observation_end", rules.after_observation_end, n_after, example))
    if n_after and rules.after_observation_end == "error":
        raise _rule_error(name, "after_observation_end", n_after, example, "date")
    kept = per_customer[per_customer["kept_rows"] > 0]
    if kept.empty:
        raise DataError(
            f"{name}: no rows left after cleaning ({report.rows_read:,} read); "
            + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
            + ". Check the column mapping and the cleaning rules"
        )
    report.rows_kept, report.customers = int(kept["kept_rows"].sum()), len(kept)
    report.first_date = pd.Timestamp(kept["kept_min_date"].min())
    report.last_date = pd.Timestamp(kept["kept_max_date"].max())
    report.revenue = float(kept["kept_revenue"].sum())
    first_tx, last_tx = int(kept["kept_min_day"].min()), int(kept["kept_max_day"].max())
    return per_customer[per_customer["cal_days"] > 0], first_tx, last_tx


def _finish_aggregate(frame: pd.DataFrame, sort: bool = True) -> pd.DataFrame:
    out = frame[["customer_id", *AGGREGATE_COLUMNS]].set_index("customer_id")
    if sort:
        out = out.sort_index()
    out.index = pd.Index(out.index.astype(str), name="customer_id")
    for col in ("first_day", "last_day", "cal_days", "holdout_days", "n_rows"):
        out[col] = out[col].astype(np.int64)
    for col in ("cal_value", "first_value", "holdout_value", "revenue"):
        out[col] = out[col].astype(np.float64)
    return out[list(AGGREGATE_COLUMNS)]


@dataclass
class Aggregated:
    """What an engine returns: the per-customer aggregate and what surrounds it.

    ``customers``: :data:`AGGREGATE_COLUMNS` indexed by ``customer_id`` (text,
    sorted), customers with a calibration purchase only; ``first_tx`` /
    ``last_tx``: first and last purchase day of all kept rows; ``report``: the
    :class:`CleaningReport` (``None`` for a DataFrame input); ``mix``: per
    column (``category``, ``channel``) a customers x values count table when
    asked for.
    """

    customers: pd.DataFrame
    first_tx: int
    last_tx: int
    report: CleaningReport | None
    mix: dict


#: DuckDB settings every connection of the engine gets, e.g. ``{"memory_limit": "6GB", "threads": 2,
#: "temp_directory": "/scratch/duckdb"}`` (DuckDB's defaults when absent: 80 % of RAM, all cores, a
#: ``.tmp`` folder). Above ``memory_limit`` DuckDB spills its hash tables to ``temp_directory``.
DUCKDB_CONFIG: dict[str, object] = {}

#: Transaction rows per DuckDB pass: larger inputs are aggregated in ceil(rows / ROWS_PER_PASS) passes over
#: disjoint hash buckets of customers, which bounds the hash tables (duplicates, customer-days) of one pass.
ROWS_PER_PASS = 50_000_000


def _connect(threads: int | None = None, memory_limit: str | None = None):
    duckdb = need_engine_module("duckdb", "duckdb")
    con = duckdb.connect(":memory:")
    settings = dict(DUCKDB_CONFIG)
    if threads:
        settings["threads"] = int(threads)
    if memory_limit:
        settings["memory_limit"] = memory_limit
    for key, value in settings.items():
        if not str(key).replace("_", "").isalnum():
            raise DataError(f"DUCKDB_CONFIG: {key!r} is not a DuckDB setting name")
        con.execute(f"SET {key} = {int(value) if isinstance(value, int) else _lit(str(value))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def duckdb_aggregate(source: TransactionSource, *, rules: CleaningRules | None = None, columns=None,
                     cal_end: int | None = None, obs_end: int | None = None, mix=(),
                     threads: int | None = None, memory_limit: str | None = None) -> Aggregated:
    """Clean and aggregate the files of ``source`` in DuckDB (see the module docstring for what it reads).

    ``cal_end`` / ``obs_end`` are day numbers (days since 1970-01-01,
    inclusive) or ``None`` (no limit). Raises :class:`DataError` as
    ``read_transactions`` does, and for value forms only ``engine='pandas'`` reads.
    """
    with duckdb_readable(source) as readable:
        return _duckdb_aggregate(readable, rules=rules, columns=columns, cal_end=cal_end, obs_end=obs_end, mix=mix,
                                 threads=threads, memory_limit=memory_limit)


def _duckdb_aggregate(source, *, rules, columns, cal_end, obs_end, mix, threads, memory_limit) -> Aggregated:
    rules = (rules or CleaningRules()).resolved()
    con = _connect(threads, memory_limit)
    try:
        plan = _DuckPlan(con, source, rules, columns)
        plan.check_forms()
        con.execute(f"CREATE TEMP VIEW norm AS {plan.normalised()}")
        cond = plan.conditions()
        report = CleaningReport(source=source.name, layout=plan.layout, rows_read=0)
        # counts of the row rules in their order: each rule sees the rows the earlier "drop" rules kept
        row_rules = _ROW_RULES
        dropped, where = [], {}
        for rule in row_rules:
            where[rule] = " AND ".join([f"({cond[rule]})"] + [f"NOT coalesce({k}, false)" for k in dropped])
            if getattr(rules, rule) == "drop":
                dropped.append(f"({cond[rule]})")
        counts = con.execute(f"SELECT count(*), {', '.join(f'count_if({where[r]})' for r in row_rules)} FROM norm").fetchone()
        report.rows_read = int(counts[0])
        if report.rows_read == 0:
            raise DataError(f"{source.name}: no transaction rows to read")
        for i, rule in enumerate(row_rules):
            n = int(counts[i + 1])
            example = _example(con, f"SELECT * FROM norm WHERE {where[rule]}", list(plan.select)) if n else None
            report.rules.append(RuleResult(rule, getattr(rules, rule), n, example))
            if n and getattr(rules, rule) == "error":
                raise _rule_error(source.name, rule, n, example, _RULE_COLUMN[rule])
        survivors = " AND ".join(f"NOT coalesce({k}, false)" for k in dropped) or "true"
        # Duplicates are exact repeats of the normalised row: one GROUP BY over every column keeps one of each
        # and counts the copies. Everything after it runs in one pass: per (customer, day), then per customer.
        # Large inputs run in passes over disjoint sets of customers (hash buckets), so that the hash tables of
        # one pass stay within memory; each pass re-reads only the needed columns of the files.
        passes = max(1, -(-report.rows_read // int(ROWS_PER_PASS)))
        bucket = (lambda i: "") if passes == 1 else (lambda i: f" AND hash(customer_id) % {passes} = {i}")  # noqa: E731

        def rows_of(i: int) -> str:
            rows = f"SELECT * FROM norm WHERE {survivors}{bucket(i)}"
            if rules.duplicates == "keep":
                return f"SELECT *, 1 AS copies FROM ({rows})"
            return f"SELECT *, count(*) AS copies FROM ({rows}) GROUP BY ALL"
        rule_end = None
        if rules.observation_end is not None:
            rule_end = int(np.datetime64(pd.Timestamp(rules.observation_end).normalize().to_datetime64(), "D")
                           .astype(np.int64))
        per_customer = pd.concat([con.execute(_aggregate_sql(
            rows_of(i), obs_end if cal_end is None else cal_end, obs_end, rule_end=rule_end,
            drop_after=rules.after_observation_end == "drop")).df() for i in range(passes)], ignore_index=True)
        after_example = lambda: _example(  # noqa: E731
            con, f"SELECT * FROM norm WHERE {survivors} AND date >= TIMESTAMP "
                 f"{_lit(str(np.datetime64(rule_end + 1, 'D')))}", list(plan.select))
        agg, first_tx, last_tx = _close_report(report, per_customer, rules, source.name, rule_end, after_example)
        mixes = {}
        for column in mix:
            if column in plan.select:
                keep_day = [] if rule_end is None or rules.after_observation_end != "drop" else [f"day <= {rule_end}"]
                obs = keep_day + ([] if obs_end is None else [f"day <= {int(obs_end)}"])
                where = ("WHERE " + " AND ".join(obs)) if obs else ""
                mixes[column] = pd.concat([con.execute(  # one row per kept (distinct) transaction line
                    f"SELECT customer_id, {_q(column)} AS value, count(*) AS n FROM (SELECT *, "
                    f"CAST(date AS DATE) - DATE '1970-01-01' AS day FROM ({rows_of(i)})) {where} GROUP BY ALL").df()
                    for i in range(passes)], ignore_index=True)
        return Aggregated(_finish_aggregate(agg), first_tx, last_tx, report, mixes)
    except need_engine_module("duckdb", "duckdb").Error as exc:  # e.g. a CSV not in UTF-8, a damaged Parquet file
        raise DataError(f"{source.name}: DuckDB cannot read the files ({str(exc).strip().splitlines()[0]}); "
                        "engine='pandas' reads more encodings and forms") from None
    finally:
        con.close()


# --------------------------------------------------------------------------- pandas aggregate (Dask partitions)


def _day_of(dates: pd.Series) -> np.ndarray:
    values = dates.to_numpy()
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0]))
    return values.view(np.int64) // per_day


def pandas_aggregate_frame(tx: pd.DataFrame, cal_end: int | None, obs_end: int | None) -> pd.DataFrame:
    """:data:`AGGREGATE_COLUMNS` of clean canonical rows (``customer_id`` text, ``date``, ``amount``), in pandas.

    Customers without a calibration purchase are left out. Used on each
    customer-partition of the Dask engine.
    """
    day = _day_of(tx["date"])
    frame = pd.DataFrame({"customer_id": tx["customer_id"].to_numpy(), "day": day,
                          "amount": tx["amount"].to_numpy(dtype=np.float64)})
    if obs_end is not None:
        frame = frame[frame["day"] <= obs_end]
    pairs = frame.groupby(["customer_id", "day"], sort=True).agg(v=("amount", "sum"), n=("amount", "size"))
    pairs = pairs.reset_index()
    cal = np.ones(len(pairs), dtype=bool) if cal_end is None else (pairs["day"] <= cal_end).to_numpy()
    pairs["cal_day"] = pairs["day"].where(cal)
    pairs["is_cal"] = cal.astype(np.int64)
    pairs["is_hold"] = (~cal).astype(np.int64)
    pairs["cal_v"] = pairs["v"].where(cal, 0.0)
    pairs["hold_v"] = pairs["v"].where(~cal, 0.0)
    g = pairs.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "first_day": g["cal_day"].min(),
        "last_day": g["cal_day"].max(),
        "cal_days": g["is_cal"].sum(),
        "holdout_days": g["is_hold"].sum(),
        "cal_value": g["cal_v"].sum(),
        "holdout_value": g["hold_v"].sum(),
        "n_rows": g["n"].sum(),
        "revenue": g["v"].sum(),
    })
    out = out[out["cal_days"] > 0]
    # pairs are sorted by customer and day: the first calibration pair of a customer is its first day
    firsts = pairs[cal].drop_duplicates("customer_id", keep="first").set_index("customer_id")["v"]
    out["first_value"] = firsts.reindex(out.index).to_numpy()
    out = out.reset_index()
    return out if len(out) else _empty_aggregate()


def _empty_aggregate() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=np.float64 if "value" in c or c == "revenue" else np.int64)
                          for c in AGGREGATE_COLUMNS})
    frame.insert(0, "customer_id", pd.Series(dtype=str))
    return frame


# --------------------------------------------------------------------------- DataFrame input on DuckDB


def duckdb_aggregate_frame(transactions: pd.DataFrame, *, customer_col: str, date_col: str, amount_col: str | None,
                           cal_end: int | None, obs_end: int | None, threads: int | None = None) -> Aggregated | None:
    """:data:`AGGREGATE_COLUMNS` of an in-memory, already clean table, aggregated by DuckDB's pandas scan.

    The caller (``rfm_summary``) has checked the columns and the date dtype.
    Returns ``None`` when a value is missing or not finite, so that the
    caller's pandas path raises its usual error naming the row. Ids are sorted
    in their own type and then turned into text, as the pandas path does.
    """
    con = _connect(threads)
    try:
        cols = {"customer_id": transactions[customer_col], "date": transactions[date_col]}
        if amount_col:
            cols["amount"] = transactions[amount_col]
        con.register("tx", pd.DataFrame(cols, copy=False))
        amount = "CAST(amount AS DOUBLE)" if amount_col else "0.0"
        bad = con.execute(f"SELECT count_if(customer_id IS NULL) + count_if(date IS NULL) + count_if({amount} IS NULL "
                          f"OR NOT isfinite({amount})) FROM tx").fetchone()[0]
        if bad:
            return None
        where = "" if obs_end is None else f"WHERE CAST(date AS DATE) <= DATE '{np.datetime64(int(obs_end), 'D')}'"
        split = cal_end is not None and (obs_end is None or cal_end < obs_end)
        cal = "true" if not split else f"day <= {int(cal_end)}"
        hold = "false" if not split else f"day > {int(cal_end)}"
        f = (lambda cond: f" FILTER (WHERE {cond})") if split else (lambda cond: "")  # noqa: E731
        # one scan: per (customer, day), then per customer (filters only when there is a holdout period)
        agg = con.execute(f"""
            WITH per_day AS (
                SELECT customer_id, CAST(date AS DATE) - DATE '1970-01-01' AS day, sum({amount}) AS v, count(*) AS n
                FROM tx {where} GROUP BY ALL
            )
            SELECT customer_id,
                   min(day){f(cal)} AS first_day, max(day){f(cal)} AS last_day,
                   count(*){f(cal)} AS cal_days, {"count(*)" + f(hold) if split else "0"} AS holdout_days,
                   coalesce(sum(v){f(cal)}, 0) AS cal_value, coalesce(arg_min(v, day){f(cal)}, 0) AS first_value,
                   {"coalesce(sum(v)" + f(hold) + ", 0)" if split else "0.0"} AS holdout_value,
                   sum(n) AS n_rows, sum(v) AS revenue, min(day) AS any_first, max(day) AS any_last
            FROM per_day GROUP BY customer_id
        """).df()
        if agg.empty:  # every purchase after observation_end: the caller names the first one
            first_tx = con.execute("SELECT min(CAST(date AS DATE) - DATE '1970-01-01') FROM tx").fetchone()[0]
            return Aggregated(_finish_aggregate(agg.iloc[:0]), int(first_tx), int(first_tx), None, {})
        first_tx, last_tx = int(agg["any_first"].min()), int(agg["any_last"].max())
        if obs_end is not None:
            last_tx = max(last_tx, int(con.execute(
                "SELECT max(CAST(date AS DATE) - DATE '1970-01-01') FROM tx").fetchone()[0]))
        agg = agg[agg["cal_days"] > 0]
    finally:
        con.close()
    native = not pd.api.types.is_string_dtype(agg["customer_id"]) or isinstance(agg["customer_id"].dtype,
                                                                                 pd.CategoricalDtype)
    if native:
        agg = agg.sort_values("customer_id", kind="stable")  # ids sorted in their own type, as pandas.factorize(sort=True)
        text = agg["customer_id"].astype(str)
        if text.duplicated().any():
            return None  # the pandas path names the clash
        agg["customer_id"] = text
    return Aggregated(_finish_aggregate(agg, sort=not native), first_tx, last_tx, None, {})


# --------------------------------------------------------------------------- Dask


def _dask_client(scheduler):
    """(client, close_after): the client given, one connected to the address given, or the active one."""
    distributed = need_engine_module("distributed", "dask")
    need_engine_module("dask.dataframe", "dask")
    if scheduler is None:
        try:
            return distributed.get_client(), False
        except ValueError:
            raise DataError("engine='dask' found no running dask.distributed client: start one "
                            "(distributed.Client() or Client(LocalCluster(...))) or pass scheduler='tcp://host:8786'"
                            ) from None
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    if isinstance(scheduler, str):
        try:
            return distributed.Client(scheduler, timeout="10s", set_as_default=False), True
        except (OSError, TimeoutError) as exc:
            raise DataError(f"scheduler={scheduler!r}: cannot connect to a dask scheduler there "
                            f"({str(exc).splitlines()[0]}); check the address and that the scheduler runs") from None
    raise DataError(f"scheduler= must be a distributed.Client, an address such as 'tcp://host:8786' or None, "
                    f"got {type(scheduler).__name__}")


def _clean_piece(path: str, row_group: int, layout: str, columns, rules: CleaningRules):
    """One Parquet row group read and cleaned by read_transactions' rules (on a worker): (frame, report dict)."""
    import pyarrow.parquet as pq

    from ..io import apply_layout, clean_transactions

    raw = pq.ParquetFile(path).read_row_group(row_group).to_pandas()
    raw = apply_layout(raw, layout, columns, path)
    if raw.empty:
        return None, None
    # duplicates and the observation end are decided after the shuffle, over all partitions
    local = replace(rules, duplicates="keep", after_observation_end="keep", observation_end=None)
    frame, report = clean_transactions(raw, rules=local, source=path, layout=layout, allow_empty=True)
    return frame, report.to_dict()


def _piece_frame(piece):
    return piece[0]


def _piece_report(piece):
    return piece[1]


def _customers_of_partition(part: pd.DataFrame, cal: int | None, obs_end: int | None, rule_end: int | None,
                            drop_after: bool, dedupe: bool) -> pd.DataFrame:
    """The per-customer columns of :func:`_aggregate_sql` for one partition holding all rows of its customers."""
    dup = part.duplicated(keep="first").to_numpy() if dedupe else np.zeros(len(part), dtype=bool)
    ids = part["customer_id"].astype(str)
    dup_rows = pd.Series(dup.astype(np.int64), index=ids.to_numpy()).groupby(level=0).sum()
    rows = part[~dup]
    day = _day_of(rows["date"])
    after = (day > rule_end) if rule_end is not None else np.zeros(len(rows), dtype=bool)
    kept = ~after if (rule_end is not None and drop_after) else np.ones(len(rows), dtype=bool)
    k = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy(), "day": day,
                      "date": rows["date"].to_numpy(), "amount": rows["amount"].to_numpy(dtype=np.float64),
                      "after": after.astype(np.int64)})
    g_all = k.groupby("customer_id", sort=False)
    g = k[kept].groupby("customer_id", sort=False)
    out = pd.DataFrame(index=dup_rows.index.rename("customer_id"))
    out["kept_rows"] = g.size().reindex(out.index, fill_value=0).astype(np.int64)
    out["kept_revenue"] = g["amount"].sum().reindex(out.index, fill_value=0.0)
    out["kept_min_date"] = g["date"].min().reindex(out.index)
    out["kept_max_date"] = g["date"].max().reindex(out.index)
    out["kept_min_day"] = g["day"].min().reindex(out.index)
    out["kept_max_day"] = g["day"].max().reindex(out.index)
    out["dup_rows"] = dup_rows.astype(np.int64)
    out["after_rows"] = g_all["after"].sum().reindex(out.index, fill_value=0).astype(np.int64)
    clean = rows[kept]
    agg = (pandas_aggregate_frame(clean, cal, obs_end) if len(clean) else _empty_aggregate()).set_index("customer_id")
    agg.index = agg.index.astype(str)
    for col in AGGREGATE_COLUMNS:
        out[col] = agg[col].reindex(out.index, fill_value=0).to_numpy()
    return out.reset_index()


def _mix_of_partition(part: pd.DataFrame, column: str, obs_end: int | None, rule_end: int | None,
                      drop_after: bool, dedupe: bool) -> pd.DataFrame:
    rows = part[~part.duplicated(keep="first")] if dedupe else part
    day = _day_of(rows["date"])
    keep = np.ones(len(rows), dtype=bool)
    if rule_end is not None and drop_after:
        keep &= day <= rule_end
    if obs_end is not None:
        keep &= day <= obs_end
    rows = rows[keep]
    counts = rows.groupby([rows["customer_id"].astype(str), rows[column].astype("string")], dropna=False,
                          sort=False).size()
    return pd.DataFrame({"customer_id": counts.index.get_level_values(0).astype(str),
                         "value": counts.index.get_level_values(1).astype("string"),
                         "n": counts.to_numpy().astype(np.int64)})


def dask_aggregate(source: TransactionSource, *, rules: CleaningRules | None = None, columns=None,
                   cal_end: int | None = None, obs_end: int | None = None, mix=(), scheduler=None) -> Aggregated:
    """Clean and aggregate Parquet files on a ``dask.distributed`` cluster; only per-customer rows are collected.

    Each Parquet row group is one partition, cleaned on a worker by
    :func:`segwork.io.clean_transactions` (so dates and numbers are decided as
    ``read_transactions`` decides them, per partition); rows are then
    shuffled by customer, so that exact duplicates (which share a customer)
    meet in one partition, and each partition aggregates its customers.
    ``scheduler``: a ``distributed.Client``, an address, or ``None`` for the
    active client. Raises :class:`DataError` for CSV input (write Parquet),
    no client, or what ``read_transactions`` raises (naming the file).
    """
    import dask
    import pyarrow.parquet as pq

    from ..io import apply_layout

    rules = (rules or CleaningRules()).resolved()  # one plausible-date window (one "today") on every worker
    if source.kind != "parquet":
        raise DataError(f"{source.name}: engine='dask' reads Parquet files (partitions); convert the CSV to Parquet "
                        "or use engine='duckdb'")
    client, close = _dask_client(scheduler)
    dd = need_engine_module("dask.dataframe", "dask")
    try:
        pieces, layout = [], None
        for f in source.files:
            try:
                meta_file = pq.ParquetFile(f)
            except Exception as exc:  # pyarrow raises many types
                raise DataError(f"{f}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
            names = [str(n) for n in meta_file.schema_arrow.names]
            found = detect_layout(names)
            if layout is None:
                layout = found
                apply_layout(pd.DataFrame(columns=names), layout, columns, str(f))  # names a missing column
            pieces += [(str(f), i) for i in range(meta_file.metadata.num_row_groups)]
        delayed_clean = dask.delayed(_clean_piece, pure=True)
        cleaned = [delayed_clean(path, i, layout, columns, rules) for path, i in pieces]
        frames = [dask.delayed(_piece_frame, pure=True)(c) for c in cleaned]
        reports = [dask.delayed(_piece_report, pure=True)(c) for c in cleaned]
        if not pieces:
            raise DataError(f"{source.name}: no transaction rows to read")
        meta, _ = _clean_piece(*pieces[0], layout, columns, rules)  # the cleaned columns and dtypes
        if meta is None:
            raise DataError(f"{pieces[0][0]}: no transaction rows to read")
        meta = meta.iloc[:0]
        ddf = dd.from_delayed(frames, meta=meta, verify_meta=False)
        ddf = ddf.shuffle(on="customer_id", npartitions=max(1, min(len(pieces), 4 * len(client.nthreads() or [1]))))
        rule_end = None
        if rules.observation_end is not None:
            rule_end = int(np.datetime64(pd.Timestamp(rules.observation_end).normalize().to_datetime64(), "D")
                           .astype(np.int64))
        drop_after, dedupe = rules.after_observation_end == "drop", rules.duplicates != "keep"
        cal = obs_end if cal_end is None else cal_end
        out_meta = _customers_of_partition(meta, cal, obs_end, rule_end, drop_after, dedupe)
        per_customer = ddf.map_partitions(_customers_of_partition, cal, obs_end, rule_end, drop_after, dedupe,
                                          meta=out_meta)
        mixes = [ddf.map_partitions(_mix_of_partition, column, obs_end, rule_end, drop_after, dedupe,
                                    meta=_mix_of_partition(meta, column, obs_end, rule_end, drop_after, dedupe))
                 for column in mix if column in meta.columns]
        with warnings.catch_warnings():  # the cleaning reports are delayed objects next to the frames: say nothing
            warnings.filterwarnings("ignore", message="Computing mixed collections")
            results = dask.compute(per_customer, *mixes, *reports, scheduler=client.get)
    finally:
        if close:
            client.close()
    per_customer, mix_frames = results[0], results[1:1 + len(mixes)]
    part_reports = [CleaningReport.from_dict(r) for r in results[1 + len(mixes):] if r is not None]
    report = CleaningReport(source=source.name, layout=layout, rows_read=sum(r.rows_read for r in part_reports))
    for rule in _ROW_RULES:
        hits = [x for r in part_reports for x in r.rules if x.rule == rule]
        example = next((x.example for x in hits if x.example is not None), None)
        report.rules.append(RuleResult(rule, getattr(rules, rule), sum(x.rows for x in hits), example))
    report.decisions = list({str(d): d for r in part_reports for d in r.decisions}.values())  # each once
    report.warnings = list(dict.fromkeys(w for r in part_reports for w in r.warnings))
    if report.rows_read == 0:
        raise DataError(f"{source.name}: no transaction rows to read")
    agg, first_tx, last_tx = _close_report(report, per_customer, rules, source.name, rule_end)
    mixes_out = {column: frame for column, frame in zip([c for c in mix if c in meta.columns], mix_frames)}
    return Aggregated(_finish_aggregate(agg), first_tx, last_tx, report, mixes_out)


def pandas_aggregate(tx: pd.DataFrame, *, report: CleaningReport | None, cal_end: int | None, obs_end: int | None,
                     mix=()) -> Aggregated:
    """:class:`Aggregated` of clean canonical transactions in memory (the pandas engine of ``aggregate_source``)."""
    day = _day_of(tx["date"])
    agg = pandas_aggregate_frame(tx, obs_end if cal_end is None else cal_end, obs_end)
    mixes = {c: _mix_of_partition(tx, c, obs_end, None, True, False) for c in mix if c in tx.columns}
    return Aggregated(_finish_aggregate(agg), int(day.min()), int(day.max()), report, mixes)
