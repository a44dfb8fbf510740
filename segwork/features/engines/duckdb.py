"""The DuckDB engine: clean and aggregate files (or a DataFrame) in DuckDB; only per-customer rows come back.

Settings of every connection: :data:`DUCKDB_CONFIG`; inputs above :data:`ROWS_PER_PASS` rows run in passes
over hash buckets of customers. What it reads: see :mod:`segwork.features.engines`.
"""
from __future__ import annotations

import codecs
import contextlib
import math
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import SCIENTIFIC_ID, CleaningReport, CleaningRules, RuleResult, text_lines, bom_encoding, is_wide_encoding, utf8_copy
from .aggregate import ROW_RULES, Aggregated, close_report, finish_aggregate, rule_error
from .chunks import (MAX_DECIDED_DATES, CustomerChunks, ReadOptions, as_day, clean_chunk, decide_dates,
                     mapped_columns, missing_column_error, too_many_dates)
from .sources import TransactionSource, need_engine_module
from .onepass import OnePass, id_needs_normalising_sql
from .sql import DuckPlan, aggregate_sql, duckdb_scan, implausible_date_sql, quote_name

__all__ = ["DUCKDB_CONFIG", "ROWS_PER_PASS", "connect", "duckdb_readable", "duckdb_aggregate", "duckdb_aggregate_frame",
           "DuckdbChunks"]

DUCKDB_CONFIG: dict[str, object] = {}

#: Transaction rows per DuckDB pass: larger inputs are aggregated in ceil(rows / ROWS_PER_PASS) passes over
#: disjoint hash buckets of customers, which bounds the hash tables (duplicates, customer-days) of one pass.
ROWS_PER_PASS = 50_000_000


