"""Bulk scoring: every customer of a transaction log scored with a saved model folder, chunk by chunk.

``segwork score --models DIR --transactions PATH --output scores.parquet`` calls
:func:`score_transactions`. It is the batch twin of the segmentation service:
the same :class:`~segwork.service.store.ModelStore` (models fitted once by
``segwork models build``), the same value formulas
(:func:`segwork.service.operations._value_columns`) and the same
``Segmentation.predict``; nothing is refitted. This is how a CRM refreshes
the scores of millions of customers each night.

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

import contextlib
import hashlib
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..features import customer_table
from ..io import (CleaningReport, CleaningRules, parse_dates, check_column_map, implausible_dates, is_wide_encoding, read_transactions, text_dialect,
                  utf8_copy)
from ..segment.apriori import AprioriSegmenter
from .operations import _value_columns
from .store import ModelStore, load_models

__all__ = ["score_table", "score_transactions", "ScoreResult", "ENGINES", "DEFAULT_CHUNK_SIZE",
           "PROPENSITY_DAYS", "ENGINE_READ_OPTIONS", "READ_OPTION_FLAGS"]

#: The engines of :func:`score_transactions`.
ENGINES = ("pandas", "duckdb", "dask")
#: Customers per chunk (about 1-2 GB of pandas working memory at 10 transactions per customer).
DEFAULT_CHUNK_SIZE = 1_000_000
#: The purchase-propensity window of the ``p_buy_30d`` column, in days.
PROPENSITY_DAYS = 30


# --------------------------------------------------------------------------- the scores of one chunk


def _scorable(store: ModelStore) -> tuple[dict, dict[str, str]]:
    """The segmentations a transaction log can place, and why the others are left out."""
    use, skipped = {}, {}
    for name, seg in store.segmentations.items():
        if isinstance(seg.segmenter, AprioriSegmenter):
            skipped[name] = ("its rules read the customer profile (customer type, age band, region ...), "
                             "which a transaction log does not carry")
        else:
            use[name] = seg
    return use, skipped


def _score_columns(store: ModelStore) -> list[str]:
    use, _ = _scorable(store)
    return (["frequency", "recency", "T", "monetary_value", "expected_purchases", "p_alive", "expected_spend",
             "clv", f"p_buy_{PROPENSITY_DAYS}d"]
            + [("relationship_type" if n == "relationship" else f"segment_{n}") for n in use])


def score_table(store: ModelStore, table: pd.DataFrame) -> pd.DataFrame:
    """Scores of customers from their customer table, with the stored models (nothing is refitted).

    Parameters
    ----------
    store: a loaded model folder (:func:`segwork.service.store.load_models`).
    table: customer table of :func:`segwork.features.customer_table` (days;
        ``cat_*`` / ``ch_*`` mix columns when the transactions have category /
        channel), indexed by ``customer_id``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (the table's order):

    * ``frequency`` (repeat purchase days), ``recency``, ``T`` (days),
      ``monetary_value`` (mean repeat-purchase-day value, data's currency):
      the history scored;
    * ``expected_purchases``: purchase days expected in the store's CLV
      horizon (``clv_settings["horizon"]`` months), from the stored
      transaction model;
    * ``p_alive`` (0..1); ``expected_spend`` per purchase (Gamma-Gamma, or the
      stored constant); ``clv``: discounted margin over the horizon, as
      :func:`segwork.clv.value.customer_lifetime_value` computes it;
    * ``p_buy_30d``: purchase propensity, P(at least one purchase in the next
      30 days) = 1 - exp(-E[purchases in 30 days]), the formula of
      :func:`segwork.act.propensity.clv_propensity` on the stored model (the
      trained :class:`~segwork.act.PropensityClassifier` is not part of a
      model folder, so it is not offered);
    * ``relationship_type`` (the ``relationship`` segmentation) and
      ``segment_<name>`` for every other stored segmentation a transaction
      log can place (``apriori`` is left out: it needs the profile). Profile
      and survey columns are unknown (NaN), as the service treats them: the
      needs segmentation then places customers from behaviour, as it does
      for customers who did not answer the survey.

    Raises DataError when the table lacks a column a segmentation uses.
    """
    use, _ = _scorable(store)
    known = store.table
    table = table.copy(deep=False)  # the new columns go on a shallow copy; the caller's frame is left as it is
    for col in known.columns:
        if col in table.columns:
            continue
        if col.startswith(("cat_", "ch_")):
            table[col] = 0.0  # a category / channel the chunk's customers never bought in
        elif col not in ("p_alive", "clv"):
            numeric = pd.api.types.is_numeric_dtype(known[col]) and not pd.api.types.is_bool_dtype(known[col])
            table[col] = pd.Series(np.nan if numeric else None, index=table.index,
                                   dtype=float if numeric else object)
    values = _value_columns(store, table, propensity_days=PROPENSITY_DAYS)
    table["p_alive"], table["clv"] = values["p_alive"], values["clv"]
    table.attrs.update(known.attrs)
    out = table[["frequency", "recency", "T", "monetary_value"]].astype(float)
    for col in ("expected_purchases", "p_alive", "expected_spend", "clv", f"p_buy_{PROPENSITY_DAYS}d"):
        out[col] = values[col]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*categories not seen.*", category=UserWarning)
        for name, seg in use.items():
            col = "relationship_type" if name == "relationship" else f"segment_{name}"
            out[col] = seg.predict(table).astype(str).array  # str labels as they are (no round trip via object)
    out.index.name = "customer_id"
    return out


def _chunk_table(tx: pd.DataFrame, observation_end) -> pd.DataFrame:
    """Customer table of one chunk of canonical, cleaned transactions (days)."""
    return customer_table(tx, observation_end=observation_end)


def _clean(frame: pd.DataFrame, observation_end, where: str, reading: "_Reading | None" = None):
    """The rows of a raw chunk the cleaning rules of :func:`segwork.io.read_transactions` keep (with the
    user's rules, date convention and number marks when given), and the cleaning report."""
    reading = reading or _Reading()
    frame = frame.copy(deep=False)
    if reading.decimal:
        frame.attrs["decimal"] = reading.decimal
    if reading.sep:
        frame.attrs["sep"] = reading.sep  # a ';' file points '1.250'-like amounts to a thousands dot, as in io
    try:
        tx, report = read_transactions(frame, layout="canonical",
                                        rules=replace(reading.rules, observation_end=observation_end),
                                        date_format=reading.date_format, dayfirst=reading.dayfirst)
    except DataError as exc:  # the chunk is a DataFrame to read_transactions: name the user's file instead
        raise DataError(f"{where}: {str(exc).removeprefix('<DataFrame>: ')}") from None
    return tx, report


# --------------------------------------------------------------------------- output


class _ParquetOut:
    """Parquet written chunk by chunk to a temporary file beside ``path``; :meth:`commit` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_TMP_TAG}", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.writer = None
        self.schema = None
        self.rows = 0

    def write(self, scores: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = scores.reset_index()
        if self.writer is None:
            self.schema = pa.Schema.from_pandas(frame, preserve_index=False)
            # strings as strings whatever pandas inferred for the first chunk
            self.schema = pa.schema([pa.field(f.name, pa.string()) if f.name == "customer_id" or
                                     pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                     or pa.types.is_null(f.type) else f for f in self.schema]).remove_metadata()
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))
        self.rows += len(frame)

    def commit(self, empty: pd.DataFrame) -> None:
        if self.writer is None:
            self.write(empty)
        self.writer.close()
        os.chmod(self.tmp, 0o666 & ~_umask())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the write already failed; the temp file goes anyway
                pass
        self.tmp.unlink(missing_ok=True)


#: This machine, in temporary names: a process id says nothing about another machine's processes (a shared folder).
_HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
#: The tag of this process's temporary files and folders (``.scores.parquet.pid123-1a2b3c4d.xxxx.tmp``,
#: ``.score-parts.pid123-1a2b3c4d.xxxx/``): a later run on the same machine removes those whose process is gone
#: (see remove_stale_temporaries).
_TMP_TAG = f"pid{os.getpid()}-{_HOST_TAG}."
_TAGGED = re.compile(r"^pid(\d+)-([0-9a-f]{8})\.")
#: Leftovers of versions before the tag (no pid) are removed when they have not changed for this long (seconds).
_UNTAGGED_AGE = 3600


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError), or no way to tell: keep its files
        pass
    return True


def remove_stale_temporaries(folder, output_name: str) -> list[Path]:
    """Remove the temporary files of score runs that died (e.g. ``kill -9``) before they could clean up.

    In ``folder``: ``.<output_name>.pid<N>-<host>.*.tmp`` (the output being
    written) and ``.score-parts.pid<N>-<host>.*/`` (the DuckDB engine's
    parts) written on this machine (``<host>``: a hash of its name) whose
    process ``N`` no longer runs; leftovers without a pid (written by earlier
    versions) when unchanged for an hour. Files of running processes, and of
    other machines sharing the folder, are kept. Returns the paths removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith(f".{output_name}.") and name.endswith(".tmp") and entry.is_file():
            rest = name[len(output_name) + 2:]
        elif name.startswith(".score-parts.") and entry.is_dir():
            rest = name[len(".score-parts."):]
        else:
            continue
        tagged = _TAGGED.match(rest)
        if tagged and tagged.group(2) != _HOST_TAG:
            continue  # another machine's: its processes cannot be checked from here
        try:
            stale = (not _pid_alive(int(tagged.group(1))) if tagged
                     else now - entry.stat().st_mtime > _UNTAGGED_AGE)
            if stale:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed.append(entry)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask



# --------------------------------------------------------------------------- reading options

#: The CLI option of each :func:`segwork.io.read_transactions` keyword (what the messages name).
READ_OPTION_FLAGS = {"columns": "--map", "sep": "--sep", "decimal": "--decimal", "encoding": "--encoding",
                     "layout": "--layout", "date_format": "--date-format", "dayfirst": "--dayfirst",
                     "sheet_name": "--sheet", "header_row": "--header-row", "rules": "the cleaning-rule options"}
#: The reading options each engine honours; the others are refused naming the engine that does.
ENGINE_READ_OPTIONS = {
    "pandas": frozenset(READ_OPTION_FLAGS),
    "duckdb": frozenset({"columns", "sep", "encoding", "date_format", "dayfirst", "header_row", "rules"}),
    "dask": frozenset({"columns", "sep", "encoding", "date_format", "dayfirst", "decimal", "header_row", "rules"}),
}
_EXCEL = (".xlsx", ".xlsm", ".xls")


@dataclass(frozen=True)
class _Reading:
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
        out = {k: getattr(self, k) for k in READ_OPTION_FLAGS if k != "rules" and getattr(self, k) is not None}
        if self.rules != CleaningRules():
            out["rules"] = self.rules
        return out


def _reading(options, engine: str) -> _Reading:
    """The reading options as a :class:`_Reading`; an option the engine cannot honour is one DataError line."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(READ_OPTION_FLAGS))
    if unknown:
        raise DataError(f"score: read option {unknown[0]!r} is not known; use {', '.join(READ_OPTION_FLAGS)}")
    if options.get("layout") == "canonical":
        options.pop("layout")
    reading = _Reading(**{k: v for k, v in options.items() if v is not None})
    check_column_map(reading.columns)  # a misspelt --map target, at once, as data validate refuses it
    for name in reading.given():
        if name not in ENGINE_READ_OPTIONS[engine]:
            can = [e for e in ENGINES if e != engine and name in ENGINE_READ_OPTIONS[e]]
            what = {"sheet_name": "reads no Excel workbook", "layout": "reads canonical column names only "
                    "(--map renames others)", "decimal": "reads plain numbers with a decimal point only"}.get(
                        name, "cannot honour it")
            raise DataError(f"score: {READ_OPTION_FLAGS[name]}: the {engine} engine {what}; "
                            + " or ".join(f"--engine {e}" for e in can) + " honours it")
    return reading


def _excel_refusal(name: str, engine: str) -> DataError:
    return DataError(f"{name}: the {engine} engine does not read Excel workbooks; score it with --engine pandas "
                     "(read like 'segwork data validate' reads it), or save the sheet as CSV")


def _sources(transactions, engine: str):
    """``(files, kind, name)`` of what to score: ``kind`` ``"parquet"``, ``"csv"`` or (pandas only) ``"file"``."""
    from ..features.engines import resolve_source

    single = isinstance(transactions, (str, os.PathLike)) and Path(transactions).is_file()
    if single and Path(transactions).suffix.lower() in _EXCEL and engine != "pandas":
        raise _excel_refusal(str(transactions), engine)
    if single and engine == "pandas" and Path(transactions).suffix.lower() not in (".parquet", ".pq"):
        # any file read_transactions reads (CSV, text, Excel workbooks), the same gate as 'segwork data validate'
        return [str(transactions)], "file", str(transactions)
    name = str(transactions)
    if engine == "pandas" and isinstance(transactions, (str, os.PathLike)) and any(ch in name for ch in "*?["):
        import glob

        files = sorted(f for f in glob.glob(name, recursive=True) if Path(f).is_file())
        if files and {Path(f).suffix.lower() for f in files} - {".parquet", ".pq"}:
            return files, "file", name  # each read by read_transactions (workbooks too), as one at a time
    try:
        # the one resolver of paths, folders and globs (the engines' own); pandas reads file by file, so a folder
        # of Parquet and CSV files is read whole; the other engines refuse it naming the files they would skip
        source = resolve_source(transactions, mixed=engine == "pandas")
    except DataError as exc:
        text = str(exc)
        text = text.replace("this engine reads", f"the {engine} engine reads")
        if "engine='pandas'" in text:  # say it in the command's words, and only to an engine that is not pandas
            text = (text.replace("engine='pandas'", "--engine pandas") if engine != "pandas"
                    else text.replace(" (Excel and other files: engine='pandas')", " (an Excel file: one at a time)"))
        raise DataError(text) from None
    if source.kind == "mixed":
        return [str(f) for f in source.files], "file", source.name  # each read by read_transactions
    return [str(f) for f in source.files], source.kind, source.name


def _pandas_words(text: str) -> str:
    """A library message in the command's words: ``engine='pandas'`` -> ``--engine pandas``."""
    # score's dask engine reads every value read_transactions reads (each partition is read by it), so the
    # duckdb engine's refusals of value forms name both engines that read them
    return (text.replace("use engine='pandas' for this file", "score it with --engine pandas or --engine dask")
            .replace("use engine='pandas'", "score with --engine pandas").replace("engine='pandas'", "--engine pandas"))


def _renamed(columns: dict | None, names: list[str], where: str) -> dict[str, str]:
    """``columns`` (source -> canonical) checked against the source's column names (names stripped)."""
    if not columns:
        return {}
    stripped = [str(n).strip() for n in names]
    missing = [c for c in columns if c not in stripped]
    if missing:
        raise DataError(f"{where}: --map names column {missing[0]!r}, which is not in the file "
                        f"(columns: {', '.join(stripped)})")
    return {names[stripped.index(src)]: dst for src, dst in columns.items()}


@contextlib.contextmanager
def _utf8_files(files: list[str], encoding: str | None, tmp_parent):
    """The files as DuckDB reads them: transcoded to temporary UTF-8 copies when another encoding was given."""
    import codecs

    if not encoding or codecs.lookup(encoding).name in ("utf-8",):
        yield files
        return
    folder = tempfile.mkdtemp(prefix=f".score-parts.{_TMP_TAG}utf8-", dir=tmp_parent)  # removed if killed
    try:
        yield [str(utf8_copy(f, folder, encoding)) for f in files]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- engines


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


class _Progress:
    """One line per chunk on stderr (tqdm when it is installed and stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool, what: str = "chunk") -> None:
        self.enabled, self.total, self.done, self.what, self.t0 = enabled, total, 0, what, time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit=what, file=sys.stderr)
            except ImportError:  # pragma: no cover - tqdm comes with papermill
                self.bar = None

    def step(self, customers: int) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(customers=customers)
        else:
            print(f"score: {self.what} {self.done}/{self.total}: {customers:,} customers "
                  f"({time.perf_counter() - self.t0:.1f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _day(value) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise DataError(f"score: as_of={value!r} is not a date; give one such as 2024-12-31")
    return ts.normalize()


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _duckdb_source(files: list[str], kind: str, reading: "_Reading | None" = None) -> str:
    reading = reading or _Reading()
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
    reading = reading or _Reading()
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
    bar = _Progress(n_chunks, progress)
    customers = 0
    chunk_of = codes // chunk_size
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange(n_chunks + 1))
    for i in range(n_chunks):
        part = tx.iloc[order[bounds[i]:bounds[i + 1]]]
        scores = score_table(store, _chunk_table(part, end))
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

    reading = reading or _Reading()
    where = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
    if kind == "csv" and not reading.encoding:
        from ..io import text_lines

        for f in files:  # UTF-16 without a byte-order mark: io's line naming --encoding, not DuckDB's sniffer
            text_lines(Path(f), None, whole_file=False)
    # text in another encoding (--encoding) and UTF-16/32 text with a byte-order mark (Excel's "Unicode Text") go
    # to DuckDB as temporary UTF-8 copies, the rest as it is
    with _utf8_files(files, reading.encoding if kind == "csv" else None, tmp_parent) as utf8, \
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


def _decided_dates(con, src: str, where: str, reading: "_Reading", decisions: list | None = None) -> str | None:
    """A table of date text -> ISO timestamp decided as read_transactions decides (None when all are ISO 8601).

    Day-first / month-first, ``DD.MM.YYYY``, ``08-Mar-2014``, ``YYYYMMDD`` ... are decided by
    :func:`segwork.io.parse_dates` on the column's distinct values, which is what ``read_transactions``
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
    parsed = parse_dates(texts, reading.date_format, reading.dayfirst, column="date", source=where,
                          decisions=decisions)
    table = pd.DataFrame({"raw": texts.to_numpy(), "iso": pd.Series(parsed).dt.strftime("%Y-%m-%d %H:%M:%S")
                          .to_numpy()})
    con.register("segwork_dates", table)
    return "segwork_dates"


def _score_duckdb_files(store, files, kind, as_of, chunk_size, out, progress, tmp_parent,
                        where, reading=None) -> tuple[int, int, str, CleaningReport]:
    from ..features.engines import _connect, implausible_date_sql

    reading = reading or _Reading()
    decisions, reports = [], []
    src = _duckdb_source(files, kind, reading)
    con = _connect()  # the settings of segwork.features.engines.DUCKDB_CONFIG (memory_limit, threads, temp_directory)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        rename = _renamed(reading.columns, cols, where)
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
        end = as_of if as_of is not None else _day(last)
        n_chunks = max(1, math.ceil(n_customers / chunk_size))
        tmp = Path(tempfile.mkdtemp(prefix=f".score-parts.{_TMP_TAG}", dir=tmp_parent))
        try:
            # one pass: every transaction of a customer into the same part
            con.execute(f"COPY (SELECT *, CAST(hash(CAST(customer_id AS VARCHAR)) % {n_chunks} AS BIGINT) "
                        f"AS _part FROM {src}) TO '{tmp}' (FORMAT parquet, PARTITION_BY (_part))")
            parts = sorted(p for p in tmp.iterdir() if p.is_dir())
            bar = _Progress(len(parts), progress)
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
                    raise DataError(_pandas_words(str(exc).replace(glob, where))) from None
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
    reading = reading or _Reading()
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = parse_dates(dates.astype(object), reading.date_format, reading.dayfirst, column="date")
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
    tx, report = _clean(raw.reset_index(drop=True), end, where, reading)
    out = _empty_scores(store).reset_index() if tx.empty else score_table(store, _chunk_table(tx, end)).reset_index()
    out.attrs = {"cleaning_report": report.to_dict()}  # back to the client with the scores (summed there)
    return out


def _empty_scores(store: ModelStore) -> pd.DataFrame:
    """No customers, the columns and dtypes of :func:`score_table` (numbers float, segment names text)."""
    cols = _score_columns(store)
    return pd.DataFrame({c: pd.Series(dtype=object if c.startswith(("segment_", "relationship")) else float)
                         for c in cols}, index=pd.Index([], dtype=object, name="customer_id"))


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

    reading = reading or _Reading()
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
        rename = _renamed(reading.columns, [str(c) for c in ddf.columns], str(files[0]))
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
            end = _day(last.max().compute())
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
        meta = _empty_scores(store).reset_index()
        where = str(files[0]) if len(files) == 1 else f"{len(files)} files"
        slim = client.scatter(_slim(store), broadcast=True)
        scored = shuffled.map_partitions(_score_partition, slim, end, where, reading, meta=meta)
        futures = client.compute(scored.to_delayed())
        bar = _Progress(len(futures), progress, what="partition")
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
        (:func:`segwork.service.store.build_models`), or a loaded
        :class:`~segwork.service.store.ModelStore`.
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
    reading = _reading(read_options, engine)
    if reading.rules.observation_end is not None:
        end_rule = _day(reading.rules.observation_end)
        if as_of is not None and _day(as_of) != end_rule:
            raise DataError(f"score: --observation-end {end_rule.date()} and --as-of {_day(as_of).date()} name "
                            "different days; give one")
        as_of = end_rule
    store = models if isinstance(models, ModelStore) else load_models(models)
    files, kind, _name = _sources(transactions, engine)
    output = Path(output)
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"score: {output.name!r} must end in .parquet")
    if output.is_dir():
        raise DataError(f"score: {output} is a folder; give a file name such as {output / 'scores.parquet'}")
    day = None if as_of is None else _day(as_of)
    _use, skipped = _scorable(store)
    remove_stale_temporaries(output.parent, output.name)
    out = _ParquetOut(output)
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
        out.commit(_empty_scores(store))
    except BaseException:
        out.abort()
        raise
    return ScoreResult(output=output, customers=customers, chunks=chunks, observation_end=end, engine=engine,
                       seconds=time.perf_counter() - t0, skipped=skipped, report=report)
