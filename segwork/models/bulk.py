"""Bulk scoring: every customer of a transaction log scored with a saved model folder, chunk by chunk.

``segwork score --models DIR --transactions PATH --output scores.parquet`` calls
:func:`score_transactions`. It is the batch twin of the segmentation service:
the same :class:`~segwork.models.store.ModelStore` (models fitted once by
``segwork models build``), the same value formulas
(:func:`segwork.models.value.value_columns`) and the same
``Segmentation.predict`` (:func:`segwork.models.score.score_table`); nothing
is refitted. This is how a CRM refreshes the scores of millions of customers
each night.

How the work is cut (never more than one chunk of customers in pandas):

* ``engine="pandas"``: the transactions are read into memory
  (:func:`segwork.io.read_transactions`); customers are scored in chunks of
  ``chunk_size``.
* ``engine="duckdb"``: DuckDB reads the Parquet/CSV files and writes them
  once, hash-partitioned by customer, to a temporary folder beside the
  output (``ceil(customers / chunk_size)`` parts; every transaction of a
  customer lands in the same part). Each part is then aggregated, scored and
  appended to the output. Peak memory is one part, not the whole log.
* ``engine="dask"``: on a ``dask.distributed`` cluster (``scheduler``
  address, else the active client, else a local one), the transactions are
  read as a Dask DataFrame, shuffled by customer, and each partition is
  aggregated and scored on the workers; the client appends the partitions to
  the output as they finish.

The reading options of ``segwork data validate`` (``read_options``: ``--map``, ``--sep``, ``--encoding``,
``--header-row``, the date options, the cleaning rules ...) reach every engine that can honour them
(:data:`ENGINE_READ_OPTIONS`); another is refused in one line naming the engine that does.

Each chunk goes through :func:`score_table`, so every engine gives the same
scores for the same customer (floating-point sums in another order aside).
The output is written atomically: Parquet, chunk by chunk, to a temporary
file in the output's folder, renamed into place at the end.
"""
from __future__ import annotations

import math
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..features import customer_table
from ..features.engines import ENGINES
from ..io import CleaningReport, _parse_dates, implausible_dates, is_wide_encoding, read_transactions, text_dialect
from .output import TMP_TAG, ParquetOutput, Progress, remove_stale_temporaries
from .reading import ReadOptions, as_day, check_read_options, command_words, renamed_columns, score_sources, utf8_files
from .score import chunk_table, clean_chunk, empty_scores, scorable, score_table
from .store import ModelStore, load_models

__all__ = ["score_transactions", "ScoreResult", "ENGINES", "DEFAULT_CHUNK_SIZE", "MAX_DECIDED_DATES"]

#: Customers per chunk (about 1-2 GB of pandas working memory at 10 transactions per customer).
DEFAULT_CHUNK_SIZE = 1_000_000


@dataclass
class ScoreResult:
    """What :func:`score_transactions` wrote: ``output`` path, ``customers`` scored, ``chunks``,
    ``observation_end`` (the day the histories end), ``engine``, ``seconds``, the segmentations
    ``skipped`` with the reason."""

    output: Path
    customers: int
    chunks: int
    observation_end: str
    engine: str
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    #: what cleaning and reading decided (:class:`segwork.io.CleaningReport`, the one ``data validate`` prints):
    #: rows read and kept and each rule's count on every engine, the reading decisions each engine makes
    report: "CleaningReport | None" = None



def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _duckdb_source(files: list[str], kind: str, reading: "ReadOptions | None" = None) -> str:
    reading = reading or ReadOptions()
    listing = "[" + ", ".join(_lit(f) for f in files) + "]"
    if kind == "parquet":
        return f"read_parquet({listing}, union_by_name = true)"
    # CSV: every column as text; read_transactions parses each chunk like a file (the same reading decisions);
    # title lines above the header skipped as read_transactions finds them (or from --header-row)
    from ..features.engines import csv_skip

    skip = reading.header_row - 1 if reading.header_row else csv_skip(files)
    opts = ["all_varchar = true", "union_by_name = true", "header = true"]
    if skip:
        opts.append(f"skip = {int(skip)}")
    if reading.sep:
        opts.append(f"delim = {_lit(reading.sep)}")
    return f"read_csv({listing}, {', '.join(opts)})"


