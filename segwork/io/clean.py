"""Cleaning: :func:`clean_transactions`, the step every transaction passes, whatever its way in.

Ids, dates and numbers are decided per column (:mod:`~segwork.io.dates`,
:mod:`~segwork.io.numbers`), then each rule of :class:`~segwork.io.CleaningRules`
drops, keeps or rejects the rows it matches, and the
:class:`~segwork.io.CleaningReport` counts them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .dates import parse_dates
from .layouts import OPTIONAL_COLUMNS
from .messages import format_example, plain_value, row_number
from .numbers import check_ids_written_out, decimal_hint, id_codes, to_id, to_number
from .report import CleaningReport, Decision, RuleResult
from .rules import RULE_TEXT, CleaningRules, implausible_dates

#: Columns read as ids: an example row quotes them as the cleaned column holds them.
_ID_COLUMNS = ("customer_id", "invoice_id")

__all__ = ["clean_transactions", "clean_rows", "duplicated_rows", "CLEANED_ATTR", "passed_the_gate"]

#: The key of ``DataFrame.attrs`` by which a frame :func:`clean_transactions` returned says it passed the gate
#: (JSON-able, so it survives Parquet; pandas keeps ``attrs`` through row selections and copies).
CLEANED_ATTR = "segwork_cleaned"


def passed_the_gate(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` (or a row selection or copy of it) is what :func:`clean_transactions` returned."""
    return frame.attrs.get(CLEANED_ATTR) is True


