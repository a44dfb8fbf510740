"""What the engines read: the files behind a path, folder or glob, the engine to use, the pandas reader.

:func:`resolve_source` turns what the user gave into a :class:`TransactionSource` (one kind of file);
:func:`choose_engine` picks the engine; :func:`read_source_pandas` reads a source with
:func:`segwork.io.read_transactions` and cleans the rows of all its files together; :func:`csv_skip` and
:data:`CSV_NULL_STRINGS` are how the out-of-core engines read CSV text as ``read_transactions`` does.
"""
from __future__ import annotations

import glob as _glob
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ...io import (CSV_NULL_STRINGS, CleaningRules, apply_layout, check_duplicate_columns, read_file, clean_transactions,
                   read_transactions, text_dialect)

__all__ = ["ENGINES", "INSTALL", "CSV_NULL_STRINGS", "need_engine_module", "TransactionSource", "resolve_source",
           "is_path_like", "choose_engine", "read_source_pandas", "csv_skip"]

ENGINES = ("pandas", "duckdb", "dask")
INSTALL = "pip install 'segwork[scale]'"
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".tsv", ".txt")


def need_engine_module(module: str, engine: str):
    """Import an optional dependency of an engine (``duckdb``, ``distributed`` ...), the one check for every caller.

    Raises :class:`~segwork.errors.DataError` (one line, so the CLI shows it with exit 2) saying what to install:
    the same error wherever an engine is used (rfm_summary, customer_table, segwork score).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"engine={engine!r} needs {module.split('.')[0]}, which is not installed: {INSTALL}") from None


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class TransactionSource:
    """Files to read as one transaction table.

    ``name`` is what the user gave (path, folder or glob, as text); ``files``
    the matching files (sorted); ``kind`` ``"parquet"`` or ``"csv"``.
    """

    name: str
    files: tuple[Path, ...]
    kind: str


def _few(files, folder=None) -> str:
    names = [str(f.relative_to(folder)) if folder is not None else str(f) for f in files]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def resolve_source(source, *, mixed: bool = False) -> TransactionSource:
    """The files behind a path, a folder (every Parquet and CSV file in it, recursively) or a glob.

    ``mixed=True`` (the pandas engine, which reads file by file): Parquet and CSV
    files together are kind ``"mixed"``. Otherwise they are refused, naming the
    files of each kind: an engine that reads one kind would skip the others, and
    customers left out without a word are wrong scores.

    Raises :class:`DataError` when nothing matches, when Parquet and CSV files
    are mixed (``mixed=False``), or for a file type the engines do not read.
    """
    if isinstance(source, (list, tuple)):
        parts = [resolve_source(s, mixed=mixed) for s in source]
        kinds = {p.kind for p in parts}
        if len(kinds) > 1:
            if not mixed:
                raise DataError(f"{', '.join(p.name for p in parts)}: mixes Parquet and CSV files; give one kind "
                                "(engine='pandas' reads both)")
            kinds = {"mixed"}
        return TransactionSource(", ".join(p.name for p in parts), tuple(f for p in parts for f in p.files), kinds.pop())
    name = str(source)
    path = Path(source)
    folder = None
    if any(ch in name for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(name, recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{name}: the pattern matches no file; check the folder and the pattern")
    elif path.is_dir():
        folder = path
        files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in _PARQUET + _CSV)
        if not files:
            raise DataError(f"{name}: the folder holds no .parquet or .csv file")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{name}: no such file or folder; check the path")
    suffixes = {f.suffix.lower() for f in files}
    if suffixes <= set(_PARQUET):
        kind = "parquet"
    elif suffixes <= set(_CSV):
        kind = "csv"
    elif suffixes <= set(_PARQUET) | set(_CSV):
        if not mixed:
            parquet = [f for f in files if f.suffix.lower() in _PARQUET]
            csv = [f for f in files if f.suffix.lower() in _CSV]
            raise DataError(f"{name}: holds Parquet files ({_few(parquet, folder)}) and CSV files "
                            f"({_few(csv, folder)}); this engine reads one kind at a time and would skip the "
                            "others: give one kind (a glob such as '*.parquet' or '*.csv'), or read both with "
                            "engine='pandas'")
        kind = "mixed"
    else:
        odd = sorted(suffixes - set(_PARQUET) - set(_CSV))
        raise DataError(f"{name}: {odd[0]!r} files are not read by the out-of-core engines; give Parquet or CSV "
                        "files (Excel and other files: engine='pandas')")
    empty = [f for f in files if f.stat().st_size == 0]
    if empty:
        raise DataError(f"{empty[0]}: the file is empty; it needs a header and at least one transaction")
    return TransactionSource(name, tuple(files), kind)


def is_path_like(source) -> bool:
    """True for what :func:`resolve_source` takes (str, os.PathLike, or a list of them)."""
    import os

    if isinstance(source, (list, tuple)):
        return bool(source) and all(isinstance(s, (str, os.PathLike)) for s in source)
    return isinstance(source, (str, os.PathLike))


def choose_engine(source, engine: str | None) -> str:
    """The engine to use: the one asked for, else ``duckdb`` for a path and ``pandas`` for a DataFrame."""
    if engine is None or engine == "auto":
        if isinstance(source, pd.DataFrame):
            return "pandas"
        return "duckdb"
    if engine not in ENGINES:
        raise DataError(f"engine={engine!r} is not one of {ENGINES}")
    return engine


def read_source_pandas(source, *, rules: CleaningRules | None, columns=None, layout: str = "auto", sep=None,
                       decimal=None, encoding=None, date_format=None, dayfirst=None, sheet_name=None,
                       header_row=None):
    """The transactions of a path, folder or glob read by :func:`segwork.io.read_transactions` (cleaned once).

    One file of any kind ``read_transactions`` reads (CSV, CDNOW text, Excel,
    Parquet) is read as it is; the files of a folder or glob are read one by
    one and cleaned together, so that exact duplicate rows in two files count
    as duplicates and dates and numbers are decided on all the rows, as
    ``read_transactions`` on the combined rows would. The keywords are those
    of ``read_transactions``. Returns ``(transactions, report)``.
    """
    reading = dict(layout=layout, sep=sep, decimal=decimal, encoding=encoding, sheet_name=sheet_name)
    dates = dict(date_format=date_format, dayfirst=dayfirst)
    if not isinstance(source, TransactionSource):
        name = str(source)
        if not isinstance(source, (list, tuple)) and not any(ch in name for ch in "*?[") and not Path(name).is_dir():
            return read_transactions(source, rules=rules, columns=columns, header_row=header_row, **reading, **dates)
        source = resolve_source(source, mixed=True)  # read file by file: Parquet and CSV together too
    if len(source.files) == 1:
        return read_transactions(source.files[0], rules=rules, columns=columns, header_row=header_row, **reading,
                                 **dates)
    frames, layouts, attrs = [], set(), {}
    for f in source.files:
        raw, detected = read_file(f, layout, sep, decimal, encoding, sheet_name, columns, header_row)
        check_duplicate_columns(raw.columns, str(f))
        layouts.add(detected)
        attrs = attrs or dict(raw.attrs)  # the first file's reading decisions (number marks, delimiter)
        frames.append(apply_layout(raw, detected, columns, str(f)))
    if len(layouts) > 1:
        raise DataError(f"{source.name}: the files are in different layouts ({', '.join(sorted(layouts))}); "
                        "read them separately")
    raw = pd.concat(frames, ignore_index=True)
    raw.attrs.update(attrs)
    return clean_transactions(raw, rules=rules, source=source.name, layout=layouts.pop(), **dates)


def csv_skip(files) -> int:
    """Lines above the header of CSV files (title lines), as ``read_transactions`` finds them; 0 unless every
    file has the same count (DuckDB's ``skip`` is one number for all files)."""
    skips = set()
    for f in files:
        try:
            skips.add(text_dialect(f)[2])
        except DataError:  # what read_transactions refuses, DuckDB's own reader refuses in its words
            skips.add(0)
    return skips.pop() if len(skips) == 1 else 0
