"""How io quotes the data in its messages and reports.

An exception's first line, a row's line number in the file, a cell as a
plain Python value and an example row as one line of text: the pieces every
reader, the cleaning rules and the engines put into a :class:`~segwork.DataError`
or a :class:`~segwork.io.CleaningReport`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["first_line", "row_number", "plain_value", "format_example", "shown_path", "note_line"]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when the text is empty), for one-line messages.

    A library error (pandas, pyarrow, openpyxl) can span many lines; a
    :class:`~segwork.DataError` quotes only this line. Never raises.
    """
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def row_number(label, layout: str) -> str:
    """The 1-based line number in a file with a header, for messages.

    ``label`` is a row label of a raw frame as the readers leave it: an int
    (0-based data row; + 2 for the header, + 1 for CDNOW files without one) or a
    ``(sheet, int)`` pair of a workbook read sheet by sheet (``"5 of sheet
    '2010'"``). Any other label comes back as its ``repr``. Never raises.
    """
    if isinstance(label, (int, np.integer)):
        return str(int(label) + (1 if layout == "cdnow" else 2))
    if isinstance(label, tuple) and len(label) == 2 and isinstance(label[1], (int, np.integer)):
        return f"{int(label[1]) + 2} of sheet {label[0]!r}"
    return repr(label)


def plain_value(value):
    """``value`` as a plain Python object for an example or a message: numpy scalars as Python numbers,
    ``pd.NA`` as ``None``, anything else unchanged. Never raises."""
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value


def format_example(row: Mapping | str) -> str:
    """One example row as text, ``"customer_id=C1, date=missing, amount=NaN"``, cut to 160 characters.

    ``row``: column -> value (NaN shown as ``NaN``, ``None`` / ``NaT`` as
    ``missing``), or text already formatted (returned as it is). Used in the
    cleaning report and in every engine's rule error. Never raises.
    """
    if isinstance(row, str):
        return row
    parts = []
    for key, value in row.items():
        if isinstance(value, float) and np.isnan(value):
            value = "NaN"
        elif value is None or value is pd.NaT:
            value = "missing"
        parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


def shown_path(path, cwd=None) -> str:
    """A file's path as pages and messages show it: relative to ``cwd`` (default: the working folder) when the
    file lies under it, else its name alone, so that no local absolute path (``/home/ana/...``) reaches a page
    that may be shared. A relative ``path`` is taken as it is. Never raises.
    """
    text = str(path)
    p = Path(text)
    if not p.is_absolute():
        return text
    try:
        return p.relative_to(Path(cwd) if cwd is not None else Path.cwd()).as_posix()
    except (ValueError, OSError):
        return p.name


def note_line(message) -> str:
    """A warning or a fit's remark as the command line prints it: ``note: <text on one line>``, without the
    source file and line a Python warning carries (``segwork report`` and every other command say notes this way).
    ``message``: text, a :class:`Warning` or any object; never raises."""
    return "note: " + " ".join(str(message).split())