def _score_pandas(store, files, kind, as_of, chunk_size, out, progress, reading=None) -> tuple[int, int, str, CleaningReport]:
    reading = reading or ReadOptions()
    frames, reports = [], []
    for f in files:
        options = reading.given()
        if kind == "parquet":
            options.setdefault("layout", "canonical")
        if as_of is not None:  # later rows counted by the after_observation_end rule, as on duckdb and dask
            options["rules"] = replace(reading.rules, observation_end=as_of)
        tx, report = read_transactions(f, **options)
        frames.append(tx)
        reports.append(report)
    report = reports[0] if len(reports) == 1 else CleaningReport.merged(
        f"{len(files)} files", reports[0].layout, reports)
    tx = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if as_of is not None:
        tx = tx[tx["date"].dt.normalize() <= as_of]
    if tx.empty:
        raise DataError(f"{files[0]}: no transaction left after cleaning" + (f" up to {as_of.date()}" if as_of else ""))
    end = as_of if as_of is not None else tx["date"].max().normalize()
    codes, uniques = pd.factorize(tx["customer_id"].astype(str))
    n_chunks = max(1, math.ceil(len(uniques) / chunk_size))
    bar = Progress(n_chunks, progress)
    customers = 0
    chunk_of = codes // chunk_size
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange(n_chunks + 1))
    for i in range(n_chunks):
        part = tx.iloc[order[bounds[i]:bounds[i + 1]]]
        scores = score_table(store, chunk_table(part, end))
        out.write(scores)
        customers += len(scores)
        bar.step(len(scores))
    bar.close()
    return customers, n_chunks, str(end.date()), report


def _score_duckdb(store, files, kind, as_of, chunk_size, out, progress, tmp_parent,
                  reading=None) -> tuple[int, int, str, CleaningReport]:
    from ..features.engines import need_engine_module

    duckdb = need_engine_module("duckdb", "duckdb")
    from ..features.engines import TransactionSource, duckdb_readable

    reading = reading or ReadOptions()
    where = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
    if kind == "csv" and not reading.encoding:
        from ..io import _text_lines

        for f in files:  # UTF-16 without a byte-order mark: io's line naming --encoding, not DuckDB's sniffer
            _text_lines(Path(f), None, whole_file=False)
    # text in another encoding (--encoding) and UTF-16/32 text with a byte-order mark (Excel's "Unicode Text") go
    # to DuckDB as temporary UTF-8 copies, the rest as it is
    with utf8_files(files, reading.encoding if kind == "csv" else None, tmp_parent) as utf8, \
            duckdb_readable(TransactionSource(where, tuple(Path(f) for f in utf8), kind)) as readable:
        try:
            return _score_duckdb_files(store, [str(f) for f in readable.files], kind, as_of, chunk_size, out,
                                       progress, tmp_parent, where, reading)
        except duckdb.Error as exc:  # a file DuckDB cannot read: one line, not a traceback
            # DuckDB names the file it read: a temporary UTF-8 copy when an encoding was given, never the user's
            text = re.sub(r"""["']?[^"'\s]*\.score-parts\.[^"'\s]*["']?""", f'"{where}"',
                          str(exc).strip().splitlines()[0])
            enc = (f" read as --encoding {reading.encoding}: check that it is the file's encoding;"
                   if reading.encoding else "")
            raise DataError(f"{where}: DuckDB cannot read it ({text});{enc} check it with 'segwork data validate', "
                            "or score with --engine pandas") from None


#: Distinct date texts in a form other than ISO 8601 the duckdb engine decides with read_transactions' date
#: reader (one value per distinct text: a few thousand for dates, more with times of day); above it: --engine dask.
MAX_DECIDED_DATES = 2_000_000