def clean_transactions(
    raw: pd.DataFrame,
    *,
    rules: CleaningRules | None = None,
    source: str = "<DataFrame>",
    layout: str = "canonical",
    date_format: str | None = None,
    dayfirst: bool | None = None,
    allow_empty: bool = False,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Apply the cleaning rules to a frame that already has canonical column names.

    The rows :func:`clean_rows` keeps, in the canonical order (by customer, then date; index ``0..n-1``) with
    ``str`` customer ids. ``raw`` needs ``customer_id``, ``date`` and either ``amount`` or both
    ``quantity`` and ``price``. See :func:`read_transactions` for the output,
    how dates and numbers are decided and the errors raised. ``allow_empty``
    returns an empty table instead of raising when no row is left (one
    partition of many, as the Dask engine cleans them). The returned frame
    carries the gate's mark (``attrs[CLEANED_ATTR]``, :func:`passed_the_gate`),
    so :func:`segwork.features.rfm_summary` and ``customer_table`` do not
    clean it (or a row selection of it) again; values edited afterwards are
    not checked again (give those functions ``cleaned=False``).
    """
    df, report = clean_rows(raw, rules=rules, source=source, layout=layout, date_format=date_format,
                            dayfirst=dayfirst, allow_empty=allow_empty)
    out = df.sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)
    out["customer_id"] = out["customer_id"].astype(str)
    out.attrs = {CLEANED_ATTR: True}  # the mark of the gate: rfm_summary / customer_table do not clean it again
    return out, report


def clean_rows(
    raw: pd.DataFrame,
    *,
    rules: CleaningRules | None = None,
    source: str = "<DataFrame>",
    layout: str = "canonical",
    date_format: str | None = None,
    dayfirst: bool | None = None,
    allow_empty: bool = False,
) -> tuple[pd.DataFrame, CleaningReport]:
    """The gate without the canonical order: every rule of :func:`clean_transactions` and its whole report.

    Returns the kept rows in the order of ``raw`` (on its index) with the
    canonical columns, ``customer_id`` as a ``Categorical`` whose categories
    are the cleaned ids (``str``, sorted, possibly some of dropped rows only),
    and the :class:`CleaningReport` (rule counts, examples, decisions, kept
    rows, customers, first and last date, revenue summed in the order of
    ``raw``). It is what :func:`clean_transactions` sorts; an aggregation
    that needs no order (:func:`segwork.features.rfm_summary` of a DataFrame)
    takes it as it is. Arguments and errors as :func:`clean_transactions`.
    """
    rules = rules or CleaningRules()
    decimal = raw.attrs.get("decimal")
    report = CleaningReport(source=source, layout=layout, rows_read=len(raw),
                            sheets_read=list(raw.attrs.get("sheets_read", [])),
                            sheets_skipped=list(raw.attrs.get("sheets_skipped", [])))
    if len(report.sheets_read) > 1 or report.sheets_skipped:
        report.decisions.append(Decision(
            "(workbook)", "sheets", f"read {len(report.sheets_read)}: {', '.join(map(repr, report.sheets_read))}",
            "skipped " + "; ".join(f"{n!r} ({r})" for n, r in report.sheets_skipped) if report.sheets_skipped
            else "all sheets share the layout"))
    report.decisions.extend(raw.attrs.get("read_decisions", []))
    if raw.empty:
        raise DataError(f"{source}: no transaction rows to read")

    df = pd.DataFrame(index=raw.index)
    # customer ids hashed once, then checked (scientific notation) and cleaned (to_id) once per distinct id
    codes, ids = id_codes(raw["customer_id"], "customer_id", source)
    if "invoice_id" in raw.columns:
        check_ids_written_out(raw["invoice_id"], "invoice_id", source)
    df["customer_id"] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(ids), validate=False)
    fmt = date_format or ("%Y%m%d" if layout == "cdnow" else None)
    df["date"] = parse_dates(raw["date"], fmt, dayfirst, column="date", source=source,
                             decisions=report.decisions)
    if fmt and not date_format:
        for d in report.decisions:
            if d.topic == "date format":
                d.evidence = f"the {layout} layout"
    numeric = [c for c in ("quantity", "price", "amount") if c in raw.columns]
    hint = None if decimal else (lambda: decimal_hint(raw, numeric, raw.attrs.get("sep")))  # only when needed
    for col in numeric:
        df[col] = to_number(raw[col], decimal, column=col, source=source, hint=hint,
                            decisions=report.decisions)
    if "amount" not in raw.columns:
        df["amount"] = df["quantity"] * df["price"]
    for col in ("product", "category", "channel", "invoice_id"):
        if col in raw.columns:
            df[col] = to_id(raw[col]) if col == "invoice_id" else raw[col].astype("string").str.strip()

    def apply(rule: str, mask: pd.Series, example_cols=None) -> None:
        nonlocal df
        action = getattr(rules, rule)
        n = int(mask.sum())
        example = None
        if n:
            i = mask.to_numpy().nonzero()[0][0]
            label = df.index[i]
            cols = [c for c in raw.columns if c in df.columns or c not in ("",)]
            # ids as the cleaned column holds them (12482, not the 12482.0 a column with gaps is read as; a
            # missing id as "missing"); every other cell as the file gave it
            example = {str(c): plain_value(_id_cell(df.at[label, c]) if c in _ID_COLUMNS else raw.at[label, c])
                       for c in cols[:8]}
        report.rules.append(RuleResult(rule, action, n, example))
        if n and action == "error":
            col = example_cols or "row"
            raise DataError(
                f"{source}: {n:,} row(s) with {RULE_TEXT[rule]} (column {col}), first at row "
                f"{row_number(label, layout)}: {format_example(example)}; fix the file or set "
                f"CleaningRules({rule}='drop')"
            )
        if n and action == "drop":
            df = df[~mask]

    apply("missing_customer_id", df["customer_id"].isna(), "customer_id")
    apply("unparseable_date", df["date"].isna(), "date")
    apply("implausible_date", implausible_dates(df["date"], rules), "date")
    bad = ~np.isfinite(df["amount"].to_numpy(dtype="float64", na_value=np.nan))
    apply("bad_amount", pd.Series(bad, index=df.index), "amount")
    returns = pd.Series(False, index=df.index)
    if "invoice_id" in df.columns:
        returns |= df["invoice_id"].str.upper().str.startswith("C").fillna(False).astype(bool)
    if "quantity" in df.columns:
        returns |= (df["quantity"] < 0).fillna(False)
    apply("returns", returns, "invoice_id/quantity")
    apply("non_positive_amount", df["amount"] <= 0, "amount")
    if rules.duplicates == "keep":  # not looked for, on every engine (the out-of-core ones skip its GROUP BY)
        report.rules.append(RuleResult("duplicates", "keep", 0, None))
    else:
        apply("duplicates", duplicated_rows(df), "all columns")
    if rules.observation_end is not None:
        end = pd.Timestamp(rules.observation_end)
        apply("after_observation_end", df["date"] > end + pd.Timedelta(days=1) - pd.Timedelta(1), "date")
    else:
        report.rules.append(RuleResult("after_observation_end", rules.after_observation_end, 0, None))

    keep = ["customer_id", "date", "amount"] + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    out = df[keep]
    if out.empty and not allow_empty:
        raise DataError(
            f"{source}: no rows left after cleaning ({report.rows_read:,} read); "
            + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
            + ". Check the column mapping and the cleaning rules"
        )
    bought = np.zeros(len(ids), dtype=bool)
    bought[out["customer_id"].cat.codes.to_numpy()] = True  # kept rows have an id (missing ones cannot be kept)
    report.rows_kept = len(out)
    report.customers = int(np.count_nonzero(bought))
    report.first_date = out["date"].min()
    report.last_date = out["date"].max()
    report.revenue = float(out["amount"].sum())
    return out, report


def _id_cell(value):
    """An id cell of the cleaned frame as an example quotes it: a missing id is ``None`` ("missing")."""
    return None if value is pd.NA or (isinstance(value, float) and np.isnan(value)) else value


def duplicated_rows(df: pd.DataFrame) -> pd.Series:
    """``df.duplicated(keep="first")`` (exact duplicate rows over all columns), comparing only the candidates.

    Exact duplicates share their ``date`` (and their customer): only rows whose
    date (customer and date) another row has are compared. They are found by
    comparing neighbours when the rows are in date order (a raw log) or in
    customer-then-date order (the canonical table), else neighbours after one
    sort of the dates. ``df`` needs a ``datetime64`` column ``date``; returns a
    boolean Series on its index.
    """
    t = df["date"].to_numpy().view(np.int64)
    n = len(t)
    if n < 2:
        return pd.Series(np.zeros(n, dtype=bool), index=df.index)
    ids = df["customer_id"] if "customer_id" in df.columns else None
    codes = ids.cat.codes.to_numpy() if ids is not None and isinstance(ids.dtype, pd.CategoricalDtype) else None
    if bool((t[1:] >= t[:-1]).all()):
        same = t[1:] == t[:-1]
    elif codes is not None and bool(((codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (t[1:] >= t[:-1]))).all()):
        same = (codes[1:] == codes[:-1]) & (t[1:] == t[:-1])
    else:
        order = np.argsort(t, kind="stable")
        in_order = t[order]
        same_sorted = in_order[1:] == in_order[:-1]
        candidate = np.zeros(n, dtype=bool)
        candidate[order[np.r_[same_sorted, False] | np.r_[False, same_sorted]]] = True
        same = None
    if same is not None:
        candidate = np.r_[same, False] | np.r_[False, same]
    out = np.zeros(n, dtype=bool)
    if candidate.any():
        out[candidate] = df[candidate].duplicated(keep="first").to_numpy()
    return pd.Series(out, index=df.index)
