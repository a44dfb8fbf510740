"""How bulk scoring reads the transactions: the reading options of ``segwork data validate`` per engine.

The keywords of :func:`segwork.io.read_transactions` the user gave (``--map``, ``--sep`` ...) as a
:class:`ReadOptions`; an option an engine cannot honour is refused in one line naming the engine that does
(:data:`ENGINE_READ_OPTIONS`). Also the files behind a path (:func:`score_sources`) and the messages in the
command's words.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..features.engines import ENGINES, TransactionSource, resolve_source
from ..features.engines.chunks import ENGINE_READ_OPTIONS, ReadOptions
from ..io import check_column_map

__all__ = ["READ_OPTION_FLAGS", "ENGINE_READ_OPTIONS", "ReadOptions", "check_read_options", "score_sources",
           "command_words"]

#: The CLI option of each :func:`segwork.io.read_transactions` keyword (what the messages name).
READ_OPTION_FLAGS = {"columns": "--map", "sep": "--sep", "decimal": "--decimal", "encoding": "--encoding",
                     "layout": "--layout", "date_format": "--date-format", "dayfirst": "--dayfirst",
                     "sheet_name": "--sheet", "header_row": "--header-row", "rules": "the cleaning-rule options"}
_EXCEL = (".xlsx", ".xlsm", ".xls")


def check_read_options(options, engine: str) -> ReadOptions:
    """The reading options as a :class:`ReadOptions`; an option the engine cannot honour is one DataError line."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(READ_OPTION_FLAGS))
    if unknown:
        raise DataError(f"score: read option {unknown[0]!r} is not known; use {', '.join(READ_OPTION_FLAGS)}")
    if options.get("layout") == "canonical":
        options.pop("layout")
    reading = ReadOptions(**{k: v for k, v in options.items() if v is not None})
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


def score_sources(transactions, engine: str) -> TransactionSource:
    """The files to score: kind ``"parquet"``, ``"csv"`` or (pandas only) ``"file"`` (each file read by
    ``read_transactions``, whatever its kind)."""
    single = isinstance(transactions, (str, os.PathLike)) and Path(transactions).is_file()
    if single and Path(transactions).suffix.lower() in _EXCEL and engine != "pandas":
        raise _excel_refusal(str(transactions), engine)
    if single and engine == "pandas" and Path(transactions).suffix.lower() not in (".parquet", ".pq"):
        # any file read_transactions reads (CSV, text, Excel workbooks), the same gate as 'segwork data validate'
        return TransactionSource(str(transactions), (Path(transactions),), "file")
    name = str(transactions)
    if engine == "pandas" and isinstance(transactions, (str, os.PathLike)) and any(ch in name for ch in "*?["):
        import glob

        files = sorted(f for f in glob.glob(name, recursive=True) if Path(f).is_file())
        if files and {Path(f).suffix.lower() for f in files} - {".parquet", ".pq"}:
            return TransactionSource(name, tuple(Path(f) for f in files), "file")  # each read by read_transactions (workbooks too), as one at a time
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
        return TransactionSource(source.name, source.files, "file")  # each read by read_transactions
    return source


def command_words(text: str) -> str:
    """A library message in the command's words: ``engine='pandas'`` -> ``--engine pandas``."""
    # score's dask engine reads every value read_transactions reads (each partition is read by it), so the
    # duckdb engine's refusals of value forms name both engines that read them
    return (text.replace("use engine='pandas' for this file", "score it with --engine pandas or --engine dask")
            .replace("use engine='pandas'", "score with --engine pandas").replace("engine='pandas'", "--engine pandas"))
