"""Read transaction files into segwork's canonical, validated, cleaned table.

The canonical transaction table has one row per transaction line:

========== =========== ===================================================
column     dtype       meaning
========== =========== ===================================================
customer_id string      who bought
date        datetime64  when (day resolution is enough for every model)
amount      float64     money of the line, in the data's currency
quantity    float64     optional: units bought
product     string      optional: product or stock code
category    string      optional: product category
channel     string      optional: sales channel (store, web, app, ...)
invoice_id  string      optional: invoice / order number
========== =========== ===================================================

``read_transactions`` accepts CSV (delimiter, decimal mark and encoding are
detected or given), Parquet, Excel and in-memory DataFrames. It recognises the
UCI "Online Retail II" and the CDNOW layouts as they are. Cleaning is explicit:
each rule in :class:`CleaningRules` drops, keeps or rejects the rows it
matches, and the returned :class:`CleaningReport` says how many rows each rule
touched, with an example. Input files are only ever read.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "LAYOUTS",
    "CleaningRules",
    "CleaningReport",
    "RuleResult",
    "read_transactions",
    "clean_transactions",
]

REQUIRED_COLUMNS = ("customer_id", "date", "amount")
OPTIONAL_COLUMNS = ("quantity", "product", "category", "channel", "invoice_id")
_STRING_COLUMNS = ("customer_id", "product", "category", "channel", "invoice_id")

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

Action = Literal["drop", "keep", "error"]
_ACTIONS = ("drop", "keep", "error")


@dataclass(frozen=True)
class CleaningRules:
    """What to do with each kind of problem row: ``"drop"``, ``"keep"`` or ``"error"``.

    ``"error"`` raises :class:`~segwork.DataError` naming the first offending
    row. Rules run in the order of the fields below; each sees only the rows
    the earlier rules kept.

    Attributes
    ----------
    missing_customer_id:
        Rows without a customer id (guest checkouts). They cannot belong to a
        customer, so the default drops them; ``"keep"`` is not allowed.
    unparseable_date:
        Rows whose date cannot be read. Default ``"drop"``; ``"keep"`` is not allowed.
    bad_amount:
        Rows whose amount (or quantity / price) is not a finite number.
        Default ``"drop"``; ``"keep"`` is not allowed.
    returns:
        Cancellations and returns: an invoice number starting with ``"C"`` or
        a negative quantity. Default ``"drop"``: customer-base models count
        purchases, not their reversals.
    non_positive_amount:
        Lines worth zero or less (free samples, adjustments, bad debt
        entries). Default ``"drop"``.
    duplicates:
        Rows identical in every column to an earlier row. Default ``"drop"``.
    after_observation_end:
        Rows dated after ``observation_end`` (when one is given). Default ``"drop"``.
    observation_end:
        Last day of the observation period (inclusive), or ``None`` for no limit.
    """

    missing_customer_id: Action = "drop"
    unparseable_date: Action = "drop"
    bad_amount: Action = "drop"
    returns: Action = "drop"
    non_positive_amount: Action = "drop"
    duplicates: Action = "drop"
    after_observation_end: Action = "drop"
    observation_end: Any = None

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "observation_end":
                continue
            value = getattr(self, f.name)
            if value not in _ACTIONS:
                raise ValueError(
                    f"CleaningRules.{f.name}={value!r} is not one of {_ACTIONS}"
                )
            if value == "keep" and f.name in _MUST_DROP:
                raise ValueError(
                    f"CleaningRules.{f.name}='keep' is not possible: such rows cannot "
                    "be used by any model; choose 'drop' or 'error'"
                )

    @property
    def rule_names(self) -> list[str]:
        """The rule names, in the order they run."""
        return [f.name for f in fields(self) if f.name != "observation_end"]


_MUST_DROP = {"missing_customer_id", "unparseable_date", "bad_amount"}

_RULE_TEXT = {
    "missing_customer_id": "missing customer id",
    "unparseable_date": "unparseable date",
    "bad_amount": "non-numeric or non-finite amount",
    "returns": "returns / cancellations",
    "non_positive_amount": "zero or negative amount",
    "duplicates": "exact duplicate rows",
    "after_observation_end": "dated after the observation end",
}


@dataclass
class RuleResult:
    """What one cleaning rule did: how many rows it matched and one example."""

    rule: str
    action: str
    rows: int
    example: dict | str | None = None

    @property
    def description(self) -> str:
        return _RULE_TEXT.get(self.rule, self.rule)


@dataclass
class CleaningReport:
    """The outcome of reading and cleaning one source.

    Attributes
    ----------
    source: the file path or ``"<DataFrame>"``.
    layout: the recognised layout (``"canonical"``, ``"online_retail_ii"``, ``"cdnow"``, ...).
    rows_read, rows_kept: row counts before and after cleaning.
    rules: one :class:`RuleResult` per rule, in the order they ran.
    customers: distinct customers kept.
    first_date, last_date: the date range of the kept rows.
    """

    source: str
    layout: str
    rows_read: int
    rows_kept: int = 0
    rules: list[RuleResult] = field(default_factory=list)
    customers: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    revenue: float = 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: rule, description, action, rows, example (as text)."""
        return pd.DataFrame(
            [
                {
                    "rule": r.rule,
                    "description": r.description,
                    "action": r.action,
                    "rows": r.rows,
                    "example": "" if r.example is None else _format_example(r.example),
                }
                for r in self.rules
            ]
        )

    def to_dict(self) -> dict:
        """A JSON-serialisable summary."""
        return {
            "source": self.source,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "customers": self.customers,
            "first_date": None if self.first_date is None else str(self.first_date.date()),
            "last_date": None if self.last_date is None else str(self.last_date.date()),
            "revenue": round(float(self.revenue), 2),
            "rules": [
                {"rule": r.rule, "action": r.action, "rows": r.rows,
                 "example": None if r.example is None else _format_example(r.example)}
                for r in self.rules
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "CleaningReport":
        """Rebuild a report saved with :meth:`to_dict` (examples come back as text)."""
        ts = lambda v: None if v is None else pd.Timestamp(v)  # noqa: E731
        return cls(
            source=data["source"], layout=data["layout"], rows_read=int(data["rows_read"]),
            rows_kept=int(data["rows_kept"]), customers=int(data["customers"]),
            first_date=ts(data.get("first_date")), last_date=ts(data.get("last_date")),
            revenue=float(data.get("revenue", 0.0)),
            rules=[RuleResult(r["rule"], r["action"], int(r["rows"]), r.get("example")) for r in data["rules"]],
        )

    def __str__(self) -> str:
        lines = [
            f"source      {self.source} (layout: {self.layout})",
            f"rows read   {self.rows_read:,}",
            f"rows kept   {self.rows_kept:,}",
            f"customers   {self.customers:,}",
        ]
        if self.first_date is not None:
            lines.append(f"date range  {self.first_date.date()} .. {self.last_date.date()}")
        lines.append(f"revenue     {self.revenue:,.2f}")
        lines.append("cleaning rules (in order):")
        for r in self.rules:
            verb = {"drop": "dropped", "keep": "kept", "error": "rejected"}[r.action]
            line = f"  {r.description:<36} {r.rows:>9,} rows {verb}"
            if r.example is not None:
                line += f"   e.g. {_format_example(r.example)}"
            lines.append(line)
        return "\n".join(lines)


def _format_example(row: Mapping | str) -> str:
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


# --------------------------------------------------------------------------- reading


def read_transactions(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    layout: str = "auto",
    rules: CleaningRules | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    dayfirst: bool = False,
    sheet_name: str | int = 0,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Read a transaction source into the canonical table, cleaned and reported.

    Parameters
    ----------
    source:
        Path to a CSV / TSV / TXT, Parquet (``.parquet``, ``.pq``) or Excel
        (``.xlsx``, ``.xls``) file, or a pandas DataFrame.
    columns:
        Mapping from the source's column names to canonical names, e.g.
        ``{"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"}``.
        Applied after any recognised layout.
    layout:
        ``"auto"`` (recognise Online Retail II, Online Retail and CDNOW),
        ``"canonical"`` (use the names as they are), or a key of :data:`LAYOUTS`.
    rules:
        The :class:`CleaningRules`; defaults drop every problem row and report it.
    sep, decimal, encoding:
        CSV dialect. ``None`` detects the delimiter (``, ; tab |``), the
        decimal mark (``,`` when the delimiter is not a comma and numbers are
        written like ``12,50``) and the encoding (UTF-8, else cp1252).
    date_format, dayfirst:
        How to parse dates; by default the format is inferred.
    sheet_name:
        The Excel sheet to read.

    Returns
    -------
    (transactions, report):
        The canonical DataFrame (columns :data:`REQUIRED_COLUMNS` plus any of
        :data:`OPTIONAL_COLUMNS` present, sorted by customer and date, fresh
        ``RangeIndex``) and the :class:`CleaningReport`.

    Raises
    ------
    DataError
        When the source cannot be used at all: missing or empty file,
        unreadable format, duplicate or missing required columns, or nothing
        left after cleaning. The message names the file, column and value.
    """
    rules = rules or CleaningRules()
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = source.copy()
        detected = _detect_layout(list(raw.columns)) if layout == "auto" else layout
    else:
        path = Path(source)
        name = str(path)
        raw, detected = _read_file(path, layout, sep, decimal, encoding, sheet_name)
    _check_duplicate_columns(raw.columns, name)
    raw = _apply_layout(raw, detected, columns, name)
    return clean_transactions(
        raw, rules=rules, source=name, layout=detected, date_format=date_format, dayfirst=dayfirst
    )


def _read_file(path, layout, sep, decimal, encoding, sheet_name):
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a transaction file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; it needs a header and at least one transaction")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"{path}: cannot read as Parquet ({_first_line(exc)})") from None
        return raw, (_detect_layout(list(raw.columns)) if layout == "auto" else layout)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            raw = pd.read_excel(path, sheet_name=sheet_name, dtype=object)
        except Exception as exc:
            raise DataError(f"{path}: cannot read as Excel ({_first_line(exc)})") from None
        return raw, (_detect_layout(list(raw.columns)) if layout == "auto" else layout)
    return _read_text(path, layout, sep, decimal, encoding)


_CDNOW_LINE = re.compile(r"^\s*\d+\s+(\d+\s+)?\d{8}\s+\d+\s+[\d.]+\s*$")


def _read_text(path, layout, sep, decimal, encoding):
    head = path.open("rb").read(64 * 1024)
    if b"\x00" in head:
        raise DataError(
            f"{path}: looks like a binary file, not CSV text; save it as CSV, Parquet or Excel"
        )
    if encoding is None:
        encoding = _detect_encoding(path, head)
    try:
        text = head.decode(encoding, errors="replace")
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{path}: the file has no text lines")

    # CDNOW: whitespace separated, with (master) or without (sample) a header.
    if layout in ("auto", "cdnow") and sep is None:
        body = lines[1:] if not _CDNOW_LINE.match(lines[0]) else lines
        if body and all(_CDNOW_LINE.match(ln) for ln in body[:50]):
            names = (
                ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
                if len(body[0].split()) == 5
                else ["customer_id", "date", "number_of_cds", "dollar_value"]
            )
            raw = pd.read_csv(
                path, sep=r"\s+", header=None, names=names, dtype=str,
                skiprows=0 if body is lines else 1, encoding=encoding,
            )
            return raw.drop(columns=["sample_id"], errors="ignore"), "cdnow"

    if sep is None:
        sep = _sniff_sep(lines, path)
    header = next(csv.reader([lines[0]], delimiter=sep))
    _check_duplicate_columns(header, str(path))
    if decimal is None:
        decimal = "," if sep != "," and _uses_decimal_comma(lines[1:200], sep) else "."
    try:
        raw = pd.read_csv(
            path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
            na_values=["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"],
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as CSV with sep={sep!r} ({_first_line(exc)}); "
                        "pass sep=/encoding= explicitly") from None
    if raw.empty:
        raise DataError(f"{path}: has a header but no transaction rows")
    detected = _detect_layout(list(raw.columns)) if layout == "auto" else layout
    if decimal != ".":
        raw.attrs["decimal"] = decimal
    return raw, detected


def _detect_encoding(path: Path, head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        with path.open("r", encoding="utf-8") as fh:
            while fh.read(1 << 20):
                pass
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _sniff_sep(lines: list[str], path: Path) -> str:
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            if len(lines) and len(lines[0].split()) > 1:
                return r"\s+"
            raise DataError(
                f"{path}: cannot find a column delimiter in the header {lines[0][:80]!r}; "
                "pass sep= (',' ';' tab '|')"
            ) from None
        return best


_DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")


def _uses_decimal_comma(lines: list[str], sep: str) -> bool:
    hits = 0
    for row in csv.reader(lines, delimiter=sep if len(sep) == 1 else ","):
        hits += sum(bool(_DECIMAL_COMMA.match(cell.strip())) for cell in row)
    return hits >= max(1, len(lines) // 2)


def _detect_layout(cols: list) -> str:
    names = {str(c) for c in cols}
    for key in ("online_retail_ii", "online_retail"):
        required = set(LAYOUTS[key]) - {"Description", "Country"}
        if required <= names:
            return key
    if {"number_of_cds", "dollar_value"} <= names:
        return "cdnow"
    return "canonical"


def _check_duplicate_columns(cols, name: str) -> None:
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


def _apply_layout(raw: pd.DataFrame, layout: str, columns, name: str) -> pd.DataFrame:
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
    _check_duplicate_columns(raw.columns, name)
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
            )
    return raw


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- cleaning


def _to_number(values: pd.Series, decimal: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _to_id(values: pd.Series) -> pd.Series:
    """Customer / invoice ids as strings; ``13085.0`` from spreadsheets becomes ``13085``."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            out = values.astype("Int64").astype("string")
            return out
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def clean_transactions(
    raw: pd.DataFrame,
    *,
    rules: CleaningRules | None = None,
    source: str = "<DataFrame>",
    layout: str = "canonical",
    date_format: str | None = None,
    dayfirst: bool = False,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the cleaning rules to a frame that already has canonical column names.

    ``raw`` needs ``customer_id``, ``date`` and either ``amount`` or both
    ``quantity`` and ``price``. See :func:`read_transactions` for the output.
    """
    rules = rules or CleaningRules()
    decimal = raw.attrs.get("decimal", ".")
    report = CleaningReport(source=source, layout=layout, rows_read=len(raw))
    if raw.empty:
        raise DataError(f"{source}: no transaction rows to read")

    df = pd.DataFrame(index=raw.index)
    df["customer_id"] = _to_id(raw["customer_id"])
    if pd.api.types.is_datetime64_any_dtype(raw["date"]):
        df["date"] = raw["date"]
    else:
        fmt = date_format or ("%Y%m%d" if layout == "cdnow" else None)
        df["date"] = _parse_dates(raw["date"], fmt, dayfirst)
    if getattr(df["date"].dt, "tz", None) is not None:
        df["date"] = df["date"].dt.tz_localize(None)
    for col in ("quantity", "price"):
        if col in raw.columns:
            df[col] = _to_number(raw[col], decimal)
    if "amount" in raw.columns:
        df["amount"] = _to_number(raw["amount"], decimal)
    else:
        df["amount"] = df["quantity"] * df["price"]
    for col in ("product", "category", "channel", "invoice_id"):
        if col in raw.columns:
            df[col] = _to_id(raw[col]) if col == "invoice_id" else raw[col].astype("string").str.strip()

    def apply(rule: str, mask: pd.Series, example_cols=None) -> None:
        nonlocal df
        action = getattr(rules, rule)
        n = int(mask.sum())
        example = None
        if n:
            i = mask.to_numpy().nonzero()[0][0]
            label = df.index[i]
            cols = [c for c in raw.columns if c in df.columns or c not in ("",)]
            example = {str(c): _py(raw.at[label, c]) for c in cols[:8]}
        report.rules.append(RuleResult(rule, action, n, example))
        if n and action == "error":
            col = example_cols or "row"
            raise DataError(
                f"{source}: {n:,} row(s) with {_RULE_TEXT[rule]} (column {col}), first at row "
                f"{_row_number(label, layout)}: {_format_example(example)}; fix the file or set "
                f"CleaningRules({rule}='drop')"
            )
        if n and action == "drop":
            df = df[~mask]

    apply("missing_customer_id", df["customer_id"].isna(), "customer_id")
    apply("unparseable_date", df["date"].isna(), "date")
    bad = ~np.isfinite(df["amount"].to_numpy(dtype="float64", na_value=np.nan))
    apply("bad_amount", pd.Series(bad, index=df.index), "amount")
    returns = pd.Series(False, index=df.index)
    if "invoice_id" in df.columns:
        returns |= df["invoice_id"].str.upper().str.startswith("C").fillna(False).astype(bool)
    if "quantity" in df.columns:
        returns |= (df["quantity"] < 0).fillna(False)
    apply("returns", returns, "invoice_id/quantity")
    apply("non_positive_amount", df["amount"] <= 0, "amount")
    apply("duplicates", df.duplicated(keep="first"), "all columns")
    if rules.observation_end is not None:
        end = pd.Timestamp(rules.observation_end)
        apply("after_observation_end", df["date"] > end + pd.Timedelta(days=1) - pd.Timedelta(1), "date")
    else:
        report.rules.append(RuleResult("after_observation_end", rules.after_observation_end, 0, None))

    keep = ["customer_id", "date", "amount"] + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    out = df[keep].sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)
    if out.empty:
        raise DataError(
            f"{source}: no rows left after cleaning ({report.rows_read:,} read); "
            + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
            + ". Check the column mapping and the cleaning rules"
        )
    out["customer_id"] = out["customer_id"].astype(str)
    report.rows_kept = len(out)
    report.customers = int(out["customer_id"].nunique())
    report.first_date = out["date"].min()
    report.last_date = out["date"].max()
    report.revenue = float(out["amount"].sum())
    return out, report


def _parse_dates(values: pd.Series, fmt: str | None, dayfirst: bool) -> pd.Series:
    """Parse dates; with an inferred format, values in another format are parsed one by one."""
    parsed = pd.to_datetime(values, errors="coerce", format=fmt, dayfirst=dayfirst)
    if fmt is None:
        retry = parsed.isna() & values.notna()
        if retry.any():
            parsed = parsed.copy()
            parsed[retry] = pd.to_datetime(values[retry], errors="coerce", format="mixed", dayfirst=dayfirst)
    return parsed


def _row_number(label, layout: str) -> str:
    """The 1-based line number in a file with a header, for messages."""
    if isinstance(label, (int, np.integer)):
        return str(int(label) + (1 if layout == "cdnow" else 2))
    return repr(label)


def _py(value):
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value
