"""Per-customer features: the RFM summary the CLV models use.

The RFM summary follows the customer-base analysis literature (Fader, Hardie &
Lee 2005) and the ``lifetimes`` conventions:

* purchases are counted per *day*: several transactions on the same day are
  one purchase whose value is their sum;
* ``frequency`` is the number of *repeat* purchase days (distinct days - 1);
* ``recency`` is the time from the first to the last purchase;
* ``T`` is the time from the first purchase to the end of the period;
* ``monetary_value`` is the mean value of the repeat purchase days (the first
  purchase is excluded), 0 for customers without repeat purchases.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["rfm_summary", "TIME_UNITS"]

#: Days per time unit. Weeks are exact (days / 7), as in the CDNOW papers.
TIME_UNITS = {"days": 1.0, "weeks": 7.0}


def _time_unit_days(time_unit: str) -> float:
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise DataError(f"time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)}") from None


def _day_number(values, what: str) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (int64)."""
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    observation_end=None,
    calibration_end=None,
    time_unit: str = "days",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> pd.DataFrame:
    """Summarise transactions into one row per customer (frequency, recency, T, monetary value).

    Parameters
    ----------
    transactions:
        Canonical transactions (see :mod:`segwork.io`): at least
        ``customer_id`` and ``date``; ``amount`` for the monetary columns.
    observation_end:
        Last day observed (inclusive). Transactions after it are ignored.
        Default: the last transaction date.
    calibration_end:
        If given, the calibration period ends on this day (inclusive):
        frequency, recency, T and monetary value come from transactions up to
        it, and the ``*_holdout`` columns from the days after it up to
        ``observation_end``. Customers whose first purchase comes after it are
        left out (they are not yet customers in calibration).
    time_unit:
        ``"days"`` or ``"weeks"`` (days / 7) for recency, T and durations.
    customer_col, date_col, amount_col:
        Column names, if not canonical. ``amount_col=None`` skips money.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted), with columns
    ``frequency`` (repeat purchase days), ``recency`` and ``T`` (in
    ``time_unit``), ``monetary_value`` (mean value per repeat purchase day, the
    data's currency); with ``calibration_end`` also ``frequency_holdout``
    (purchase days in the holdout), ``monetary_value_holdout`` (mean value per
    holdout purchase day, 0 if none) and ``duration_holdout`` (holdout length
    in ``time_unit``).
    """
    unit = _time_unit_days(time_unit)
    for col in (customer_col, date_col) + ((amount_col,) if amount_col else ()):
        if col not in transactions.columns:
            raise DataError(f"rfm_summary: column {col!r} is missing (columns: {', '.join(map(str, transactions.columns))})")
    dates = transactions[date_col]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise DataError(
            f"rfm_summary: column {date_col!r} must hold dates, got dtype {dates.dtype} "
            f"(e.g. {dates.iloc[0]!r}); read the data with segwork.io.read_transactions"
        )
    if len(transactions) == 0:
        raise DataError("rfm_summary: no transactions")
    if dates.isna().any():
        raise DataError(f"rfm_summary: column {date_col!r} has missing dates; clean with segwork.io.read_transactions")

    day = _day_number(dates, date_col)
    if amount_col:
        amount = transactions[amount_col].to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(amount).all():
            bad = transactions[amount_col][~np.isfinite(amount)].iloc[0]
            raise DataError(f"rfm_summary: column {amount_col!r} has a non-finite value {bad!r}; clean with segwork.io.read_transactions")
    else:
        amount = np.zeros(len(day))

    obs_end = int(day.max()) if observation_end is None else int(_day_number([pd.Timestamp(observation_end)], "observation_end")[0])
    cal_end = obs_end if calibration_end is None else int(_day_number([pd.Timestamp(calibration_end)], "calibration_end")[0])
    if cal_end > obs_end:
        raise DataError(f"rfm_summary: calibration_end {pd.Timestamp(calibration_end).date()} is after observation_end")
    if cal_end < day.min():
        raise DataError(f"rfm_summary: calibration_end {pd.Timestamp(calibration_end).date()} is before the first transaction")

    keep = day <= obs_end
    codes, uniques = pd.factorize(transactions[customer_col], sort=True)
    if (codes < 0).any():
        raise DataError(f"rfm_summary: column {customer_col!r} has missing customer ids")
    codes, day, amount = codes[keep], day[keep], amount[keep]

    # One record per (customer, purchase day), ordered by customer then day.
    d0 = int(day.min())
    width = obs_end - d0 + 1
    key = codes.astype(np.int64) * width + (day - d0)
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    day_key = key_sorted[starts]
    day_value = np.add.reduceat(amount[order], starts) if len(starts) else np.array([])
    cust = day_key // width
    pday = day_key % width + d0

    in_cal = pday <= cal_end
    n_cust = len(uniques)

    # Calibration statistics per customer.
    c_cust, c_day, c_val = cust[in_cal], pday[in_cal], day_value[in_cal]
    n_days = np.bincount(c_cust, minlength=n_cust)
    has_cal = n_days > 0
    first_pos = np.cumsum(n_days) - n_days  # index of each customer's first record
    last_pos = first_pos + n_days - 1
    first = np.where(has_cal, c_day[np.minimum(first_pos, max(len(c_day) - 1, 0))] if len(c_day) else 0, 0)
    last = np.where(has_cal, c_day[np.clip(last_pos, 0, max(len(c_day) - 1, 0))] if len(c_day) else 0, 0)
    total = np.bincount(c_cust, weights=c_val, minlength=n_cust)
    first_val = np.where(has_cal, c_val[np.minimum(first_pos, max(len(c_val) - 1, 0))] if len(c_val) else 0, 0)
    frequency = n_days - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (total - first_val) / np.maximum(frequency, 1), 0.0)

    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first) / unit,
            "T": (cal_end - first) / unit,
            "monetary_value": monetary,
        },
        index=pd.Index(uniques, name="customer_id"),
    )
    if not amount_col:
        out = out.drop(columns="monetary_value")
    if calibration_end is not None:
        h_cust, h_val = cust[~in_cal], day_value[~in_cal]
        f_h = np.bincount(h_cust, minlength=n_cust)
        s_h = np.bincount(h_cust, weights=h_val, minlength=n_cust)
        out["frequency_holdout"] = f_h
        if amount_col:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["monetary_value_holdout"] = np.where(f_h > 0, s_h / np.maximum(f_h, 1), 0.0)
        out["duration_holdout"] = (obs_end - cal_end) / unit
        out = out[has_cal]
    else:
        out = out[has_cal]
    out["frequency"] = out["frequency"].astype(np.int64)
    out.index = out.index.astype(str)
    out.index.name = "customer_id"
    return out
