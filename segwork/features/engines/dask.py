"""The Dask engine: Parquet row groups cleaned on the workers of a ``dask.distributed`` cluster, shuffled by
customer, aggregated per customer partition (with the pandas reference aggregate); only per-customer rows
are collected.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import (CleaningReport, CleaningRules, RuleResult, apply_layout, detect_layout, parse_dates,
                   clean_transactions, is_wide_encoding, text_dialect)
from .aggregate import (AGGREGATE_COLUMNS, ROW_RULES, Aggregated, close_report, day_numbers, empty_aggregate,
                        finish_aggregate, mix_counts, pandas_aggregate_frame)
from .chunks import (MAX_DECIDED_DATES, CustomerChunks, ReadOptions, as_day, clean_chunk, decide_dates, last_plausible,
                     mapped_columns, missing_column_error, too_many_dates)
from .sources import CSV_NULL_STRINGS, TransactionSource, need_engine_module

__all__ = ["dask_aggregate", "dask_client", "DaskChunks"]


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


def _clean_piece(path: str, row_group: int, layout: str, columns, rules: CleaningRules):
    """One Parquet row group read and cleaned by read_transactions' rules (on a worker): (frame, report dict)."""
    import pyarrow.parquet as pq

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
    """The per-customer columns of :func:`aggregate_sql` for one partition holding all rows of its customers."""
    dup = part.duplicated(keep="first").to_numpy() if dedupe else np.zeros(len(part), dtype=bool)
    ids = part["customer_id"].astype(str)
    dup_rows = pd.Series(dup.astype(np.int64), index=ids.to_numpy()).groupby(level=0).sum()
    rows = part[~dup]
    day = day_numbers(rows["date"])
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
    agg = (pandas_aggregate_frame(clean, cal, obs_end) if len(clean) else empty_aggregate()).set_index("customer_id")
    agg.index = agg.index.astype(str)
    for col in AGGREGATE_COLUMNS:
        out[col] = agg[col].reindex(out.index, fill_value=0).to_numpy()
    return out.reset_index()


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

    rules = (rules or CleaningRules()).resolved()  # one plausible-date window (one "today") on every worker
    if source.kind != "parquet":
        raise DataError(f"{source.name}: engine='dask' reads Parquet files (partitions); convert the CSV to Parquet "
                        "or use engine='duckdb'")
    client, close = dask_client(scheduler)
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
        mixes = [ddf.map_partitions(mix_counts, column, obs_end, rule_end, drop_after, dedupe,
                                    meta=mix_counts(meta, column, obs_end, rule_end, drop_after, dedupe))
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
    for rule in ROW_RULES:
        hits = [x for r in part_reports for x in r.rules if x.rule == rule]
        example = next((x.example for x in hits if x.example is not None), None)
        report.rules.append(RuleResult(rule, getattr(rules, rule), sum(x.rows for x in hits), example))
    report.decisions = list({str(d): d for r in part_reports for d in r.decisions}.values())  # each once
    report.warnings = list(dict.fromkeys(w for r in part_reports for w in r.warnings))
    if report.rows_read == 0:
        raise DataError(f"{source.name}: no transaction rows to read")
    agg, first_tx, last_tx = close_report(report, per_customer, rules, source.name, rule_end)
    mixes_out = {column: frame for column, frame in zip([c for c in mix if c in meta.columns], mix_frames)}
    return Aggregated(finish_aggregate(agg), first_tx, last_tx, report, mixes_out)


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