def connect(threads: int | None = None, memory_limit: str | None = None):
    """A DuckDB connection with :data:`DUCKDB_CONFIG` (and ``threads`` / ``memory_limit`` when given) as its
    ``config``; insertion order not preserved (the engines sort what they return), no progress bar."""
    duckdb = need_engine_module("duckdb", "duckdb")
    settings = {**DUCKDB_CONFIG, "preserve_insertion_order": False}
    if threads:
        settings["threads"] = int(threads)
    if memory_limit:
        settings["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(":memory:", config=settings)
    except duckdb.Error as exc:
        raise DataError(f"DUCKDB_CONFIG: DuckDB refuses the settings {settings} "
                        f"({str(exc).strip().splitlines()[0]})") from None
    con.execute("SET enable_progress_bar = false")  # a setting of the session, not of the database
    return con


@contextlib.contextmanager
def duckdb_readable(source: TransactionSource, *, encoding: str | None = None, tmp_dir=None,
                    prefix: str = "segwork-"):
    """``source`` as DuckDB's CSV reader can read it: text in other encodings transcoded to temporary UTF-8 copies.

    DuckDB reads UTF-8 (and a few 8-bit encodings) only. A CSV source is
    copied to UTF-8 in a temporary folder (``tmp_dir``, default
    ``DUCKDB_CONFIG['temp_directory']``; its name starts with ``prefix``),
    removed on exit: every file when ``encoding`` (another than UTF-8) is
    given, else each file with a UTF-16 or UTF-32 byte-order mark (Excel's
    "Unicode Text"). The name stays the user's, so messages name the original
    file. Parquet sources and UTF-8 files are given back as they are.
    """
    if source.kind != "csv":
        yield source
        return
    if encoding and codecs.lookup(encoding).name != "utf-8":
        copy_as = {f: encoding for f in source.files}
    else:
        copy_as = {f: e for f in source.files if is_wide_encoding(e := bom_encoding(f))}
    if not copy_as:
        yield source
        return
    folder = tempfile.mkdtemp(prefix=f"{prefix}utf8-", dir=tmp_dir or DUCKDB_CONFIG.get("temp_directory"))
    try:
        yield replace(source, files=tuple(utf8_copy(f, folder, copy_as[f]) if f in copy_as else f
                                          for f in source.files))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _day_start(day: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(int(day), "D"))


def _example(con, sql: str, cols: list[str], params: dict | None = None) -> dict | None:
    row = con.execute(sql + " LIMIT 1", params).fetchone()
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
        # text ids in scientific notation are looked for among the distinct ids the aggregate returns
        plan.check_forms(ids=False)
        con.execute(f"CREATE TEMP VIEW norm AS {plan.normalised()}")
        cond = plan.conditions()
        report = CleaningReport(source=source.name, layout=plan.layout, rows_read=0)
        rows_read = int(con.execute(f"SELECT count(*) FROM {plan.scan}").fetchone()[0])  # Parquet: its metadata
        if rows_read == 0:
            raise DataError(f"{source.name}: no transaction rows to read")
        rule_end = None
        if rules.observation_end is not None:
            rule_end = int(np.datetime64(pd.Timestamp(rules.observation_end).normalize().to_datetime64(), "D")
                           .astype(np.int64))
        # One pass per hash bucket of customers (one bucket up to ROWS_PER_PASS rows, so that the hash tables of
        # a pass stay within memory): the rules' counts, exact duplicates (one GROUP BY over every column keeps
        # one of each and counts the copies), then per (customer, day) and per customer.
        passes = max(1, -(-rows_read // int(ROWS_PER_PASS)))
        dedupe = rules.duplicates != "keep"
        actions = {r: getattr(rules, r) for r in ROW_RULES}

        one = OnePass({r: cond[r] for r in ROW_RULES}, actions, dedupe=dedupe,
                      cal_end=obs_end if cal_end is None else cal_end, obs_end=obs_end, rule_end=rule_end,
                      drop_after=rules.after_observation_end == "drop", times=plan.date_type not in ("DATE", "TIMESTAMP"))

        def aggregate(raw_id: bool) -> pd.DataFrame:
            rows = plan.rows(every_column=dedupe, raw_id=raw_id)
            extra = {"scientific_id": "regexp_full_match(customer_id, $pattern)"} if plan.text_ids else {}
            if raw_id:
                extra["id_to_normalise"] = id_needs_normalising_sql("customer_id")
            parts = []
            for i in range(passes):
                bucket = rows if passes == 1 else f"SELECT * FROM ({rows}) WHERE hash(customer_id) % {passes} = {i}"
                parts.append(con.execute(one.sql(bucket, extra), {"pattern": SCIENTIFIC_ID} if plan.text_ids
                                         else None).df())
            return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

        # Text ids are read as they are: normalising every row's id costs more than the aggregate itself. When
        # a distinct id is not its own normalised form (spaces around it, 'NA', '13085.0'), the pass is made
        # again on normalised ids (the same result, more slowly).
        groups = aggregate(raw_id=plan.text_ids)
        if plan.text_ids and groups["id_to_normalise"].fillna(False).any():
            groups = aggregate(raw_id=False)
        if plan.text_ids and groups["scientific_id"].fillna(False).any():
            plan.check_forms()  # names the file, the column and an id as read_transactions does
        report.rows_read, counts = one.rule_counts(groups)
        dropped = []
        for rule in ROW_RULES:
            n = counts[rule]
            if n:
                where = " AND ".join([f"({cond[rule]})"] + [f"NOT coalesce({k}, false)" for k in dropped])
                example = _example(con, f"SELECT * FROM norm WHERE {where}", list(plan.select))
            else:
                example = None
            report.rules.append(RuleResult(rule, getattr(rules, rule), n, example))
            if n and getattr(rules, rule) == "error":
                raise rule_error(source.name, rule, n, example, _RULE_COLUMN[rule])
            if getattr(rules, rule) == "drop":
                dropped.append(f"({cond[rule]})")
        per_customer = one.per_customer(groups)
        del groups
        survivors = " AND ".join(f"NOT coalesce({k}, false)" for k in dropped) or "true"
        after_example = lambda: _example(  # noqa: E731
            con, f"SELECT * FROM norm WHERE {survivors} AND date >= $after", list(plan.select),
            {"after": pd.Timestamp(np.datetime64(rule_end + 1, "D")).to_pydatetime()})
        agg, first_tx, last_tx = close_report(report, per_customer, rules, source.name, rule_end, after_example)
        if not one.times:  # the first / last kept date: on the first / last kept day, with its time of day
            report.first_date, report.last_date = _day_start(first_tx), _day_start(last_tx)
            if plan.date_type == "TIMESTAMP":  # that day's rows first (a filter the scan applies, a materialised
                # CTE so that the rules' conditions are not pushed below it), then the rules on them
                for day, how in ((first_tx, "min"), (last_tx, "max")):
                    found = con.execute(
                        f"WITH day_rows AS MATERIALIZED (SELECT * FROM {plan.scan} WHERE {plan.date_column} >= $lo "
                        f"AND {plan.date_column} < $hi) SELECT {how}(date) FROM ({plan.normalised('day_rows')}) "
                        f"WHERE {survivors}", {"lo": _day_start(day).to_pydatetime(),
                                               "hi": _day_start(day + 1).to_pydatetime()}).fetchone()[0]
                    if how == "min":
                        report.first_date = pd.Timestamp(found)
                    else:
                        report.last_date = pd.Timestamp(found)
        mixes = {}
        bucket = (lambda i: "") if passes == 1 else (lambda i: f" AND hash(customer_id) % {passes} = {i}")  # noqa: E731

        def rows_of(i: int) -> str:
            rows = f"SELECT * FROM norm WHERE {survivors}{bucket(i)}"
            if rules.duplicates == "keep":
                return f"SELECT *, 1 AS copies FROM ({rows})"
            return f"SELECT *, count(*) AS copies FROM ({rows}) GROUP BY ALL"
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
        # the one per-customer aggregate SQL of the engine ("per day, then per customer"), on the frame's rows
        agg = con.execute(aggregate_sql(f"SELECT customer_id, date, {amount} AS amount, 1 AS copies FROM tx",
                                        cal_end, obs_end)).df()
        if not agg["n_rows"].sum():  # every purchase after observation_end: the caller names the first one
            first_tx = int(agg["kept_min_day"].min())
            return Aggregated(finish_aggregate(agg.iloc[:0]), first_tx, first_tx, None, {})
        # the first purchase day up to observation_end (a customer with one is a customer with any) and the last
        # purchase day of all rows
        first_tx, last_tx = int(agg["kept_min_day"].min()), int(agg["kept_max_day"].max())
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


# --------------------------------------------------------------------------- chunks of customers


class DuckdbChunks(CustomerChunks):
    """The DuckDB engine's chunks: the rows written once, hash-partitioned by customer, to a temporary folder
    (``ceil(customers / chunk_size)`` parts), then each part read and cleaned. Peak memory is one part.

    The scan reads CSV text with ``read_transactions``' null strings; ``columns`` renames; the date form is
    decided once on the distinct date texts (:func:`~segwork.features.engines.chunks.decide_dates`) and the
    parts get ISO dates; the value forms only ``read_transactions``' deciding code reads (decimal commas,
    ids in scientific notation ...) are refused as the DuckDB aggregate refuses them, naming the file.
    """

    engine = "duckdb"

    def __init__(self, source: TransactionSource, options: ReadOptions, chunk_size: int, observation_end, tmp_dir,
                 tmp_prefix: str) -> None:
        duckdb = need_engine_module("duckdb", "duckdb")
        files = tuple(Path(f) for f in source.files)
        where = str(files[0]) if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
        rules = options.rules if observation_end is None else replace(options.rules,
                                                                      observation_end=observation_end)
        super().__init__(where, rules, observation_end, 1)
        self.options, self.tmp_prefix = options, tmp_prefix
        self._stack = contextlib.ExitStack()
        self.con = None
        try:
            if source.kind == "csv" and not options.encoding:
                for f in files:  # UTF-16 without a byte-order mark: io's line naming --encoding, not DuckDB's sniffer
                    text_lines(f, None, whole_file=False)
            # text in another encoding and UTF-16/32 text with a byte-order mark (Excel's "Unicode Text") go to
            # DuckDB as temporary UTF-8 copies, the rest as it is
            readable = self._stack.enter_context(duckdb_readable(TransactionSource(where, files, source.kind),
                                                                 encoding=options.encoding, tmp_dir=tmp_dir,
                                                                 prefix=tmp_prefix))
            self.con = connect()  # DUCKDB_CONFIG: memory_limit, threads, temp_directory
            self._partition(readable, chunk_size, observation_end, tmp_dir)
        except duckdb.Error as exc:  # a file DuckDB cannot read: one line, not a traceback
            self.close()
            # DuckDB names the file it read: a temporary copy when an encoding was given, never the user's
            text = re.sub(r"""["']?[^"'\s]*""" + re.escape(tmp_prefix) + r"""[^"'\s]*["']?""", f'"{where}"',
                          str(exc).strip().splitlines()[0])
            enc = (f" read as --encoding {options.encoding}: check that it is the file's encoding;"
                   if options.encoding else "")
            raise DataError(f"{where}: DuckDB cannot read it ({text});{enc} check it with 'segwork data validate', "
                            "or use engine='pandas'") from None
        except BaseException:
            self.close()
            raise

    def _partition(self, source: TransactionSource, chunk_size: int, observation_end, tmp_dir) -> None:
        con, options, where = self.con, self.options, self.where
        skip = options.header_row - 1 if options.header_row else None
        src = duckdb_scan(con, source, sep=options.sep, skip=skip)
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        rename = mapped_columns(options.columns, cols, where)
        if rename:
            con.execute(f"CREATE TEMP VIEW segwork_mapped AS SELECT * RENAME "
                        f"({', '.join(f'{quote_name(a)} AS {quote_name(b)}' for a, b in rename.items())}) FROM {src}")
            src, cols = "segwork_mapped", [rename.get(c, c) for c in cols]
        missing = missing_column_error(where, cols)
        if missing is not None:
            raise missing
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {src})").fetchall())
        if types["date"].upper().startswith("VARCHAR"):
            decided = self._decided_dates(src)
            if decided != src:  # the parts hold ISO dates now: the given form was applied once, here
                src, self.options = decided, replace(options, date_format=None, dayfirst=None)
        stamp = ("TRY_CAST(trim(date) AS TIMESTAMP)" if types["date"].upper().startswith("VARCHAR")
                 else "CAST(date AS TIMESTAMP)")
        # the last plausible date: a year typo (2203) or a sentinel (9999-12-31) is dropped by the cleaning rules,
        # so it must not set the observation end either (unless they are kept)
        last_date = ("max(_d)" if self.rules.implausible_date == "keep"
                     else f"max(_d) FILTER (WHERE NOT coalesce({implausible_date_sql('_d', self.rules)}, false))")
        n_customers, last = con.execute(f"SELECT count(DISTINCT customer_id), {last_date} FROM "
                                        f"(SELECT customer_id, {stamp} AS _d FROM {src} WHERE customer_id IS NOT NULL)"
                                        ).fetchone()
        if not n_customers:
            raise DataError(f"{source.files[0]}: no transaction with a customer id")
        self.end = observation_end if observation_end is not None else as_day(last)
        self.n_chunks = max(1, math.ceil(n_customers / chunk_size))
        self.tmp = Path(tempfile.mkdtemp(prefix=self.tmp_prefix, dir=tmp_dir))
        # one pass: every transaction of a customer into the same part
        con.execute(f"COPY (SELECT *, CAST(hash(CAST(customer_id AS VARCHAR)) % $n AS BIGINT) AS _part FROM {src}) "
                    "TO $folder (FORMAT parquet, PARTITION_BY (_part))", {"n": self.n_chunks, "folder": str(self.tmp)})
        self.parts = sorted(p for p in self.tmp.iterdir() if p.is_dir())
        files = tuple(f for p in self.parts for f in sorted(p.glob("*.parquet")))
        # the value forms the DuckDB engine reads as read_transactions does, or refuses naming the user's file
        DuckPlan(con, TransactionSource(where, files, "parquet"), self.rules).check_forms()

    def _decided_dates(self, src: str) -> str:
        """``src`` with ISO dates when some date text is in another form, decided once on all distinct texts."""
        con, options = self.con, self.options
        v = "trim(CAST(date AS VARCHAR))"
        if options.date_format is None and options.dayfirst is None:
            # trim(): a bare TRY_CAST is pushed into DuckDB's CSV reader, which then fails on the first other form
            other = con.execute(f"SELECT 1 FROM (SELECT {v} AS v FROM {src}) WHERE v IS NOT NULL AND "
                                "TRY_CAST(v AS TIMESTAMP) IS NULL AND regexp_matches(v, '[0-9]') LIMIT 1").fetchone()
            if other is None:  # every date ISO 8601 (the scan stops at the first other one)
                return src
        n = con.execute(f"SELECT count(DISTINCT {v}) FROM {src}").fetchone()[0]
        if n > MAX_DECIDED_DATES:
            raise too_many_dates(self.where, n)
        texts = con.execute(f"SELECT DISTINCT {v} AS raw FROM {src} WHERE {v} IS NOT NULL").df()["raw"]
        dates = decide_dates(texts, options, self.where, self.decisions)
        table = pd.DataFrame({"raw": dates.index.to_numpy(),
                              "iso": pd.Series(dates.to_numpy()).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()})
        con.register("segwork_dates", table)
        con.execute(f"CREATE TEMP VIEW segwork_dated AS SELECT s.* REPLACE (d.iso AS date) FROM {src} AS s "
                    f"LEFT JOIN segwork_dates AS d ON {v.replace('date', 's.date')} = d.raw")
        return "segwork_dated"

    def map(self, func, *args):
        for part in self.parts:
            files = [str(f) for f in sorted(part.glob("*.parquet"))]
            raw = self.con.execute("SELECT * EXCLUDE (_part) FROM read_parquet($files, hive_partitioning = true)",
                                   {"files": files}).df()
            tx, report = clean_chunk(raw, self.rules, self.options, self.where)
            self._reports.append(report)
            del raw
            yield func(tx, *args)

    def close(self) -> None:
        tmp = getattr(self, "tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if self.con is not None:
            self.con.close()
            self.con = None
        self._stack.close()