def _decided_dates(con, src: str, where: str, reading: "ReadOptions", decisions: list | None = None) -> str | None:
    """A table of date text -> ISO timestamp decided as read_transactions decides (None when all are ISO 8601).

    Day-first / month-first, ``DD.MM.YYYY``, ``08-Mar-2014``, ``YYYYMMDD`` ... are decided by
    :func:`segwork.io._parse_dates` on the column's distinct values, which is what ``read_transactions``
    decides on; DuckDB then joins the texts to their dates. ``--date-format`` / ``--dayfirst`` decide instead.
    """
    given = reading.date_format is not None or reading.dayfirst is not None
    v = "trim(CAST(date AS VARCHAR))"
    if not given:
        # trim(): a bare TRY_CAST is pushed into DuckDB's CSV reader, which then fails on the first other form
        other = con.execute(f"SELECT 1 FROM (SELECT {v} AS v FROM {src}) WHERE v IS NOT NULL AND "
                            "TRY_CAST(v AS TIMESTAMP) IS NULL AND regexp_matches(v, '[0-9]') LIMIT 1").fetchone()
        if other is None:  # every date ISO 8601 (the scan stops at the first other one)
            return None
    n = con.execute(f"SELECT count(DISTINCT {v}) FROM {src}").fetchone()[0]
    if n > MAX_DECIDED_DATES:
        raise DataError(f"{where}: column 'date' is not in ISO 8601 (2020-12-31) and has {n:,} distinct values, "
                        f"more than the duckdb engine decides the form of ({MAX_DECIDED_DATES:,}); score with "
                        "--engine dask or --engine pandas, or write the dates as ISO 8601")
    texts = con.execute(f"SELECT DISTINCT {v} AS raw FROM {src} WHERE {v} IS NOT NULL").df()["raw"].astype(object)
    parsed = _parse_dates(texts, reading.date_format, reading.dayfirst, column="date", source=where,
                          decisions=decisions)
    table = pd.DataFrame({"raw": texts.to_numpy(), "iso": pd.Series(parsed).dt.strftime("%Y-%m-%d %H:%M:%S")
                          .to_numpy()})
    con.register("segwork_dates", table)
    return "segwork_dates"


def _score_duckdb_files(store, files, kind, as_of, chunk_size, out, progress, tmp_parent,
                        where, reading=None) -> tuple[int, int, str, CleaningReport]:
    from ..features.engines import connect, implausible_date_sql

    reading = reading or ReadOptions()
    decisions, reports = [], []
    src = _duckdb_source(files, kind, reading)
    con = connect()  # the settings of segwork.features.engines.DUCKDB_CONFIG (memory_limit, threads, temp_directory)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        rename = renamed_columns(reading.columns, cols, where)
        if rename:
            src = (f"(SELECT * RENAME ({', '.join(f'{_q(a)} AS {_q(b)}' for a, b in rename.items())}) "
                   f"FROM {src})")
            cols = [rename.get(c, c) for c in cols]
        missing = [c for c in ("customer_id", "date", "amount") if c not in cols]
        if missing:
            raise DataError(f"{where}: no {missing[0]!r} column (columns: {', '.join(cols)}); score reads the "
                            "canonical columns customer_id, date, amount: map yours with --map, e.g. "
                            f"--map '<your column>={missing[0]}' (as 'segwork data validate' does)")
        if kind == "csv" or reading.date_format or reading.dayfirst is not None:
            dates = _decided_dates(con, src, where, reading, decisions)
            if dates is not None:  # dates read as read_transactions reads them, then ISO text for the parts
                src = (f"(SELECT s.* REPLACE (d.iso AS date) FROM {src} AS s "
                       f"LEFT JOIN {dates} AS d ON trim(CAST(s.date AS VARCHAR)) = d.raw)")
        stamp = "CAST(date AS TIMESTAMP)" if kind == "parquet" else "TRY_CAST(trim(date) AS TIMESTAMP)"
        # the last plausible date: a year typo (2203) or a sentinel (9999-12-31) is dropped by the cleaning rules,
        # so it must not set the observation end either (unless they are kept)
        rules = reading.rules.resolved()
        last_date = ("max(_d)" if rules.implausible_date == "keep"
                     else f"max(_d) FILTER (WHERE NOT coalesce({implausible_date_sql('_d', rules)}, false))")
        n_customers, last = con.execute(f"SELECT count(DISTINCT customer_id), {last_date} FROM "
                                        f"(SELECT customer_id, {stamp} AS _d FROM {src} WHERE customer_id IS NOT NULL)").fetchone()
        if not n_customers:
            raise DataError(f"{files[0]}: no transaction with a customer id")
        end = as_of if as_of is not None else as_day(last)
        n_chunks = max(1, math.ceil(n_customers / chunk_size))
        tmp = Path(tempfile.mkdtemp(prefix=f".score-parts.{TMP_TAG}", dir=tmp_parent))
        try:
            # one pass: every transaction of a customer into the same part
            con.execute(f"COPY (SELECT *, CAST(hash(CAST(customer_id AS VARCHAR)) % {n_chunks} AS BIGINT) "
                        f"AS _part FROM {src}) TO '{tmp}' (FORMAT parquet, PARTITION_BY (_part))")
            parts = sorted(p for p in tmp.iterdir() if p.is_dir())
            bar = Progress(len(parts), progress)
            customers = 0
            for part in parts:
                # cleaned and aggregated in DuckDB (segwork.features.customer_table, engine="duckdb"): only the
                # part's per-customer rows come into pandas. Not overlapped with the scoring of the previous part
                # in a thread: DuckDB already keeps both cores busy, and the overlap measured no faster (2M
                # transactions, 4 parts: 33-46 s against 31-33 s) while holding two DuckDB databases in memory.
                glob = str(part / "*.parquet")
                try:
                    table = customer_table(glob, observation_end=end, engine="duckdb", rules=rules)
                except DataError as exc:  # name the user's file, not the temporary part
                    raise DataError(command_words(str(exc).replace(glob, where))) from None
                reports.append(table.attrs.pop("cleaning_report", None))
                if table.empty:
                    bar.step(0)
                    continue
                scores = score_table(store, table)
                out.write(scores)
                customers += len(scores)
                bar.step(len(scores))
                del table, scores
            bar.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        con.close()
    report = CleaningReport.merged(where, "canonical", reports)
    known = {str(x) for x in report.decisions}
    report.decisions[:0] = [d for d in decisions if str(d) not in known]
    return customers, n_chunks, str(end.date()), report


