"""The DuckDB SQL of the engines: reading a source, normalising its columns, the cleaning rules, the aggregate.

:class:`DuckPlan` reads the column names and types of a source and writes the SQL that normalises its rows
as :func:`segwork.io.read_transactions` does, refuses the value forms only ``read_transactions``' deciding
code reads (naming file, column and value), and gives each cleaning rule's SQL condition.
:func:`aggregate_sql` is the per-customer aggregate ("per day, then per customer") in SQL.
"""
from __future__ import annotations

import itertools
import re

import pandas as pd

from ...errors import DataError
from ...io import LAYOUTS, PLACEHOLDER_DATES, SCIENTIFIC_ID, CleaningRules, detect_layout, check_one_currency, scientific_id_error
from .sources import CSV_NULL_STRINGS, TransactionSource, csv_skip

__all__ = ["DuckPlan", "duckdb_scan", "aggregate_sql", "implausible_date_sql", "quote_name"]


def quote_name(name: str) -> str:
    """A column name as a DuckDB identifier (names cannot be bound as parameters; values always are)."""
    return '"' + str(name).replace('"', '""') + '"'


_views = itertools.count()


def duckdb_scan(con, source: TransactionSource, *, sep: str | None = None, skip: int | None = None) -> str:
    """Register the files of ``source`` on ``con`` as a view; returns its name (to use in SQL as a table).

    CSV: every column as text, the header line after ``skip`` title lines (default: as ``read_transactions``
    finds them, :func:`csv_skip`), ``sep`` (default: DuckDB's sniffer) and the null strings of
    ``read_transactions`` (:data:`CSV_NULL_STRINGS`). Files, null strings and the delimiter go to DuckDB as
    Python values (its relational API), never as SQL text.
    """
    files = [str(f) for f in source.files]
    if source.kind == "parquet":
        rel = con.read_parquet(files, union_by_name=True)
    else:
        skip = csv_skip(source.files) if skip is None else skip
        options = {"sep": sep} if sep is not None else {}
        rel = con.read_csv(files, header=True, all_varchar=True, union_by_name=True,
                           na_values=list(CSV_NULL_STRINGS), skiprows=int(skip or 0), **options)
    name = f"segwork_scan_{next(_views)}"
    rel.create_view(name)
    return name


def _is_text(t: str) -> bool:
    return t.upper().startswith("VARCHAR")


def _is_number(t: str) -> bool:
    t = t.upper()
    return t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL")


def _is_float(t: str) -> bool:
    return t.upper() in ("FLOAT", "DOUBLE", "REAL") or t.upper().startswith("DECIMAL")


def _id_sql(col: str, t: str) -> str:
    """SQL for io.to_id: text ids stripped, '13085.0' -> '13085', '' and the null strings -> missing."""
    c = quote_name(col)
    if _is_float(t):
        c = f"CASE WHEN isnan(CAST({c} AS DOUBLE)) THEN NULL ELSE CAST({c} AS VARCHAR) END"
    elif not _is_text(t):
        c = f"CAST({c} AS VARCHAR)"
    t = _trim(c)
    nulls = ", ".join(f"'{v}'" for v in CSV_NULL_STRINGS)  # segwork's own constants (no quote in them)
    return (f"CASE WHEN {t} IN ({nulls}) THEN NULL WHEN contains({t}, '.') "
            f"THEN regexp_replace({t}, '^(\\d+)\\.0+$', '\\1') ELSE {t} END")


def _text_sql(col: str, t: str) -> str:
    c = quote_name(col) if _is_text(t) else f"CAST({quote_name(col)} AS VARCHAR)"
    return _trim(c)


def _trim(c: str) -> str:
    """Whitespace stripped as Python's str.strip does for the usual characters (space, tab, newlines, NBSP)."""
    return f"trim({c}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160))"


def _number_sql(col: str, t: str) -> str:
    if _is_number(t):
        return f"CAST({quote_name(col)} AS DOUBLE)"
    if _is_text(t):
        return f"TRY_CAST(trim({quote_name(col)}) AS DOUBLE)"
    raise DataError(f"column {col!r} has type {t}, not a number; engine='pandas' reads it")


def _date_sql(col: str, t: str, source_name: str) -> str:
    u = t.upper()
    if u in ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"):
        return f"CAST({quote_name(col)} AS TIMESTAMP)"
    if _is_text(t):
        return f"TRY_CAST(trim({quote_name(col)}) AS TIMESTAMP)"
    if u.startswith("TIMESTAMP WITH TIME ZONE") or u == "TIMESTAMPTZ":
        raise DataError(f"{source_name}: column {col!r} holds dates with a time zone ({t}); the duckdb engine does "
                        "not drop time zones the way read_transactions does: use engine='pandas' or store local dates")
    raise DataError(f"{source_name}: column {col!r} holds {t} values, not dates in a form the duckdb engine reads "
                    "(numbers such as 20201231, Excel serials or Unix time); use engine='pandas'")


