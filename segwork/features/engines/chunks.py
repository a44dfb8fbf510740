"""One iterator per engine: all cleaned transactions of a chunk of customers.

:func:`~segwork.features.engines.iterator.customer_chunks` gives a :class:`CustomerChunks` for a source and an engine. Iterating it yields,
chunk after chunk, every cleaned transaction (canonical columns, :func:`segwork.io.clean_transactions`
under one :class:`~segwork.io.CleaningRules`) of at most about ``chunk_size`` customers: a customer's rows
are all in one chunk, so the chunk can be aggregated per customer on its own. ``map(func, *args)``
yields ``func(chunk, *args)`` instead; on the Dask engine ``func`` runs on the workers, so only its results
come back. After the last chunk, :attr:`CustomerChunks.report` is the cleaning report of all of them.

What is decided from the data is decided once, on all of it, never per chunk:

* the rows are cleaned together where duplicates can meet: all files of a source on pandas (exact
  duplicate rows in two files count as duplicates, as ``read_transactions`` on the combined rows counts
  them), and every row of a customer in its chunk on DuckDB and Dask (duplicates share a customer);
* the date convention (day-first or month-first, ``DD.MM.YYYY`` ...) is decided by io's date parser on
  the distinct date texts of the whole source, then applied to every chunk (:func:`decide_dates`);
* the day the histories end (:attr:`CustomerChunks.end`): ``observation_end``, else the last plausible date;
* CSV text reads the same null strings on every engine (:data:`~segwork.features.engines.CSV_NULL_STRINGS`).

The engines: ``pandas`` reads the whole source into memory (any file ``read_transactions`` reads);
``duckdb`` writes the rows once, hash-partitioned by customer, to a temporary folder and cleans one part
at a time (:class:`~segwork.features.engines.duckdb.DuckdbChunks`); ``dask`` shuffles the rows by
customer on a ``dask.distributed`` cluster and cleans each partition on a worker
(:class:`~segwork.features.engines.dask.DaskChunks`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import CleaningReport, CleaningRules, apply_layout, parse_dates, clean_transactions, implausible_dates
from .sources import TransactionSource, read_source_pandas

__all__ = ["ReadOptions", "READ_KEYWORDS", "ENGINE_READ_OPTIONS", "MAX_DECIDED_DATES", "CustomerChunks",
           "PandasChunks", "clean_chunk", "decide_dates", "too_many_dates", "last_plausible", "mapped_columns",
           "missing_column_error", "as_day"]

#: The keywords of :func:`segwork.io.read_transactions` besides ``rules``, as :class:`ReadOptions` holds them.
READ_KEYWORDS = ("columns", "sep", "decimal", "encoding", "layout", "date_format", "dayfirst", "sheet_name",
                 "header_row")
#: The reading options each engine honours (``rules`` on all of them).
ENGINE_READ_OPTIONS = {
    "pandas": frozenset({*READ_KEYWORDS, "rules"}),
    "duckdb": frozenset({"columns", "sep", "encoding", "date_format", "dayfirst", "header_row", "rules"}),
    "dask": frozenset({"columns", "sep", "encoding", "date_format", "dayfirst", "decimal", "header_row", "rules"}),
}
#: Distinct date texts the out-of-core engines decide the form of with io's date reader (one value per
#: distinct text: a few thousand for dates, more with times of day). Above it ISO 8601 dates, or a given
#: ``date_format``, are read; other forms are refused.
MAX_DECIDED_DATES = 2_000_000


@dataclass(frozen=True)
class ReadOptions:
    """How to read the transactions: the keywords of :func:`segwork.io.read_transactions` the user gave."""

    rules: CleaningRules = field(default_factory=CleaningRules)
    columns: dict | None = None
    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    layout: str | None = None
    date_format: str | None = None
    dayfirst: bool | None = None
    sheet_name: str | int | None = None
    header_row: int | None = None

    def given(self) -> dict:
        """The read_transactions keywords set (rules only when not the defaults)."""
        out = {k: getattr(self, k) for k in READ_KEYWORDS if getattr(self, k) is not None}
        if self.rules != CleaningRules():
            out["rules"] = self.rules
        return out


def as_day(value, what: str = "observation_end") -> pd.Timestamp:
    """``value`` as a day (midnight); DataError naming ``what`` when it is not a date."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise DataError(f"score: {what}={value!r} is not a date; give one such as 2024-12-31")
    return ts.normalize()


def mapped_columns(columns: dict | None, names: list[str], where: str) -> dict[str, str]:
    """``columns`` (source -> canonical) checked against the source's column names (names stripped)."""
    if not columns:
        return {}
    stripped = [str(n).strip() for n in names]
    missing = [c for c in columns if c not in stripped]
    if missing:
        raise DataError(f"{where}: --map names column {missing[0]!r}, which is not in the file "
                        f"(columns: {', '.join(stripped)})")
    return {names[stripped.index(src)]: dst for src, dst in columns.items()}


def missing_column_error(where: str, columns) -> DataError | None:
    """The error for a source without one of the canonical columns customer_id, date, amount (else None)."""
    columns = [str(c) for c in columns]
    missing = [c for c in ("customer_id", "date", "amount") if c not in columns]
    if not missing:
        return None
    return DataError(f"{where}: no {missing[0]!r} column (columns: {', '.join(columns)}); score reads the "
                     "canonical columns customer_id, date, amount: map yours with --map, e.g. "
                     f"--map '<your column>={missing[0]}' (as 'segwork data validate' does)")