def _slim(store: ModelStore) -> ModelStore:
    """The store without its per-customer data (what a worker needs to score: models and segmenters)."""
    import copy

    segs = {}
    for name, seg in store.segmentations.items():
        s = copy.copy(seg)
        if getattr(s, "labels", None) is not None:
            s.labels = s.labels.iloc[:0]
        segs[name] = s
    return ModelStore(folder=store.folder, manifest=store.manifest, table=store.table.iloc[:0],
                      segmentations=segs, transaction_model=store.transaction_model,
                      spend_model=store.spend_model, clv_settings=store.clv_settings)


def _last_plausible(dates: pd.Series, rules, reading=None) -> pd.Series:
    """The last date of a partition that the ``implausible_date`` rule keeps (one value, NaT when none).

    Text dates are read as read_transactions reads them (day-first decided from the values, --dayfirst,
    --date-format); a partition whose dates it refuses gives NaT here and is refused by the cleaning."""
    reading = reading or ReadOptions()
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = _parse_dates(dates.astype(object), reading.date_format, reading.dayfirst, column="date")
        except DataError:
            return pd.Series([pd.NaT], dtype="datetime64[us]")
    if rules.implausible_date == "keep":
        return pd.Series([dates.max()], dtype="datetime64[us]")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.astype("datetime64[us]")
    return pd.Series([dates[~implausible_dates(dates, rules)].max()], dtype="datetime64[us]")


def _score_partition(raw: pd.DataFrame, store: ModelStore, end, where: str, reading=None) -> pd.DataFrame:
    """Score one Dask partition (all transactions of its customers): clean, aggregate, score."""
    tx, report = clean_chunk(raw.reset_index(drop=True), end, where, reading)
    out = empty_scores(store).reset_index() if tx.empty else score_table(store, chunk_table(tx, end)).reset_index()
    out.attrs = {"cleaning_report": report.to_dict()}  # back to the client with the scores (summed there)
    return out


def _client(scheduler: str | None):
    from ..features.engines import need_engine_module

    distributed = need_engine_module("distributed", "dask")
    Client, get_client = distributed.Client, distributed.get_client
    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), True
        except (OSError, TimeoutError) as exc:
            raise DataError(f"score: no Dask scheduler answers at {scheduler} ({exc}); start one "
                            "(dask scheduler) or give the right --scheduler address") from None
    try:
        return get_client(), False
    except ValueError:
        import dask

        address = dask.config.get("scheduler-address", None)  # DASK_SCHEDULER_ADDRESS (segwork report --scheduler)
        if address:
            return _client(address)
        # a local cluster for this run only: no dashboard (its port 8787 may be taken: a 4-line UserWarning on
        # success) and no worker log on stderr (a refused partition is "distributed.worker - ERROR - Compute
        # Failed ... Traceback" from the worker processes, which the CLI's held logs cannot catch; the error
        # itself comes back to the client and is the one line)
        import logging

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*[Pp]ort .* is already in use.*")
            return Client(processes=True, dashboard_address=None, silence_logs=logging.CRITICAL), True


