"""Excel workbooks: the raw frame of one sheet, or of every sheet in one layout.

The header row is found below title rows, trailing total rows (``Total``,
``Summe`` ... without a date) are dropped, and sheets in another layout are
left out; each of these is recorded as a reading decision.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .layouts import HEADER_SCAN_ROWS, canonical_names, detect_layout, has_required_columns, header_fits, header_hint
from .messages import first_line, plain_value, row_number
from .report import Decision

__all__ = ["read_workbook"]


#: Labels of a total row in the customer id column ("Total", "Grand total", "Summe", "Gesamt", ...).
_TOTAL_LABEL = re.compile(r"^(?:grand[\s-]*|sub-?)?totals?:?$|^(?:gesamt|zwischen)?summe:?$|^gesamt:?$|^insgesamt:?$"
                          r"|^sum:?$|^total g[ée]n[ée]ral:?$|^totaal:?$|^totale:?$|^totalt:?$", re.IGNORECASE)


def _header_cells(values) -> list[str]:
    return [str(v).strip() for v in values if not (v is None or (isinstance(v, float) and np.isnan(v)))
            and str(v).strip()]


def _find_header_row(frame: pd.DataFrame, layout: str, columns) -> int | None:
    """The position in ``frame`` (read with row 1 as header) of the first row among the first
    :data:`HEADER_SCAN_ROWS` rows of the sheet that names the required columns, or ``None``."""
    for i in range(min(HEADER_SCAN_ROWS - 1, len(frame))):
        if header_fits(_header_cells(frame.iloc[i].tolist()), layout, columns):
            return i
    return None


def _looks_like_title(cols) -> bool:
    """Row 1 is a title line, not column names: one named cell (or none) and the rest unnamed."""
    named = [c for c in map(str, cols) if c.strip() and not c.startswith("Unnamed:")]
    return len(cols) > 1 and len(named) <= 1


def _reheader(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    """``frame`` with its row ``i`` as the header; labels keep ``label + 2`` = the sheet's row number."""
    names = [str(v).strip() if str(v).strip() and not pd.isna(v) else f"Unnamed: {j}"
             for j, v in enumerate(frame.iloc[i].tolist())]
    out = frame.iloc[i + 1:].copy()
    out.columns = names
    out.index = pd.RangeIndex(i + 1, i + 1 + len(out))
    return out


def _drop_total_rows(frame: pd.DataFrame, layout: str, columns, where: str, decisions: list) -> pd.DataFrame:
    """Drop the rows at the end of a table whose customer id cell is a total label and whose date is empty.

    A report-style sheet ends in ``Total | | 100``: not a customer, and
    read as a sale it would count the period's revenue twice. Only trailing rows (empty rows
    between them allowed) are dropped, and each drop is a reading decision.
    """
    canon = canonical_names(frame.columns, layout, columns)
    ids = [c for c in frame.columns if canon.get(str(c).strip()) == "customer_id"]
    dates = [c for c in frame.columns if canon.get(str(c).strip()) == "date"]
    if len(ids) != 1 or len(dates) != 1 or frame.empty:
        return frame
    empty = frame.isna().all(axis=1).to_numpy()
    label = frame[ids[0]].map(lambda v: isinstance(v, str) and bool(_TOTAL_LABEL.match(v.strip()))).to_numpy()
    no_date = frame[dates[0]].map(lambda v: v is None or pd.isna(v) or (isinstance(v, str) and not v.strip()))
    total = label & no_date.to_numpy()
    drop = []
    for k in range(len(frame) - 1, -1, -1):
        if total[k]:
            drop.append(k)
        elif not empty[k]:
            break
    if not drop:
        return frame
    first = frame.iloc[min(drop)]
    example = ", ".join(f"{c}={plain_value(v)}" for c, v in first.items() if not pd.isna(v))
    decisions.append(Decision("customer_id", "total rows", f"dropped {len(drop)} total row(s) at the end{where}",
                              f"row {row_number(frame.index[min(drop)], layout)}: {example}; no customer, no date"))
    return frame.drop(index=frame.index[drop])


def _header_of(frame: pd.DataFrame, layout: str, columns, header_row, where: str, decisions: list) -> pd.DataFrame:
    """``frame`` (read with row ``header_row`` or 1 as the header) with the header row found when row 1 is not it."""
    column = "(workbook)" if where.startswith(" of sheet") else "(file)"
    if header_row is not None:
        decisions.append(Decision(column, "header row", f"row {header_row}{where}", "given by header_row="))
        if header_row > 1:
            frame.index = pd.RangeIndex(header_row - 1, header_row - 1 + len(frame))
        return frame
    if header_fits([str(c).strip() for c in frame.columns], layout, columns):
        return frame
    i = _find_header_row(frame, layout, columns)
    if i is None:
        return frame
    above = [str(c) for c in frame.columns if not str(c).startswith("Unnamed:")]
    above += [" ".join(_header_cells(frame.iloc[k].tolist())) for k in range(i)]
    above = [a for a in above if a]
    decisions.append(Decision(
        column, "header row", f"row {i + 2}{where}: the first row that names the required columns",
        f"{i + 1} row(s) above it{': ' + '; '.join(repr(a[:40]) for a in above[:3]) if above else ''}; "
        "pass header_row= (CLI: --header-row) if another row is the header"))
    return _reheader(frame, i)


