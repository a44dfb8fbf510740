"""The Dask engine: Parquet row groups cleaned on the workers of a ``dask.distributed`` cluster, shuffled by
customer, aggregated per customer partition (with the pandas reference aggregate); only per-customer rows
are collected.
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import CleaningReport, CleaningRules, RuleResult, _apply_layout, _detect_layout, clean_transactions
from .aggregate import (AGGREGATE_COLUMNS, ROW_RULES, Aggregated, close_report, day_numbers, empty_aggregate,
                        finish_aggregate, mix_counts, pandas_aggregate_frame)
from .sources import TransactionSource, need_engine_module

__all__ = ["dask_aggregate"]


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

    raw = pq.ParquetFile(path).read_row_group(row_group).to_pandas()
    raw = _apply_layout(raw, layout, columns, path)
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
            found = _detect_layout(names)
            if layout is None:
                layout = found
                _apply_layout(pd.DataFrame(columns=names), layout, columns, str(f))  # names a missing column
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
