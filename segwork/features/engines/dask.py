"""The Dask engine: DuckDB on every worker of a ``dask.distributed`` cluster.

:func:`dask_aggregate` (``rfm_summary`` / ``customer_table`` on a path): pieces of the Parquet files cleaned
and reduced to distinct rows by the DuckDB engine's SQL, shuffled by a hash of the customer, then aggregated
per customer, each step a one-thread DuckDB connection on a worker; only per-customer rows are collected.
:class:`DaskChunks` (``segwork score``): the log shuffled by customer, each partition cleaned by pandas.
"""
from __future__ import annotations

import logging
import math
import operator
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import CleaningReport, CleaningRules, RuleResult, parse_dates, is_wide_encoding, text_dialect
from .aggregate import ROW_RULES, Aggregated, close_report, finish_aggregate, rule_error
from .chunks import (MAX_DECIDED_DATES, CustomerChunks, ReadOptions, as_day, clean_chunk, decide_dates, last_plausible,
                     mapped_columns, missing_column_error, too_many_dates)
from .duckdb import connect
from .sources import CSV_NULL_STRINGS, TransactionSource, need_engine_module
from .sql import DuckPlan, aggregate_sql, quote_name

__all__ = ["PIECE_ROWS", "MIN_PIECE_ROWS", "BUCKET_ROWS", "dask_aggregate", "dask_client", "DaskChunks"]


def dask_client(scheduler=None, *, start_local: bool = False):
    """``(client, close_after)``: the one way every Dask path finds its cluster.

    ``scheduler``: a ``distributed.Client`` (used as it is), an address such as ``'tcp://host:8786'``, or
    ``None``: the active client, else dask's ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``),
    else, with ``start_local``, a local cluster of processes for this run only (no dashboard, no worker
    logs on stderr: a refused partition's error comes back to the client as the one error). Raises
    DataError (one line) when no scheduler answers, or when there is none and ``start_local`` is False.
    """
    distributed = need_engine_module("distributed", "dask")
    need_engine_module("dask.dataframe", "dask")
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    if scheduler is None:
        try:
            return distributed.get_client(), False
        except ValueError:
            pass
        import dask

        scheduler = dask.config.get("scheduler-address", None)
        if scheduler is None and not start_local:
            raise DataError("engine='dask' found no running dask.distributed client: start one "
                            "(distributed.Client() or Client(LocalCluster(...))) or pass scheduler='tcp://host:8786'")
        if scheduler is None:
            with warnings.catch_warnings():  # its port 8787 may be taken: a 4-line UserWarning on success
                warnings.filterwarnings("ignore", message=r".*[Pp]ort .* is already in use.*")
                return distributed.Client(processes=True, dashboard_address=None, silence_logs=logging.CRITICAL,
                                          set_as_default=False), True
    if isinstance(scheduler, str):
        try:
            return distributed.Client(scheduler, timeout="10s", set_as_default=False), True
        except (OSError, TimeoutError) as exc:
            raise DataError(f"scheduler={scheduler!r}: no Dask scheduler answers there ({str(exc).splitlines()[0]}); "
                            "check the address and that the scheduler runs (dask scheduler)") from None
    raise DataError(f"scheduler= must be a distributed.Client, an address such as 'tcp://host:8786' or None, "
                    f"got {type(scheduler).__name__}")


#: Rows of one stage-1 piece at most (a range of rows of one Parquet file; DuckDB skips the row groups outside it).
PIECE_ROWS = 2_000_000
#: Rows of one stage-1 piece at least, unless the file is smaller (a task costs a few milliseconds to schedule).
MIN_PIECE_ROWS = 100_000
#: Distinct rows per customer bucket of stage 2 (about): more rows make more buckets, so that one bucket's hash
#: tables fit a worker.
BUCKET_ROWS = 5_000_000

_RULE_COLUMN = {"missing_customer_id": "customer_id", "unparseable_date": "date", "implausible_date": "date",
                "bad_amount": "amount", "returns": "invoice_id/quantity", "non_positive_amount": "amount"}


def _plan_of_piece(con, path: str, first: int, n_rows: int, rules: CleaningRules, columns):
    """The DuckDB plan of rows ``[first, first + n_rows)`` of one Parquet file (the other row groups are skipped)."""
    plan = DuckPlan(con, TransactionSource(path, (Path(path),), "parquet"), rules, columns)
    rel = con.read_parquet(path, file_row_number=True)
    rel = rel.filter(f"file_row_number >= {int(first)} AND file_row_number < {int(first) + int(n_rows)}")
    rel.project("* EXCLUDE (file_row_number)").create_view("segwork_piece")
    plan.scan = "segwork_piece"  # the same reader, so the same column types as the plan read for the whole file
    return plan