def read_workbook(path: Path, layout: str, sheet_name, columns, header_row=None):
    """``(raw, layout)`` of an Excel file: one sheet when ``sheet_name`` is given; else every sheet in the first
    usable sheet's layout, concatenated (index ``(sheet, row)``).

    Cells are read as objects (datetime cells stay datetimes). ``attrs``
    carry ``sheets_read``, ``sheets_skipped`` (``(sheet, reason)`` pairs),
    the reading decisions (header row, total rows) and any title hint.
    Raises :class:`~segwork.DataError` naming the file for an unknown sheet
    or a file Excel's readers cannot open.
    """
    header = header_row or 1
    try:
        if sheet_name is not None:
            with pd.ExcelFile(path) as book:
                names = [str(n) for n in book.sheet_names]
                if str(sheet_name) in names:  # a sheet named '2010' is meant by --sheet 2010
                    sheet_name = str(sheet_name)
                elif not (isinstance(sheet_name, int) and 0 <= sheet_name < len(names)):
                    raise DataError(f"{path}: no sheet {sheet_name!r}; the sheets are "
                                    f"{', '.join(map(repr, names))}; pass --sheet NAME or a 0-based number")
                raw = pd.read_excel(book, sheet_name=sheet_name, dtype=object, header=header - 1)
            sheet = names[sheet_name] if isinstance(sheet_name, int) else sheet_name
            decisions: list[Decision] = []
            raw = _header_of(raw, layout, columns, header_row, f" of sheet {sheet!r}", decisions)
            detected = detect_layout(list(raw.columns)) if layout == "auto" else layout
            raw = _drop_total_rows(raw, detected, columns, f" of sheet {sheet!r}", decisions)
            if header_row is None and not header_fits(list(raw.columns), layout, columns) and \
                    _looks_like_title(list(raw.columns)):
                raw.attrs["header_hint"] = header_hint(raw.columns[0], f"sheet {sheet!r}")
            raw.attrs["sheets_read"] = [sheet]
            raw.attrs["read_decisions"] = decisions
            return raw, detected
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, header=header - 1)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read as Excel ({first_line(exc)})") from None
    decisions = []
    chosen, skipped, ref_layout, ref_cols = [], [], None, None
    for name, frame in list(sheets.items()):
        frame = sheets[name] = _header_of(frame, layout, columns, header_row, f" of sheet {str(name)!r}",
                                          decisions)
        cols = [str(c).strip() for c in frame.columns]
        found = detect_layout(cols) if layout == "auto" else layout
        if frame.dropna(how="all").empty:
            skipped.append((str(name), "empty"))
        elif not has_required_columns(cols, found, columns):
            skipped.append((str(name), f"not a transaction layout (columns: {', '.join(cols[:8])})"))
        elif ref_layout is None:
            chosen, ref_layout, ref_cols = [name], found, set(cols)
        elif found != ref_layout or (found == "canonical" and set(cols) != ref_cols):
            skipped.append((str(name), f"another layout ({found}) than sheet {chosen[0]!r} ({ref_layout})"))
        else:
            chosen.append(name)
    if not chosen:  # nothing usable: read the first sheet so the column error names its columns
        name = next(iter(sheets))
        raw = sheets[name]
        skipped = [s for s in skipped if s[0] != str(name)]
        chosen, ref_layout = [name], (detect_layout(list(raw.columns)) if layout == "auto" else layout)
        if header_row is None and _looks_like_title(list(raw.columns)):
            raw.attrs["header_hint"] = header_hint(raw.columns[0], f"sheet {str(name)!r}")
    else:
        for n in chosen:
            sheets[n] = _drop_total_rows(sheets[n], ref_layout, columns, f" of sheet {str(n)!r}", decisions)
        if len(chosen) == 1:
            raw = sheets[chosen[0]]
        else:
            raw = pd.concat({str(n): sheets[n].rename(columns=lambda c: str(c).strip()) for n in chosen},
                            names=["sheet", None])
    raw.attrs["sheets_read"] = [str(n) for n in chosen]
    raw.attrs["sheets_skipped"] = skipped
    raw.attrs["read_decisions"] = [d for d in decisions if any(f"sheet {str(n)!r}" in d.decision for n in chosen)]
    return raw, ref_layout
