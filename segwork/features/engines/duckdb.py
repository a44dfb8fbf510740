"""The DuckDB engine: clean and aggregate files (or a DataFrame) in DuckDB; only per-customer rows come back.

Settings of every connection: :data:`DUCKDB_CONFIG`; inputs above :data:`ROWS_PER_PASS` rows run in passes
over hash buckets of customers. What it reads: see :mod:`segwork.features.engines`.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import CleaningReport, CleaningRules, RuleResult, bom_encoding, is_wide_encoding, utf8_copy
from .aggregate import ROW_RULES, Aggregated, close_report, finish_aggregate, rule_error
from .sources import TransactionSource, need_engine_module
from .sql import DuckPlan, aggregate_sql, quote_name, sql_text

__all__ = ["DUCKDB_CONFIG", "ROWS_PER_PASS", "connect", "duckdb_readable", "duckdb_aggregate", "duckdb_aggregate_frame"]

DUCKDB_CONFIG: dict[str, object] = {}

#: Transaction rows per DuckDB pass: larger inputs are aggregated in ceil(rows / ROWS_PER_PASS) passes over
#: disjoint hash buckets of customers, which bounds the hash tables (duplicates, customer-days) of one pass.
ROWS_PER_PASS = 50_000_000


def connect(threads: int | None = None, memory_limit: str | None = None):
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
        con.execute(f"SET {key} = {int(value) if isinstance(value, int) else sql_text(str(value))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


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


def _example(con, sql: str, cols: list[str]) -> dict | None:
    row = con.execute(sql + " LIMIT 1").fetchone()
    if row is None:
        return None
    return {c: (v.item() if isinstance(v, np.generic) else v) for c, v in zip(cols, row)}


_RULE_COLUMN = {"missing_customer_id": "customer_id", "unparseable_date": "date", "implausible_date": "date",
                "bad_amount": "amount",
                "returns": "invoice_id/quantity", "non_positive_amount": "amount", "duplicates": "all columns",
                "after_observation_end": "date"}


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
    con = connect(threads, memory_limit)
    try:
        plan = DuckPlan(con, source, rules, columns)
        plan.check_forms()
        con.execute(f"CREATE TEMP VIEW norm AS {plan.normalised()}")
        cond = plan.conditions()
        report = CleaningReport(source=source.name, layout=plan.layout, rows_read=0)
        # counts of the row rules in their order: each rule sees the rows the earlier "drop" rules kept
        row_rules = ROW_RULES
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
                raise rule_error(source.name, rule, n, example, _RULE_COLUMN[rule])
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
        per_customer = pd.concat([con.execute(aggregate_sql(
            rows_of(i), obs_end if cal_end is None else cal_end, obs_end, rule_end=rule_end,
            drop_after=rules.after_observation_end == "drop")).df() for i in range(passes)], ignore_index=True)
        after_example = lambda: _example(  # noqa: E731
            con, f"SELECT * FROM norm WHERE {survivors} AND date >= TIMESTAMP "
                 f"{sql_text(str(np.datetime64(rule_end + 1, 'D')))}", list(plan.select))
        agg, first_tx, last_tx = close_report(report, per_customer, rules, source.name, rule_end, after_example)
        mixes = {}
        for column in mix:
            if column in plan.select:
                keep_day = [] if rule_end is None or rules.after_observation_end != "drop" else [f"day <= {rule_end}"]
                obs = keep_day + ([] if obs_end is None else [f"day <= {int(obs_end)}"])
                where = ("WHERE " + " AND ".join(obs)) if obs else ""
                mixes[column] = pd.concat([con.execute(  # one row per kept (distinct) transaction line
                    f"SELECT customer_id, {quote_name(column)} AS value, count(*) AS n FROM (SELECT *, "
                    f"CAST(date AS DATE) - DATE '1970-01-01' AS day FROM ({rows_of(i)})) {where} GROUP BY ALL").df()
                    for i in range(passes)], ignore_index=True)
        return Aggregated(finish_aggregate(agg), first_tx, last_tx, report, mixes)
    except need_engine_module("duckdb", "duckdb").Error as exc:  # e.g. a CSV not in UTF-8, a damaged Parquet file
        raise DataError(f"{source.name}: DuckDB cannot read the files ({str(exc).strip().splitlines()[0]}); "
                        "engine='pandas' reads more encodings and forms") from None
    finally:
        con.close()


def duckdb_aggregate_frame(transactions: pd.DataFrame, *, customer_col: str, date_col: str, amount_col: str | None,
                           cal_end: int | None, obs_end: int | None, threads: int | None = None) -> Aggregated | None:
    """:data:`AGGREGATE_COLUMNS` of an in-memory, already clean table, aggregated by DuckDB's pandas scan.

    The caller (``rfm_summary``) has checked the columns and the date dtype.
    Returns ``None`` when a value is missing or not finite, so that the
    caller's pandas path raises its usual error naming the row. Ids are sorted
    in their own type and then turned into text, as the pandas path does.
    """
    con = connect(threads)
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
            return Aggregated(finish_aggregate(agg.iloc[:0]), int(first_tx), int(first_tx), None, {})
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
    return Aggregated(finish_aggregate(agg, sort=not native), first_tx, last_tx, None, {})