def _row(con, sql: str) -> dict | None:
    cur = con.execute(sql + " LIMIT 1")
    found = cur.fetchall()  # the whole (one-row) result: the connection takes no other query before
    if not found:
        return None
    row = found[0]
    return {d[0]: (v.item() if isinstance(v, np.generic) else v) for d, v in zip(cur.description, row)}


def _piece_rows(path: str, first: int, n_rows: int, rules: CleaningRules, columns, n_buckets: int):
    """Stage 1, on a worker: one piece normalised, counted by the row rules and reduced to its distinct rows.

    One pass over the piece: the normalised rows with each row rule's flag (in the rules' order) and the
    customer's bucket, grouped to distinct rows with their number of ``copies`` (``duplicates="keep"``: every
    row, one copy). Returns ``(buckets, stats)``: ``buckets`` a tuple of ``n_buckets`` Arrow tables (the
    surviving rows and ``copies``, split by a hash of the customer id), ``stats`` the rows read and each row
    rule's count and example.
    """
    con = connect(threads=1)  # one task per worker thread
    try:
        plan = _plan_of_piece(con, path, first, n_rows, rules, columns)
        plan.check_forms()
        cond = plan.conditions()
        dropped, flags = [], {}
        for i, rule in enumerate(ROW_RULES):  # each rule sees the rows the earlier "drop" rules kept
            flags[f"segwork_r{i}"] = " AND ".join([f"coalesce({cond[rule]}, false)"]
                                                  + [f"NOT coalesce({k}, false)" for k in dropped])
            if getattr(rules, rule) == "drop":
                dropped.append(f"({cond[rule]})")
        survivors = " AND ".join(f"NOT {f}" for f, rule in zip(flags, ROW_RULES)
                                 if getattr(rules, rule) == "drop") or "true"
        marks = ", ".join(f"{expr} AS {name}" for name, expr in flags.items())
        rows = (f"SELECT *, {marks}, hash(customer_id) % {int(n_buckets)} AS segwork_bucket "
                f"FROM ({plan.normalised()})")
        rows = (f"SELECT *, 1 AS copies FROM ({rows})" if rules.duplicates == "keep"
                else f"SELECT *, count(*) AS copies FROM ({rows}) GROUP BY ALL")
        con.execute(f"CREATE TEMP TABLE segwork_rows AS {rows}")
        counts = con.execute("SELECT sum(copies), "
                             + ", ".join(f"sum(copies) FILTER (WHERE {f})" for f in flags)
                             + " FROM segwork_rows").fetchall()[0]
        stats = {"rows_read": int(counts[0] or 0), "layout": plan.layout, "rules": {}}
        hidden = ", ".join([*flags, "segwork_bucket", "copies"])
        for f, rule, n in zip(flags, ROW_RULES, counts[1:]):
            stats["rules"][rule] = (int(n or 0), _row(con, f"SELECT * EXCLUDE ({hidden}) FROM segwork_rows WHERE {f}")
                                    if n else None)
        shipped = f"SELECT * EXCLUDE ({', '.join(flags)}, segwork_bucket) FROM segwork_rows WHERE {survivors}"
        buckets = tuple(con.sql(f"{shipped} AND segwork_bucket = {j}").to_arrow_table() for j in range(n_buckets))
        return buckets, stats
    except need_engine_module("duckdb", "dask").Error as exc:
        raise DataError(f"{path}: DuckDB cannot read the file ({str(exc).strip().splitlines()[0]}); "
                        "engine='pandas' reads more forms") from None
    finally:
        con.close()