def _score_dask(store, files, kind, as_of, chunk_size, out, progress, scheduler,
                reading=None) -> tuple[int, int, str, CleaningReport]:
    import dask.dataframe as dd
    from distributed import as_completed

    reading = reading or ReadOptions()
    client, own = _client(scheduler)
    try:
        sep = reading.sep
        if kind == "parquet":
            ddf = dd.read_parquet(files)
        else:  # the encoding and delimiter read_transactions decides (UTF-16 text can't be split in blocks)
            encoding, sep, skip = text_dialect(files[0], encoding=reading.encoding, sep=reading.sep,
                                               columns=reading.columns)
            if reading.header_row:
                skip = reading.header_row - 1
            ddf = dd.read_csv(files, dtype=str, sep=sep, encoding=encoding, skiprows=skip or None,
                              blocksize=None if is_wide_encoding(encoding) or skip else "default")
        rename = renamed_columns(reading.columns, [str(c) for c in ddf.columns], str(files[0]))
        if rename:
            ddf = ddf.rename(columns=rename)
        missing = [c for c in ("customer_id", "date", "amount") if c not in ddf.columns]
        if missing:
            raise DataError(f"{files[0]}: no {missing[0]!r} column (columns: {', '.join(map(str, ddf.columns))}); "
                            "score reads the canonical columns customer_id, date, amount: map yours with --map, "
                            f"e.g. --map '<your column>={missing[0]}'")
        # the rules resolved once (one "today" for the plausible-date window on every worker and step)
        reading = replace(reading, sep=sep, rules=reading.rules.resolved())
        no_id = ddf["customer_id"].isnull().sum()  # rows dropped here, counted with the missing_customer_id rule
        ddf = ddf[ddf["customer_id"].notnull()]
        if as_of is not None:
            end = as_of
        else:
            # the last plausible date of each partition: a year typo must not set the observation end
            last = ddf["date"].map_partitions(_last_plausible, reading.rules, reading,
                                              meta=pd.Series(dtype="datetime64[us]"))
            end = as_day(last.max().compute())
        import dask

        n_customers, no_id = dask.compute(ddf["customer_id"].nunique_approx(), no_id)
        n_customers, no_id = int(n_customers), int(no_id)
        if no_id and reading.rules.missing_customer_id == "error":  # dropped above: refuse as the rule says
            raise DataError(f"{files[0] if len(files) == 1 else f'{len(files)} files'}: {no_id:,} row(s) with "
                            "missing customer id (column customer_id); fix the file or set "
                            "CleaningRules(missing_customer_id='drop') (CLI: --missing-customer-id drop)")
        n_parts = max(ddf.npartitions, math.ceil(n_customers / chunk_size), 1)
        ddf = ddf.assign(customer_id=ddf["customer_id"].astype(str))
        shuffled = ddf.shuffle(on="customer_id", npartitions=n_parts)
        meta = empty_scores(store).reset_index()
        where = str(files[0]) if len(files) == 1 else f"{len(files)} files"
        slim = client.scatter(_slim(store), broadcast=True)
        scored = shuffled.map_partitions(_score_partition, slim, end, where, reading, meta=meta)
        futures = client.compute(scored.to_delayed())
        bar = Progress(len(futures), progress, what="partition")
        customers, reports = 0, []
        for fut in as_completed(futures):
            part = fut.result()
            fut.release()
            if part.attrs.get("cleaning_report"):
                reports.append(CleaningReport.from_dict(part.attrs["cleaning_report"]))
            if len(part):
                out.write(part.set_index("customer_id"))
            customers += len(part)
            bar.step(len(part))
        bar.close()
    finally:
        if own:
            client.close()
    report = CleaningReport.merged(where, "canonical", reports)
    if no_id:
        report.rows_read += no_id
        rule = next((r for r in report.rules if r.rule == "missing_customer_id"), None)
        if rule is not None:
            rule.rows += no_id
    return customers, n_parts, str(end.date()), report