class DuckPlan:
    """The SQL of one source: column types, the normalised rows and the rule conditions."""

    def __init__(self, con, source: TransactionSource, rules: CleaningRules, columns=None, sep=None):
        self.con, self.source, self.rules = con, source, rules
        try:
            self.scan = duckdb_scan(con, source, sep=sep)
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
    def normalised(self, table: str | None = None) -> str:
        """SQL of the normalised rows of the scan (or of ``table``, a relation with the scan's columns).

        A text id column is trimmed once, in an inner query: :func:`_id_sql` names the trimmed text three times
        (null strings, ``'13085.0'``, the value) and DuckDB evaluates each, while the trim is most of a text id's
        cost (2.4 s against 0.9 s per 1M string ids on one core, measured with ``CREATE TABLE AS``)."""
        inner, select = [], dict(self.select)
        for name in ("customer_id", "invoice_id"):
            if name in select and _is_text(self.types[name]):
                trimmed = _trim(quote_name(self.raw_names[self.canon[name]]))
                alias = quote_name(f"segwork_trimmed_{name}")
                inner.append(f"{trimmed} AS {alias}")
                select[name] = select[name].replace(trimmed, alias)
        source = table or self.scan
        if inner:
            source = f"(SELECT *, {', '.join(inner)} FROM {source})"
        cols = ", ".join(f"{expr} AS {quote_name(name)}" for name, expr in select.items())
        return f"SELECT {cols} FROM {source}"

    @property
    def date_column(self) -> str:
        """The source's date column, quoted for SQL."""
        return quote_name(self.raw_names[self.canon["date"]])

    @property
    def date_type(self) -> str:
        """DuckDB's type of the source's date column, upper case (``"TIMESTAMP"``, ``"DATE"``, ``"VARCHAR"`` ...)."""
        return self.types["date"].upper()

    @property
    def text_ids(self) -> bool:
        """Whether the customer id column is text (then :meth:`rows` can read it as it is, see there)."""
        return _is_text(self.types["customer_id"])

    def rows(self, *, every_column: bool, raw_id: bool = False) -> str:
        """SQL of the normalised rows with the columns the aggregate needs.

        ``every_column``: all columns of :meth:`normalised` (exact duplicates
        are repeats in every column); else only ``customer_id``, ``date``,
        ``amount`` and the columns of the ``returns`` rule. ``raw_id``: the
        text id column as it is in the files, not normalised (stripped, null
        strings, ``'13085.0'``): the same rows when no id needs it, which
        :func:`id_needs_normalising_sql` tells from the distinct ids.
        """
        names = list(self.select) if every_column else [
            c for c in ("customer_id", "date", "amount", "invoice_id", "quantity") if c in self.select]
        exprs = {**self.select}
        if raw_id:
            exprs["customer_id"] = quote_name(self.raw_names[self.canon["customer_id"]])
        return f"SELECT {', '.join(f'{exprs[n]} AS {quote_name(n)}' for n in names)} FROM {self.scan}"

    def check_forms(self, ids: bool = True) -> None:
        """Refuse text dates or numbers that read_transactions would read but SQL cannot (named, with the fix).

        Also refuses, as ``read_transactions`` does, text ids in scientific notation (``1.23457E+11``);
        ``ids=False`` leaves that check of ``customer_id`` to the caller (a pass over every row).
        """
        for col in ("customer_id", "invoice_id"):
            if col == "customer_id" and not ids:
                continue
            if col in self.types and _is_text(self.types[col]):
                src = quote_name(self.raw_names[self.canon[col]])
                n, example = self.con.execute(
                    f"SELECT count(*), any_value({src}) FROM {self.scan} "
                    f"WHERE regexp_full_match(trim({src}), $pattern)", {"pattern": SCIENTIFIC_ID}).fetchone()
                if n:
                    raise scientific_id_error(self.source.name, col, example, int(n))
        checks = []
        if _is_text(self.types["date"]):
            checks.append(("date", "date"))
        for col in ("quantity", "price", "amount"):
            if col in self.types and _is_text(self.types[col]):
                checks.append((col, "number"))
        for col, what in checks:
            src = quote_name(self.raw_names[self.canon[col]])
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
    day = f"CAST({quote_name(column)} AS DATE)"
    placeholders = ", ".join(f"DATE '{d}'" for d in PLACEHOLDER_DATES)
    return (f"({day} < DATE '{first.date()}' OR {day} > DATE '{last.date()}' OR {day} IN ({placeholders}))")


def aggregate_sql(rows: str, cal_end: int | None, obs_end: int | None, *, rule_end: int | None = None,
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