def clean_chunk(frame: pd.DataFrame, rules: CleaningRules, options: ReadOptions, where: str):
    """The rows of a raw chunk (canonical column names) that the cleaning rules keep, and the report.

    :func:`segwork.io.clean_transactions` with the user's rules, date convention and number marks; a
    chunk may end up empty (``allow_empty``: another chunk has rows). Errors name ``where``.
    """
    if frame.empty:  # a hash part or partition no customer fell into
        return frame.iloc[:0], CleaningReport(source=where, layout="canonical", rows_read=0)
    frame = frame.copy(deep=False)
    if options.decimal:
        frame.attrs["decimal"] = options.decimal
    if options.sep:
        frame.attrs["sep"] = options.sep  # a ';' file points '1.250'-like amounts to a thousands dot, as in io
    attrs = dict(frame.attrs)
    raw = apply_layout(frame, "canonical", None, where)
    raw.attrs.update(attrs)
    return clean_transactions(raw, rules=rules, source=where, layout="canonical", date_format=options.date_format,
                              dayfirst=options.dayfirst, allow_empty=True)


def too_many_dates(where: str, n: int) -> DataError:
    """The refusal of a date column in another form than ISO 8601 with more distinct texts than are decided."""
    return DataError(f"{where}: column 'date' is not in ISO 8601 (2020-12-31) and has {n:,} distinct values, more "
                     f"than the out-of-core engines decide the form of ({MAX_DECIDED_DATES:,}); give the form "
                     "(date_format), use engine='pandas', or write the dates as ISO 8601")


def decide_dates(texts: pd.Series, options: ReadOptions, where: str, decisions: list) -> pd.Series:
    """Date text -> date (``datetime64``; NaT for a text that is no date), decided on all the distinct texts.

    The decision :func:`segwork.io.read_transactions` makes on a whole column (day-first or month-first,
    ``DD.MM.YYYY``, ``YYYYMMDD`` ..., or ``date_format`` / ``dayfirst`` when given), made once for every
    chunk. The decisions are appended to ``decisions``.
    """
    texts = pd.Series(pd.unique(texts.dropna().astype(str)), dtype=object)
    if len(texts) > MAX_DECIDED_DATES:
        raise too_many_dates(where, len(texts))
    parsed = parse_dates(texts, options.date_format, options.dayfirst, column="date", source=where,
                          decisions=decisions)
    return pd.Series(pd.Series(parsed).to_numpy(), index=pd.Index(texts.to_numpy(), dtype=object))


def last_plausible(dates: pd.Series, rules: CleaningRules) -> pd.Timestamp:
    """The last date the ``implausible_date`` rule keeps (NaT when none)."""
    dates = pd.Series(dates)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dropna().astype("datetime64[us]")
    if rules.implausible_date != "keep":
        dates = dates[~implausible_dates(dates, rules)]
    return dates.max() if len(dates) else pd.NaT


def _identity(chunk: pd.DataFrame) -> pd.DataFrame:
    return chunk


class CustomerChunks:
    """All cleaned transactions of a source, chunk by chunk of customers (see the module docstring).

    ``end``: the day the histories end; ``n_chunks``: how many chunks; ``where``: the source's name in
    messages. Use it in a ``with`` block (temporary files, clients are released at the end).
    """

    engine = ""

    def __init__(self, where: str, rules: CleaningRules, end: pd.Timestamp, n_chunks: int) -> None:
        self.where, self.rules, self.end, self.n_chunks = where, rules, end, n_chunks
        self.decisions: list = []
        self._reports: list[CleaningReport] = []
        self.layout = "canonical"

    def map(self, func: Callable, *args) -> Iterator:
        """``func(chunk, *args)`` for every chunk, as each is ready (order not guaranteed)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self.map(_identity)

    @property
    def report(self) -> CleaningReport:
        """The cleaning report of every chunk read so far (all of them after the last one)."""
        report = CleaningReport.merged(self.where, self.layout, self._reports)
        known = {str(d) for d in report.decisions}
        report.decisions[:0] = [d for d in self.decisions if str(d) not in known]
        return report

    def close(self) -> None:
        pass

    def __enter__(self) -> "CustomerChunks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PandasChunks(CustomerChunks):
    """The pandas engine: the whole source read and cleaned at once, then cut into chunks of customers."""

    engine = "pandas"

    def __init__(self, source: TransactionSource, options: ReadOptions, chunk_size: int, observation_end) -> None:
        rules = options.rules if observation_end is None else replace(options.rules,
                                                                      observation_end=observation_end)
        keywords = {k: v for k, v in options.given().items() if k != "rules"}
        if source.kind == "parquet":
            keywords.setdefault("layout", "canonical")
        tx, report = read_source_pandas(source, rules=rules, **keywords)
        if observation_end is not None:
            tx = tx[tx["date"].dt.normalize() <= observation_end]
        if tx.empty:
            raise DataError(f"{source.files[0]}: no transaction left after cleaning"
                            + (f" up to {observation_end.date()}" if observation_end is not None else ""))
        end = observation_end if observation_end is not None else tx["date"].max().normalize()
        codes, uniques = pd.factorize(tx["customer_id"].astype(str))
        super().__init__(source.name, rules, end, max(1, math.ceil(len(uniques) / chunk_size)))
        self.layout = report.layout
        self._whole = report
        chunk_of = codes // chunk_size
        self._order = np.argsort(chunk_of, kind="stable")
        self._bounds = np.searchsorted(chunk_of[self._order], np.arange(self.n_chunks + 1))
        self._tx = tx

    @property
    def report(self) -> CleaningReport:
        return self._whole

    def map(self, func: Callable, *args) -> Iterator:
        for i in range(self.n_chunks):
            yield func(self._tx.iloc[self._order[self._bounds[i]:self._bounds[i + 1]]], *args)
