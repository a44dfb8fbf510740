"""Column names: the canonical columns, the known source layouts and the mapping onto them.

Recognising a layout (UCI Online Retail and Online Retail II, CDNOW),
checking a user's column map, renaming a raw frame's columns to the canonical
ones, and deciding whether a header row names the required columns (used
to find the header below title lines in text files and workbooks).
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..errors import DataError

__all__ = ["REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "LAYOUTS", "HEADER_SCAN_ROWS", "check_column_map",
           "detect_layout", "check_duplicate_columns", "apply_layout", "canonical_names", "has_required_columns",
           "header_fits", "header_hint"]


REQUIRED_COLUMNS = ("customer_id", "date", "amount")
OPTIONAL_COLUMNS = ("quantity", "product", "category", "channel", "invoice_id")


#: Known source layouts: source column -> canonical column. ``price`` is a unit
#: price; when present without ``amount`` the amount is ``quantity * price``.
LAYOUTS: dict[str, dict[str, str]] = {
    "online_retail_ii": {
        "Invoice": "invoice_id",
        "StockCode": "product",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "Price": "price",
        "Customer ID": "customer_id",
        "Country": "country",
    },
    # The first UCI "Online Retail" release names the same fields differently.
    "online_retail": {
        "InvoiceNo": "invoice_id",
        "StockCode": "product",
        "Description": "description",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "UnitPrice": "price",
        "CustomerID": "customer_id",
        "Country": "country",
    },
    "cdnow": {
        "customer_id": "customer_id",
        "date": "date",
        "number_of_cds": "quantity",
        "dollar_value": "amount",
    },
}


def check_column_map(columns: Mapping[str, str] | None) -> None:
    """Refuse a column mapping whose target is not a column segwork reads (a typo such as ``custmer_id``).

    Checked before any file is read (``read_transactions``, ``segwork data validate`` and ``segwork score``
    share it), naming the known targets and the nearest one: a misspelt target would otherwise surface later as
    "required column 'customer_id' is missing" of a file that has it.
    """
    import difflib

    known = list(dict.fromkeys([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "price",
                                *(v for layout in LAYOUTS.values() for v in layout.values())]))
    for src, dst in (columns or {}).items():
        if str(dst).strip() in known:
            continue
        near = difflib.get_close_matches(str(dst).strip(), known, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise DataError(f"column map {src}={dst} (CLI: --map '{src}={dst}'): {str(dst).strip()!r} is not a column segwork "
                        f"reads; {hint}the targets are {', '.join(known)}")


def detect_layout(cols: list) -> str:
    """The key of :data:`LAYOUTS` whose source columns ``cols`` contains, else ``"canonical"``.

    ``cols``: the source's column names. Online Retail II and Online Retail
    need every column of their layout but ``Description`` and ``Country``;
    CDNOW needs ``number_of_cds`` and ``dollar_value``. Never raises.
    """
    names = {str(c) for c in cols}
    for key in ("online_retail_ii", "online_retail"):
        required = set(LAYOUTS[key]) - {"Description", "Country"}
        if required <= names:
            return key
    if {"number_of_cds", "dollar_value"} <= names:
        return "cdnow"
    return "canonical"


def check_duplicate_columns(cols, name: str) -> None:
    """Raise :class:`~segwork.DataError` when two of ``cols`` have the same name (after stripping spaces).

    ``name`` is the source named in the message (a path or ``"<DataFrame>"``).
    """
    seen, dupes = set(), []
    for c in cols:
        key = str(c).strip()
        if key in seen:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise DataError(
            f"{name}: duplicate column name {dupes[0]!r}; each column must have a unique name "
            "(rename one in the file or pass columns=)"
        )


def apply_layout(raw: pd.DataFrame, layout: str, columns, name: str) -> pd.DataFrame:
    """``raw`` with canonical column names: stripped, renamed by ``layout`` and then by the user's ``columns``.

    ``layout``: ``"canonical"`` or a key of :data:`LAYOUTS` (``"auto"`` is
    resolved before, with :func:`detect_layout`); ``columns``: source name ->
    canonical name, or ``None``. Without ``amount`` but with ``quantity`` and
    ``price``, ``attrs["amount_from"]`` says the amount is their product.
    Returns a new frame (the rows are not touched).

    Raises :class:`~segwork.DataError` naming ``name`` for an unknown layout,
    a mapped column the source lacks, duplicate names after renaming, or a
    missing required column (with the hint in ``attrs["header_hint"]``, if any).
    """
    if layout not in ("canonical", *LAYOUTS):
        raise DataError(f"{name}: unknown layout {layout!r}; use 'auto', 'canonical' or one of {sorted(LAYOUTS)}")
    raw = raw.rename(columns=lambda c: str(c).strip())
    if layout in LAYOUTS:
        raw = raw.rename(columns=LAYOUTS[layout])
    if columns:
        missing = [src for src in columns if src not in raw.columns]
        if missing:
            raise DataError(
                f"{name}: column mapping names column {missing[0]!r}, which is not in the file "
                f"(columns: {', '.join(map(str, raw.columns))})"
            )
        raw = raw.rename(columns=dict(columns))
    check_duplicate_columns(raw.columns, name)
    if "amount" not in raw.columns and {"quantity", "price"} <= set(raw.columns):
        raw.attrs["amount_from"] = "quantity * price"
    for col in REQUIRED_COLUMNS:
        if col == "amount" and raw.attrs.get("amount_from"):
            continue
        if col not in raw.columns:
            raise DataError(
                f"{name}: required column {col!r} is missing (columns: "
                f"{', '.join(map(str, raw.columns))}); rename it in the file or map it, e.g. "
                f"columns={{'<your column>': {col!r}}} (CLI: --map '<your column>={col}')"
                + (f"; but {raw.attrs['header_hint']}" if raw.attrs.get("header_hint") else "")
            )
    return raw


def canonical_names(cols, layout: str, columns) -> dict[str, str]:
    """Source column (stripped text) -> canonical name under ``layout`` (a key of :data:`LAYOUTS` or
    ``"canonical"``) and the user's mapping ``columns`` (or ``None``). Never raises."""
    out = {}
    for c in cols:
        name = str(c).strip()
        canon = LAYOUTS[layout].get(name, name) if layout in LAYOUTS else name
        out[name] = (columns or {}).get(name, (columns or {}).get(canon, canon))
    return out


