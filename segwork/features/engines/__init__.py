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
* ``engine="dask"`` runs the DuckDB engine's SQL on the workers of a
  ``dask.distributed`` cluster (the active client, or ``scheduler=ADDRESS``):
  each piece of the Parquet files (a range of row groups) is cleaned and
  reduced to its distinct rows, the rows are shuffled by a hash of the
  customer and each customer is aggregated on one worker; only the
  per-customer result is collected.

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

The Dask engine reads and refuses what the DuckDB engine does (its SQL runs on
every worker), with one difference: the value forms are checked per piece, so
a ``1.250``-like amount must be proven by a ``12.50`` in the same piece
(:data:`~segwork.features.engines.dask.PIECE_ROWS` rows at most). Exact
duplicates are found across files and pieces (the shuffle by customer brings
a row's copies together).

Chunks of customers
-------------------
:func:`customer_chunks` is the one iterator per engine over "all cleaned
transactions of a chunk of customers" (``segwork score`` aggregates and scores
each chunk): pandas, DuckDB (hash parts in a temporary folder) and Dask (a
shuffle by customer, each partition cleaned and mapped on a worker). The date
form and the day the histories end are decided once on all the rows; see
:mod:`segwork.features.engines.chunks`.

Modules: ``sources`` (what to read, the pandas reader), ``aggregate`` (the
per-customer aggregate and its pandas reference), ``sql`` (the DuckDB SQL), ``onepass`` (the DuckDB
engine's one pass: rules, counts, duplicates and aggregate),
``duckdb``, ``dask``, ``chunks`` and ``iterator`` (the chunk iterators).
"""
from __future__ import annotations

from .aggregate import AGGREGATE_COLUMNS, Aggregated, pandas_aggregate, pandas_aggregate_frame
from .chunks import CustomerChunks, ReadOptions
from .dask import dask_aggregate
from .duckdb import DUCKDB_CONFIG, ROWS_PER_PASS, connect, duckdb_aggregate, duckdb_aggregate_frame, duckdb_readable
from .sources import (CSV_NULL_STRINGS, ENGINES, TransactionSource, choose_engine, csv_skip, is_path_like,
                      need_engine_module, read_source_pandas, resolve_source)
from .iterator import customer_chunks
from .sql import implausible_date_sql

__all__ = ["ENGINES", "AGGREGATE_COLUMNS", "DUCKDB_CONFIG", "ROWS_PER_PASS", "CSV_NULL_STRINGS", "Aggregated",
           "TransactionSource", "resolve_source", "is_path_like", "choose_engine", "csv_skip", "duckdb_readable",
           "implausible_date_sql", "read_source_pandas", "duckdb_aggregate", "duckdb_aggregate_frame",
           "dask_aggregate", "pandas_aggregate", "pandas_aggregate_frame", "need_engine_module", "connect",
           "customer_chunks", "CustomerChunks", "ReadOptions"]
