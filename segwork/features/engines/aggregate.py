"""The per-customer aggregate every engine returns, and its one pandas reference.

"Per day, then per customer": the rows of a customer are summed per purchase day, then the days per
customer (:data:`AGGREGATE_COLUMNS`). :func:`pandas_aggregate_frame` is the reference implementation: the
pandas engine uses it, the Dask engine runs it on each customer partition, and the DuckDB engine's SQL
(:func:`segwork.features.engines.sql.aggregate_sql`) is tested against it. Also the cleaning-report
bookkeeping the out-of-core engines share (:func:`close_report`, :func:`rule_error`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import RULE_TEXT, CleaningReport, CleaningRules, RuleResult, format_example

__all__ = ["AGGREGATE_COLUMNS", "Aggregated", "ROW_RULES", "pandas_aggregate_frame", "pandas_aggregate",
           "finish_aggregate", "empty_aggregate", "day_numbers", "mix_counts", "close_report", "rule_error"]

#: Columns of the per-customer aggregate every engine returns (index: customer_id as text, sorted).
AGGREGATE_COLUMNS = (
    "first_day",     # int64: first calibration purchase day (days since 1970-01-01)
    "last_day",      # int64: last calibration purchase day
    "cal_days",      # int64: distinct calibration purchase days
    "holdout_days",  # int64: distinct purchase days after calibration_end, up to observation_end
    "cal_value",     # float64: money of the calibration rows
    "first_value",   # float64: money of the rows on first_day
    "holdout_value",  # float64: money of the holdout rows
    "n_rows",        # int64: transaction lines up to observation_end (both periods)
    "revenue",       # float64: money of those lines
)


ROW_RULES = ("missing_customer_id", "unparseable_date", "implausible_date", "bad_amount", "returns",
              "non_positive_amount")


def rule_error(source: str, rule: str, n: int, example, col: str):
    return DataError(
        f"{source}: {n:,} row(s) with {RULE_TEXT[rule]} (column {col}), e.g. {format_example(example or {})}; "
        f"fix the file or set CleaningRules({rule}='drop')"
    )


def close_report(report: CleaningReport, per_customer: pd.DataFrame, rules: CleaningRules, name: str,
                  rule_end: int | None, after_example=lambda: None) -> tuple[pd.DataFrame, int, int]:
    """Fill the report's duplicates / after_observation_end rules and totals from a per-customer aggregate.

    ``per_customer`` has the columns of :func:`aggregate_sql`. Raises the
    rules' ``"error"`` and "no rows left" as ``read_transactions`` does.
    Returns the calibration customers, the first and the last kept day.
    """
    dup = int(per_customer["dup_rows"].sum())
    if rules.duplicates == "error" and dup:
        raise rule_error(name, "duplicates", dup, None, "all columns")
    report.rules.append(RuleResult("duplicates", rules.duplicates, dup if rules.duplicates != "keep" else 0, None))
    n_after = int(per_customer["after_rows"].sum()) if rule_end is not None else 0
    example = after_example() if n_after else None
    report.rules.append(RuleResult("after_observation_end", rules.after_observation_end, n_after, example))
    if n_after and rules.after_observation_end == "error":
        raise rule_error(name, "after_observation_end", n_after, example, "date")
    kept = per_customer[per_customer["kept_rows"] > 0]
    if kept.empty:
        raise DataError(
            f"{name}: no rows left after cleaning ({report.rows_read:,} read); "
            + "; ".join(f"{r.description}: {r.rows:,}" for r in report.rules if r.rows)
            + ". Check the column mapping and the cleaning rules"
        )
    report.rows_kept, report.customers = int(kept["kept_rows"].sum()), len(kept)
    report.first_date = pd.Timestamp(kept["kept_min_date"].min())
    report.last_date = pd.Timestamp(kept["kept_max_date"].max())
    report.revenue = float(kept["kept_revenue"].sum())
    first_tx, last_tx = int(kept["kept_min_day"].min()), int(kept["kept_max_day"].max())
    return per_customer[per_customer["cal_days"] > 0], first_tx, last_tx


def finish_aggregate(frame: pd.DataFrame, sort: bool = True) -> pd.DataFrame:
    out = frame[["customer_id", *AGGREGATE_COLUMNS]].set_index("customer_id")
    if sort:
        out = out.sort_index()
    out.index = pd.Index(out.index.astype(str), name="customer_id")
    for col in ("first_day", "last_day", "cal_days", "holdout_days", "n_rows"):
        out[col] = out[col].astype(np.int64)
    for col in ("cal_value", "first_value", "holdout_value", "revenue"):
        out[col] = out[col].astype(np.float64)
    return out[list(AGGREGATE_COLUMNS)]


@dataclass
class Aggregated:
    """What an engine returns: the per-customer aggregate and what surrounds it.

    ``customers``: :data:`AGGREGATE_COLUMNS` indexed by ``customer_id`` (text,
    sorted), customers with a calibration purchase only; ``first_tx`` /
    ``last_tx``: first and last purchase day of all kept rows; ``report``: the
    :class:`CleaningReport` (``None`` for a DataFrame input); ``mix``: per
    column (``category``, ``channel``) a customers x values count table when
    asked for.
    """

    customers: pd.DataFrame
    first_tx: int
    last_tx: int
    report: CleaningReport | None
    mix: dict


#: DuckDB settings every connection of the engine gets, e.g. ``{"memory_limit": "6GB", "threads": 2,
#: "temp_directory": "/scratch/duckdb"}`` (DuckDB's defaults when absent: 80 % of RAM, all cores, a


def day_numbers(dates: pd.Series) -> np.ndarray:
    values = dates.to_numpy()
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0]))
    return values.view(np.int64) // per_day


def pandas_aggregate_frame(tx: pd.DataFrame, cal_end: int | None, obs_end: int | None) -> pd.DataFrame:
    """:data:`AGGREGATE_COLUMNS` of clean canonical rows (``customer_id`` text, ``date``, ``amount``), in pandas.

    Customers without a calibration purchase are left out. Used on each
    customer-partition of the Dask engine.
    """
    day = day_numbers(tx["date"])
    frame = pd.DataFrame({"customer_id": tx["customer_id"].to_numpy(), "day": day,
                          "amount": tx["amount"].to_numpy(dtype=np.float64)})
    if obs_end is not None:
        frame = frame[frame["day"] <= obs_end]
    pairs = frame.groupby(["customer_id", "day"], sort=True).agg(v=("amount", "sum"), n=("amount", "size"))
    pairs = pairs.reset_index()
    cal = np.ones(len(pairs), dtype=bool) if cal_end is None else (pairs["day"] <= cal_end).to_numpy()
    pairs["cal_day"] = pairs["day"].where(cal)
    pairs["is_cal"] = cal.astype(np.int64)
    pairs["is_hold"] = (~cal).astype(np.int64)
    pairs["cal_v"] = pairs["v"].where(cal, 0.0)
    pairs["hold_v"] = pairs["v"].where(~cal, 0.0)
    g = pairs.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "first_day": g["cal_day"].min(),
        "last_day": g["cal_day"].max(),
        "cal_days": g["is_cal"].sum(),
        "holdout_days": g["is_hold"].sum(),
        "cal_value": g["cal_v"].sum(),
        "holdout_value": g["hold_v"].sum(),
        "n_rows": g["n"].sum(),
        "revenue": g["v"].sum(),
    })
    out = out[out["cal_days"] > 0]
    # pairs are sorted by customer and day: the first calibration pair of a customer is its first day
    firsts = pairs[cal].drop_duplicates("customer_id", keep="first").set_index("customer_id")["v"]
    out["first_value"] = firsts.reindex(out.index).to_numpy()
    out = out.reset_index()
    return out if len(out) else empty_aggregate()


def empty_aggregate() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=np.float64 if "value" in c or c == "revenue" else np.int64)
                          for c in AGGREGATE_COLUMNS})
    frame.insert(0, "customer_id", pd.Series(dtype=str))
    return frame


def mix_counts(part: pd.DataFrame, column: str, obs_end: int | None, rule_end: int | None,
                      drop_after: bool, dedupe: bool) -> pd.DataFrame:
    rows = part[~part.duplicated(keep="first")] if dedupe else part
    day = day_numbers(rows["date"])
    keep = np.ones(len(rows), dtype=bool)
    if rule_end is not None and drop_after:
        keep &= day <= rule_end
    if obs_end is not None:
        keep &= day <= obs_end
    rows = rows[keep]
    counts = rows.groupby([rows["customer_id"].astype(str), rows[column].astype("string")], dropna=False,
                          sort=False).size()
    return pd.DataFrame({"customer_id": counts.index.get_level_values(0).astype(str),
                         "value": counts.index.get_level_values(1).astype("string"),
                         "n": counts.to_numpy().astype(np.int64)})


def pandas_aggregate(tx: pd.DataFrame, *, report: CleaningReport | None, cal_end: int | None, obs_end: int | None,
                     mix=()) -> Aggregated:
    """:class:`Aggregated` of clean canonical transactions in memory (the pandas engine of ``aggregate_source``)."""
    day = day_numbers(tx["date"])
    agg = pandas_aggregate_frame(tx, obs_end if cal_end is None else cal_end, obs_end)
    mixes = {c: mix_counts(tx, c, obs_end, None, True, False) for c in mix if c in tx.columns}
    return Aggregated(finish_aggregate(agg), int(day.min()), int(day.max()), report, mixes)