def has_required_columns(cols, layout: str, columns) -> bool:
    """Whether a sheet with these headers gives the required columns under ``layout`` and ``columns``.

    Required: ``customer_id``, ``date``, and ``amount`` or both ``quantity``
    and ``price``. ``layout`` is a key of :data:`LAYOUTS` or ``"canonical"``
    (not ``"auto"``: see :func:`header_fits`). Never raises.
    """
    names = {str(c).strip() for c in cols}
    if layout in LAYOUTS:
        names = {LAYOUTS[layout].get(c, c) for c in names}
    names = {(columns or {}).get(c, c) for c in names}
    return {"customer_id", "date"} <= names and ("amount" in names or {"quantity", "price"} <= names)


def header_fits(cells, layout: str, columns) -> bool:
    """Whether the header cells ``cells`` name the required columns, as :func:`has_required_columns`, with
    ``layout="auto"`` resolved from the cells themselves. Used to find a header below title lines."""
    found = detect_layout(cells) if layout == "auto" else layout
    return has_required_columns(cells, found, columns)


#: Rows searched for the header when the first row is not one (title lines above a report's table).
HEADER_SCAN_ROWS = 20


def header_hint(first_cell, where: str) -> str:
    """The sentence a refusal adds when row 1 of ``where`` (``"the file"``, ``"sheet 'x'"``) is a title and no
    row among the first :data:`HEADER_SCAN_ROWS` names the required columns: it names ``header_row=``."""
    return (f"row 1 of {where} looks like a title ({str(first_cell)[:60]!r}), not the column names, and no row "
            f"among the first {HEADER_SCAN_ROWS} names the required columns: give the header's row number, "
            "header_row=N (CLI: --header-row N, the row number as Excel or a text editor shows it)")