def score_transactions(models, transactions, output, *, engine: str = "duckdb", scheduler: str | None = None,
                       chunk_size: int = DEFAULT_CHUNK_SIZE, as_of=None, progress: bool = True,
                       read_options: dict | None = None) -> ScoreResult:
    """Score every customer of a transaction log with a model folder; write Parquet atomically.

    Parameters
    ----------
    models: a folder written by ``segwork models build``
        (:func:`segwork.models.store.build_models`), or a loaded
        :class:`~segwork.models.store.ModelStore`.
    transactions: a Parquet or CSV file, a folder of them, or a glob, with
        the canonical columns (``customer_id``, ``date``, ``amount``;
        ``category``, ``channel``, ``quantity``, ``invoice_id`` used when
        present; other names mapped by ``read_options["columns"]``). Every
        chunk is cleaned with the rules of :func:`segwork.io.read_transactions`
        (``read_options["rules"]``, default: the default rules).
    output: the Parquet file to write (replaced atomically; a failure leaves
        an existing file as it was).
    engine: ``"duckdb"`` (default; out of core on one machine), ``"dask"``
        (partition by partition on a ``dask.distributed`` cluster) or
        ``"pandas"`` (all transactions in memory).
    scheduler: address of a running Dask scheduler (``tcp://host:8786``);
        engine ``"dask"`` only (default: the active client, else dask's
        ``scheduler-address`` setting / ``DASK_SCHEDULER_ADDRESS``, else a new
        local cluster).
    chunk_size: customers per chunk (>= 1); for Dask, the shuffle makes at
        least ``customers / chunk_size`` partitions.
    as_of: the day the histories end (``T`` and recency are measured to it;
        later transactions are ignored). Default: the last transaction date.
    progress: a line per chunk on stderr.
    read_options: keywords of :func:`segwork.io.read_transactions` (``columns``, ``sep``, ``decimal``,
        ``encoding``, ``layout``, ``date_format``, ``dayfirst``, ``sheet_name``, ``header_row``, ``rules``),
        what ``segwork score`` takes as ``--map``, ``--sep`` ... like ``segwork data validate``. The pandas
        engine honours them all and reads any single file ``read_transactions`` reads (Excel workbooks
        included); duckdb and dask honour those in :data:`ENGINE_READ_OPTIONS` (duckdb decides non-ISO dates
        with read_transactions' date reader on their distinct values); another is refused with one line naming
        the engine that honours it. ``rules.observation_end`` (``--observation-end``) is ``as_of`` when that
        is not given.

    Returns a :class:`ScoreResult`. The file has one row per customer with
    ``customer_id`` and the columns of :func:`score_table`, in chunk order
    (not sorted).

    Raises DataError (one line naming the path and the fix) for a missing,
    incomplete, changed or other-version model folder, a path matching no
    file, missing columns, an unknown engine or a bad ``chunk_size`` /
    ``as_of``.
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise DataError(f"score: engine={engine!r} is not known; use one of {', '.join(ENGINES)}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise DataError(f"score: chunk_size must be a whole number of customers >= 1, got {chunk_size!r}")
    if scheduler and engine != "dask":
        raise DataError(f"score: a scheduler address is used by engine 'dask' only (engine is {engine!r}); "
                        "add --engine dask")
    reading = check_read_options(read_options, engine)
    if reading.rules.observation_end is not None:
        end_rule = as_day(reading.rules.observation_end)
        if as_of is not None and as_day(as_of) != end_rule:
            raise DataError(f"score: --observation-end {end_rule.date()} and --as-of {as_day(as_of).date()} name "
                            "different days; give one")
        as_of = end_rule
    store = models if isinstance(models, ModelStore) else load_models(models)
    files, kind, _name = score_sources(transactions, engine)
    output = Path(output)
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"score: {output.name!r} must end in .parquet")
    if output.is_dir():
        raise DataError(f"score: {output} is a folder; give a file name such as {output / 'scores.parquet'}")
    day = None if as_of is None else as_day(as_of)
    _use, skipped = scorable(store)
    remove_stale_temporaries(output.parent, output.name)
    out = ParquetOutput(output)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            if engine == "pandas":
                customers, chunks, end, report = _score_pandas(store, files, kind, day, chunk_size, out, progress, reading)
            elif engine == "duckdb":
                customers, chunks, end, report = _score_duckdb(store, files, kind, day, chunk_size, out, progress,
                                                       output.parent, reading)
            else:
                customers, chunks, end, report = _score_dask(store, files, kind, day, chunk_size, out, progress, scheduler,
                                                     reading)
        out.commit(empty_scores(store))
    except BaseException:
        out.abort()
        raise
    return ScoreResult(output=output, customers=customers, chunks=chunks, observation_end=end, engine=engine,
                       seconds=time.perf_counter() - t0, skipped=skipped, report=report)