def _bucket_customers(cal: int | None, obs_end: int | None, rule_end: int | None, drop_after: bool, dedupe: bool,
                      mix: tuple, *parts):
    """Stage 2, on a worker: all distinct rows of a bucket of customers (from every piece) merged, then the
    per-customer aggregate (:func:`aggregate_sql`), the mix counts and an example row after ``rule_end``."""
    import pyarrow as pa

    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None
    con = connect(threads=1)
    try:
        con.register("segwork_rows", pa.concat_tables(parts, promote_options="default"))
        # copies of one row from several pieces add up: an exact duplicate across files is still one row
        rows = ("SELECT * EXCLUDE (copies), CAST(sum(copies) AS BIGINT) AS copies FROM segwork_rows GROUP BY ALL"
                if dedupe else "SELECT * FROM segwork_rows")
        if mix or rule_end is not None:  # read again below: kept as a table
            con.execute(f"CREATE TEMP TABLE merged AS {rows}")
            rows = "SELECT * FROM merged"
        per_customer = con.execute(aggregate_sql(rows, cal, obs_end, rule_end=rule_end, drop_after=drop_after)).df()
        mixes = {}
        keep_day = [] if rule_end is None or not drop_after else [f"day <= {int(rule_end)}"]
        inside = keep_day + ([] if obs_end is None else [f"day <= {int(obs_end)}"])
        cond = ("WHERE " + " AND ".join(inside)) if inside else ""
        for column in mix:  # one count per kept (distinct) transaction line, as the DuckDB engine counts
            mixes[column] = con.execute(
                f"SELECT customer_id, {quote_name(column)} AS value, count(*) AS n FROM (SELECT *, "
                f"CAST(date AS DATE) - DATE '1970-01-01' AS day FROM merged) {cond} GROUP BY ALL").df()
        after = None
        if rule_end is not None:
            after = _row(con, "SELECT * EXCLUDE (copies) FROM merged "
                              f"WHERE CAST(date AS DATE) - DATE '1970-01-01' > {int(rule_end)}")
        return per_customer, mixes, after
    finally:
        con.close()


def _pieces(files, target: int) -> list[tuple[str, int, int]]:
    """(file, first row, rows) ranges of at most ``target`` rows, cut at row-group edges where they fall."""
    import pyarrow.parquet as pq

    out = []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        start, size = 0, 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if size and size + n > target:
                out.append((str(f), start, size))
                start, size = start + size, 0
            size += n
            while size > target:  # a row group larger than a piece: ranges inside it
                out.append((str(f), start, target))
                start, size = start + target, size - target
        if size:
            out.append((str(f), start, size))
    return out


