"""Bulk scoring: every customer of a transaction log scored with a saved model folder, chunk by chunk.

``segwork score --models DIR --transactions PATH --output scores.parquet`` calls
:func:`score_transactions`. It is the batch twin of the segmentation service:
the same :class:`~segwork.models.store.ModelStore` (models fitted once by
``segwork models build``), the same value formulas
(:func:`segwork.models.value.value_columns`) and the same
``Segmentation.predict`` (:func:`segwork.models.score.score_table`); nothing
is refitted. This is how a CRM refreshes the scores of millions of customers
each night.

How the work is cut: the engine layer's one iterator per engine
(:func:`segwork.features.engines.customer_chunks`) gives all cleaned
transactions of a chunk of customers, whatever the engine; each chunk is
aggregated (:func:`segwork.features.customer_table`) and scored. Never more
than one chunk of customers is in pandas.

* ``engine="pandas"``: the transactions are read into memory
  (:func:`segwork.io.read_transactions`, all files cleaned together) and
  cut into chunks of ``chunk_size`` customers.
* ``engine="duckdb"``: DuckDB reads the Parquet/CSV files and writes them
  once, hash-partitioned by customer, to a temporary folder beside the
  output (``ceil(customers / chunk_size)`` parts). Each part is cleaned,
  scored and appended to the output. Peak memory is one part.
* ``engine="dask"``: on a ``dask.distributed`` cluster (``scheduler``
  address, else the active client, else a local one), the transactions are
  shuffled by customer and each partition is cleaned and scored on the
  workers; the client appends the partitions to the output as they finish.

The reading options of ``segwork data validate`` (``read_options``: ``--map``, ``--sep``, ``--encoding``,
``--header-row``, the date options, the cleaning rules ...) reach every engine that can honour them
(:data:`ENGINE_READ_OPTIONS`); another is refused in one line naming the engine that does.

Each chunk goes through :func:`score_table`, so every engine gives the same
scores for the same customer (floating-point sums in another order aside).
The output is written atomically: Parquet, chunk by chunk, to a temporary
file in the output's folder, renamed into place at the end.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path


from .._checks import renamed_keywords
from ..errors import DataError
from ..features.engines import ENGINES
from ..features.engines import customer_chunks
from ..features.engines.chunks import as_day
from ..io import CleaningReport
from .output import TMP_TAG, ParquetOutput, Progress, remove_stale_temporaries
from .reading import check_read_options, command_words, score_sources
from .score import empty_scores, scorable, score_chunk
from .store import ModelStore, load_models

__all__ = ["score_transactions", "ScoreResult", "ENGINES", "DEFAULT_CHUNK_SIZE"]

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


def _slim(store: ModelStore) -> ModelStore:
    """The store without its per-customer data (what a worker needs to score: models and segmenters)."""
    segs = {}
    for name, seg in store.segmentations.items():
        s = copy.copy(seg)
        if getattr(s, "labels", None) is not None:
            s.labels = s.labels.iloc[:0]
        segs[name] = s
    return replace(store, table=store.table.iloc[:0], segmentations=segs)


def _score_all(store: ModelStore, source, engine: str, reading, observation_end, chunk_size: int,
               out: ParquetOutput, progress: bool, scheduler, tmp_dir) -> tuple[int, int, str, CleaningReport]:
    with customer_chunks(source, engine, options=reading, chunk_size=chunk_size, observation_end=observation_end,
                         scheduler=scheduler,
                         tmp_dir=tmp_dir, tmp_prefix=f".score-parts.{TMP_TAG}") as chunks:
        bar = Progress(chunks.n_chunks, progress, what="partition" if engine == "dask" else "chunk")
        customers = 0
        # on Dask the chunks are scored on the workers (the store without its per-customer data goes to them)
        for scores in chunks.map(score_chunk, _slim(store) if engine == "dask" else store, chunks.end):
            if len(scores):
                out.write(scores)
            customers += len(scores)
            bar.step(len(scores))
        bar.close()
        if customers == 0:
            raise DataError(f"{chunks.where}: no transaction left after cleaning")
        return customers, chunks.n_chunks, str(chunks.end.date()), chunks.report


@renamed_keywords(as_of="observation_end")
def score_transactions(models, transactions, output, *, engine: str = "duckdb", scheduler: str | None = None,
                       chunk_size: int = DEFAULT_CHUNK_SIZE, observation_end=None, progress: bool = True,
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
    observation_end: the day the histories end (``T`` and recency are measured to it;
        later transactions are ignored; ``segwork score --observation-end``). Default: the last
        transaction date. Old name ``as_of`` (``--as-of``), deprecated: it still works with a
        FutureWarning until segwork 0.3.
    progress: a line per chunk on stderr.
    read_options: keywords of :func:`segwork.io.read_transactions` (``columns``, ``sep``, ``decimal``,
        ``encoding``, ``layout``, ``date_format``, ``dayfirst``, ``sheet_name``, ``header_row``, ``rules``),
        what ``segwork score`` takes as ``--map``, ``--sep`` ... like ``segwork data validate``. The pandas
        engine honours them all and reads any single file ``read_transactions`` reads (Excel workbooks
        included); duckdb and dask honour those in :data:`ENGINE_READ_OPTIONS` (duckdb decides non-ISO dates
        with read_transactions' date reader on their distinct values); another is refused with one line naming
        the engine that honours it. ``rules.observation_end`` (``--observation-end``) is ``observation_end``
        when that is not given (both given: the same day, else DataError).

    Returns a :class:`ScoreResult`. The file has one row per customer with
    ``customer_id`` and the columns of :func:`score_table`, in chunk order
    (not sorted).

    Raises DataError (one line naming the path and the fix) for a missing,
    incomplete, changed or other-version model folder, a path matching no
    file, missing columns, an unknown engine or a bad ``chunk_size`` /
    ``observation_end``.
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
        if observation_end is not None and as_day(observation_end) != end_rule:
            raise DataError(f"score: the reading rules' observation_end {end_rule.date()} and observation_end "
                            f"{as_day(observation_end).date()} name different days; give one")
        observation_end = end_rule
    store = models if isinstance(models, ModelStore) else load_models(models)
    source = score_sources(transactions, engine)
    output = Path(output)
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise DataError(f"score: {output.name!r} must end in .parquet")
    if output.is_dir():
        raise DataError(f"score: {output} is a folder; give a file name such as {output / 'scores.parquet'}")
    day = None if observation_end is None else as_day(observation_end)
    _use, skipped = scorable(store)
    remove_stale_temporaries(output.parent, output.name)
    out = ParquetOutput(output)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            try:
                customers, chunks, end, report = _score_all(store, source, engine, reading, day, chunk_size, out,
                                                            progress, scheduler, output.parent)
            except DataError as exc:
                if engine != "duckdb":
                    raise
                raise DataError(command_words(str(exc))) from None  # the duckdb engine's refusals name the others
        out.commit(empty_scores(store))
    except BaseException:
        out.abort()
        raise
    return ScoreResult(output=output, customers=customers, chunks=chunks, observation_end=end, engine=engine,
                       seconds=time.perf_counter() - t0, skipped=skipped, report=report)
