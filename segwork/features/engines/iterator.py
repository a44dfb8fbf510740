"""The one entry to the engines' chunk iterators: :func:`customer_chunks` (see :mod:`.chunks`)."""
from __future__ import annotations

from dataclasses import replace

from ..._checks import renamed_keywords
from ...errors import DataError
from .chunks import CustomerChunks, PandasChunks, ReadOptions, as_day
from .dask import DaskChunks
from .duckdb import DuckdbChunks
from .sources import ENGINES, TransactionSource

__all__ = ["customer_chunks"]


@renamed_keywords(as_of="observation_end")
def customer_chunks(source: TransactionSource, engine: str, *, options: ReadOptions | None = None,
                    chunk_size: int, observation_end=None, scheduler=None, tmp_dir=None,
                    tmp_prefix: str = "segwork-chunks-") -> CustomerChunks:
    """All cleaned transactions of ``source``, chunk by chunk of customers, on ``engine``.

    ``options``: how to read (default: the default rules); ``chunk_size``: customers per chunk (DuckDB:
    ``ceil(customers / chunk_size)`` hash parts; Dask: at least that many partitions); ``observation_end``: the day
    the histories end (later rows go by the ``after_observation_end`` rule; old name ``as_of``, deprecated
    until segwork 0.3); ``scheduler``: the Dask
    scheduler (a Client, an address; default the active client, dask's ``scheduler-address``, else a
    local cluster for this run); ``tmp_dir`` / ``tmp_prefix``: where DuckDB writes its parts. Raises
    DataError as ``read_transactions`` does, naming the source.
    """
    options = options or ReadOptions()
    options = replace(options, rules=options.rules.resolved())  # one "today" for the plausible-date window
    observation_end = None if observation_end is None else as_day(observation_end)
    if engine == "pandas":
        return PandasChunks(source, options, chunk_size, observation_end)
    if engine == "duckdb":
        return DuckdbChunks(source, options, chunk_size, observation_end, tmp_dir, tmp_prefix)
    if engine == "dask":
        return DaskChunks(source, options, chunk_size, observation_end, scheduler)
    raise DataError(f"engine={engine!r} is not one of {ENGINES}")