def dask_aggregate(source: TransactionSource, *, rules: CleaningRules | None = None, columns=None,
                   cal_end: int | None = None, obs_end: int | None = None, mix=(), scheduler=None) -> Aggregated:
    """Clean and aggregate Parquet files on a ``dask.distributed`` cluster with DuckDB on every worker.

    Two stages of tasks, each a one-thread DuckDB connection on a worker:

    1. each *piece* (a range of at most :data:`PIECE_ROWS` rows of one file,
       cut at row-group edges; DuckDB reads only the row groups in it) is
       normalised and cleaned by the DuckDB engine's SQL
       (:class:`~segwork.features.engines.sql.DuckPlan`: the same value forms
       read or refused, the same rule conditions in the same order), counted
       per row rule, and reduced to its distinct rows with their number of
       copies, split into buckets by a hash of the customer id;
    2. each bucket (every piece's rows of the same customers) merges the
       copies of equal rows, so exact duplicates in different files or row
       groups are found, and runs the per-customer aggregate
       (:func:`~segwork.features.engines.sql.aggregate_sql`).

    Only the per-customer rows and the counts come back to the client. The
    value forms are checked per piece (a ``1.250``-like amount is proven by a
    ``12.50`` in the same piece). ``scheduler``: a ``distributed.Client``, an
    address, or ``None`` for the active client. Raises :class:`DataError` for
    CSV input (write Parquet), no client, or what the DuckDB engine raises
    (naming the file).
    """
    import dask
    import pyarrow.parquet as pq

    rules = (rules or CleaningRules()).resolved()  # one plausible-date window (one "today") on every worker
    if source.kind != "parquet":
        raise DataError(f"{source.name}: engine='dask' reads Parquet files (partitions); convert the CSV to Parquet "
                        "or use engine='duckdb'")
    for f in source.files:
        try:
            pq.ParquetFile(f)
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"{f}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
    client, close = dask_client(scheduler)
    try:
        need_engine_module("duckdb", "dask")  # the workers run DuckDB: say so as this engine's need
        con = connect(threads=1)
        try:  # the columns of the first file, mapped: a missing column is named here, before any task runs
            layout = DuckPlan(con, TransactionSource(str(source.files[0]), source.files[:1], "parquet"), rules,
                              columns).layout
        finally:
            con.close()
        threads = max(1, sum((client.nthreads() or {0: 1}).values()))
        total = sum(pq.ParquetFile(f).metadata.num_rows for f in source.files)
        rounds = max(2, -(-total // (threads * PIECE_ROWS)))  # pieces in a multiple of the threads: no idle one
        pieces = _pieces(source.files, min(PIECE_ROWS, max(MIN_PIECE_ROWS, -(-total // (rounds * threads)))))
        if not pieces:
            raise DataError(f"{source.name}: no transaction rows to read")
        n_buckets = max(2 * threads, -(-total // BUCKET_ROWS))
        rule_end = None
        if rules.observation_end is not None:
            rule_end = int(np.datetime64(pd.Timestamp(rules.observation_end).normalize().to_datetime64(), "D")
                           .astype(np.int64))
        drop_after, dedupe = rules.after_observation_end == "drop", rules.duplicates != "keep"
        cal = obs_end if cal_end is None else cal_end
        stage1 = dask.delayed(_piece_rows, pure=True, nout=2)
        buckets, stats = zip(*[stage1(path, first, n, rules, columns, n_buckets) for path, first, n in pieces])
        stage2 = dask.delayed(_bucket_customers, pure=True)
        per_bucket = [stage2(cal, obs_end, rule_end, drop_after, dedupe, tuple(mix),
                             *[dask.delayed(operator.getitem, pure=True)(b, j) for b in buckets])
                      for j in range(n_buckets)]
        per_bucket, stats = dask.compute(per_bucket, list(stats), scheduler=client.get)
    finally:
        if close:
            client.close()
    report = CleaningReport(source=source.name, layout=layout, rows_read=sum(s["rows_read"] for s in stats))
    if report.rows_read == 0:
        raise DataError(f"{source.name}: no transaction rows to read")
    for rule in ROW_RULES:
        n = sum(s["rules"][rule][0] for s in stats)
        example = next((s["rules"][rule][1] for s in stats if s["rules"][rule][1] is not None), None)
        report.rules.append(RuleResult(rule, getattr(rules, rule), n, example))
        if n and getattr(rules, rule) == "error":
            raise rule_error(source.name, rule, n, example, _RULE_COLUMN[rule])
    done = [b for b in per_bucket if b is not None]
    if not done:
        raise DataError(f"{source.name}: no rows left after cleaning ({report.rows_read:,} read); "
                        + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
                        + ". Check the column mapping and the cleaning rules")
    per_customer = pd.concat([b[0] for b in done], ignore_index=True)
    after = next((b[2] for b in done if b[2] is not None), None)
    agg, first_tx, last_tx = close_report(report, per_customer, rules, source.name, rule_end, lambda: after)
    mixes = {column: pd.concat([b[1][column] for b in done], ignore_index=True) for column in mix}
    return Aggregated(finish_aggregate(agg), first_tx, last_tx, report, mixes)


# --------------------------------------------------------------------------- chunks of customers


def _not_iso(dates: pd.Series) -> pd.Series:
    """How many date texts of a partition are not ISO 8601 (values without a digit are no date at all)."""
    text = dates.dropna().astype(str).str.strip()
    text = text[text.str.contains(r"\d")]
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    return pd.Series([int(parsed.isna().sum())])


def _dates_of(dates: pd.Series, decided, options: ReadOptions) -> pd.Series:
    """The dates of a partition as io reads them: the decided dates, or the texts parsed (ISO 8601, or the
    form given by ``date_format`` / ``dayfirst``, which no data decides)."""
    if pd.api.types.is_datetime64_any_dtype(dates):
        return dates
    if decided is not None:
        return dates.map(decided)
    return parse_dates(dates.astype(object), options.date_format, options.dayfirst, column="date")


def _last_of_partition(dates: pd.Series, decided, options: ReadOptions, rules) -> pd.Series:
    try:
        dates = _dates_of(dates, decided, options)
    except DataError:  # refused again, naming the file, when the partition is cleaned
        return pd.Series([pd.NaT], dtype="datetime64[us]")
    return pd.Series([last_plausible(dates, rules)], dtype="datetime64[us]")


def _chunk_task(raw: pd.DataFrame, payload):
    """One shuffled partition (all rows of its customers) cleaned on a worker, then ``func`` applied."""
    func, args, decided, rules, options, where = payload
    raw = raw.reset_index(drop=True)
    if decided is not None and not pd.api.types.is_datetime64_any_dtype(raw["date"]):
        raw = raw.assign(date=raw["date"].map(decided))
    tx, report = clean_chunk(raw, rules, options, where)
    return func(tx, *args), report.to_dict()


class DaskChunks(CustomerChunks):
    """The Dask engine's chunks: the files read as a Dask DataFrame (CSV with read_transactions' null
    strings), shuffled by customer into at least ``customers / chunk_size`` partitions; each partition is
    cleaned on a worker. The date form is decided once on the distinct date texts (only they come to the
    client) when some text is not ISO 8601 and no ``date_format`` / ``dayfirst`` is given.
    """

    engine = "dask"

    def __init__(self, source: TransactionSource, options: ReadOptions, chunk_size: int, observation_end,
                 scheduler) -> None:
        import dask

        dd = need_engine_module("dask.dataframe", "dask")
        files = [str(f) for f in source.files]
        where = files[0] if len(files) == 1 else f"{len(files)} files"
        rules = options.rules if observation_end is None else replace(options.rules,
                                                                      observation_end=observation_end)
        super().__init__(where, rules, observation_end, 1)
        self.client, self._own = dask_client(scheduler, start_local=True)
        try:
            if source.kind == "parquet":
                ddf = dd.read_parquet(files)
            else:  # the encoding and delimiter read_transactions decides (UTF-16 text can't be split in blocks)
                encoding, sep, skip = text_dialect(files[0], encoding=options.encoding, sep=options.sep,
                                                   columns=options.columns)
                if options.header_row:
                    skip = options.header_row - 1
                ddf = dd.read_csv(files, dtype=str, sep=sep, encoding=encoding, skiprows=skip or None,
                                  keep_default_na=False, na_values=list(CSV_NULL_STRINGS),
                                  blocksize=None if is_wide_encoding(encoding) or skip else "default")
                options = replace(options, sep=sep)
            rename = mapped_columns(options.columns, [str(c) for c in ddf.columns], files[0])
            if rename:
                ddf = ddf.rename(columns=rename)
            missing = missing_column_error(files[0], ddf.columns)
            if missing is not None:
                raise missing
            self.options = options
            no_id = ddf["customer_id"].isnull().sum()  # rows dropped here, counted with the missing_customer_id rule
            ddf = ddf[ddf["customer_id"].notnull()]
            decided = self._decided_dates(ddf["date"], options, where)
            if observation_end is None:
                # the last plausible date of each partition: a year typo must not set the observation end
                last = ddf["date"].map_partitions(_last_of_partition, decided, options, rules,
                                                  meta=pd.Series(dtype="datetime64[us]")).max()
                observation_end = as_day(dask.compute(last, scheduler=self.client.get)[0])
            self.end = observation_end
            n_customers, no_id = dask.compute(ddf["customer_id"].nunique_approx(), no_id, scheduler=self.client.get)
            self.no_id = int(no_id)
            if self.no_id and rules.missing_customer_id == "error":  # dropped above: refuse as the rule says
                raise DataError(f"{where}: {self.no_id:,} row(s) with missing customer id (column customer_id); fix "
                                "the file or set CleaningRules(missing_customer_id='drop') (CLI: --missing-customer-id "
                                "drop)")
            self.n_chunks = max(ddf.npartitions, math.ceil(int(n_customers) / chunk_size), 1)
            ddf = ddf.assign(customer_id=ddf["customer_id"].astype(str))
            self._shuffled = ddf.shuffle(on="customer_id", npartitions=self.n_chunks)
            self._decided = decided
        except BaseException:
            self.close()
            raise

    def _decided_dates(self, dates, options: ReadOptions, where: str):
        """The decided dates (text -> date) when the form must be decided from the data, else None."""
        import dask

        if pd.api.types.is_datetime64_any_dtype(dates.dtype) or options.date_format is not None \
                or options.dayfirst is not None:
            return None
        other = dates.map_partitions(_not_iso, meta=pd.Series(dtype=np.int64)).sum()
        other, distinct = dask.compute(other, dates.nunique_approx(), scheduler=self.client.get)
        if not int(other):
            return None  # every date ISO 8601: read the same in every partition
        if distinct > 1.05 * MAX_DECIDED_DATES:  # refused before the texts come to the client
            raise too_many_dates(where, int(distinct))
        texts = dask.compute(dates.dropna().unique(), scheduler=self.client.get)[0]
        return decide_dates(pd.Series(texts, dtype=object), options, where, self.decisions)

    def map(self, func, *args):
        import dask
        from distributed import as_completed

        [payload] = self.client.scatter([(func, args, self._decided, self.rules, self.options, self.where)],
                                        broadcast=True)
        task = dask.delayed(_chunk_task, pure=False)
        futures = self.client.compute([task(part, payload) for part in self._shuffled.to_delayed()])
        with self.client.as_current():  # as_completed finds the client as the current one
            for fut in as_completed(futures):
                result, report = fut.result()
                fut.release()
                self._reports.append(CleaningReport.from_dict(report))
                yield result

    @property
    def report(self) -> CleaningReport:
        report = super().report
        if self.no_id:
            report.rows_read += self.no_id
            rule = next((r for r in report.rules if r.rule == "missing_customer_id"), None)
            if rule is not None:
                rule.rows += self.no_id
        return report

    def close(self) -> None:
        if self._own and self.client is not None:
            self.client.close()
        self.client = None

