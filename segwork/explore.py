"""Customer and transaction analysis: tidy tables behind notebook 01's figures.

Every function takes canonical transactions (see :mod:`segwork.io`: at least
``customer_id``, ``date`` and ``amount``) and returns a small pandas object
that a plot function in :mod:`segwork.plots.data` draws. Money is in the
data's currency; time is in days or calendar months, as each function says.

A *purchase day* is a customer's distinct day with at least one transaction
(several transactions on one day are one purchase), as in
:func:`segwork.features.rfm_summary`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._checks import require_columns
from .errors import DataError
from .features.concentration import concentration_curve

__all__ = [
    "monthly_activity",
    "purchase_count_distribution",
    "interpurchase_days",
    "revenue_concentration",
    "top_share",
    "cohort_retention",
    "overview_metrics",
]

_REQUIRED = ("customer_id", "date", "amount")


def _check(transactions: pd.DataFrame, what: str) -> pd.DataFrame:
    require_columns(transactions, _REQUIRED, what, "read them with segwork.io.read_transactions to get the "
                    "canonical columns customer_id, date, amount", what="transactions")
    if transactions.empty:
        raise DataError(f"{what}: the transaction table is empty")
    return transactions


def _revenue_per_customer(transactions: pd.DataFrame) -> np.ndarray:
    """Total amount per customer (one number per customer, in no particular order)."""
    return transactions.groupby("customer_id", observed=True)["amount"].sum().to_numpy()


def _purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day: customer_id, day, amount (summed)."""
    tx = transactions[["customer_id", "date", "amount"]]
    day = tx["date"].dt.normalize()
    out = (tx.assign(day=day).groupby(["customer_id", "day"], sort=True, observed=True)["amount"]
           .sum().reset_index())
    return out


def _month_codes(transactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(month code per row, customer code per row, first month code per row); month code = year * 12 + month - 1."""
    dates = transactions["date"]
    month = (dates.dt.year * 12 + dates.dt.month - 1).to_numpy(dtype=np.int64)
    customer, _uniques = pd.factorize(transactions["customer_id"])
    first = pd.Series(month).groupby(customer).transform("min").to_numpy()
    return month, customer, first


def _month_start(codes) -> pd.DatetimeIndex:
    codes = np.asarray(codes, dtype=np.int64)
    return pd.DatetimeIndex(pd.to_datetime(pd.DataFrame({"year": codes // 12, "month": codes % 12 + 1, "day": 1})))


def monthly_activity(transactions: pd.DataFrame) -> pd.DataFrame:
    """Customers, transactions and revenue per calendar month.

    Returns
    -------
    DataFrame with one row per month from the first to the last transaction
    (months without activity included, as zeros) and columns ``month``
    (Timestamp of the month's first day), ``active_customers`` (customers with
    at least one transaction that month), ``new_customers`` (of them, those
    whose first transaction ever is in that month), ``returning_customers``
    (active - new), ``transactions`` (rows) and ``revenue`` (sum of amount).
    """
    tx = _check(transactions, "monthly_activity")
    month, customer, first = _month_codes(tx)
    frame = pd.DataFrame({"c": customer, "m": month, "new": month == first,
                          "amount": tx["amount"].to_numpy(dtype=float)})
    visits = frame.drop_duplicates(["c", "m"])
    full = np.arange(month.min(), month.max() + 1)
    out = pd.DataFrame({
        "active_customers": visits.groupby("m").size(),
        "new_customers": visits[visits["new"]].groupby("m").size(),
        "transactions": frame.groupby("m").size(),
        "revenue": frame.groupby("m")["amount"].sum(),
    }).reindex(full).fillna(0)
    for col in ("active_customers", "new_customers", "transactions"):
        out[col] = out[col].astype(int)
    out["returning_customers"] = out["active_customers"] - out["new_customers"]
    out.insert(0, "month", _month_start(full))
    return out.reset_index(drop=True)[["month", "active_customers", "new_customers", "returning_customers",
                                       "transactions", "revenue"]]


def purchase_count_distribution(transactions: pd.DataFrame, cap: int | None = 20) -> pd.DataFrame:
    """How many customers made 1, 2, 3, ... purchases (purchase days).

    Parameters
    ----------
    cap: counts above ``cap`` are pooled in the last row, labelled ``cap``
        with ``capped=True`` (``None``: no pooling).

    Returns
    -------
    DataFrame with columns ``purchases`` (number of purchase days),
    ``customers``, ``share`` (of all customers; sums to 1) and ``capped``.
    """
    tx = _check(transactions, "purchase_count_distribution")
    counts = _purchase_days(tx).groupby("customer_id", observed=True).size()
    capped = counts if cap is None else counts.clip(upper=cap)
    dist = capped.value_counts().sort_index()
    out = pd.DataFrame({"purchases": dist.index.astype(int), "customers": dist.to_numpy().astype(int)})
    out["share"] = out["customers"] / out["customers"].sum()
    out["capped"] = False
    if cap is not None:
        out.loc[out["purchases"] == cap, "capped"] = bool((counts > cap).any())
    return out


def interpurchase_days(transactions: pd.DataFrame) -> pd.Series:
    """Days between a customer's consecutive purchase days, pooled over customers.

    Returns a Series of positive integers (days), one per repeat purchase; it
    is empty when nobody bought twice.
    """
    tx = _check(transactions, "interpurchase_days")
    days = _purchase_days(tx)
    gap = days.groupby("customer_id", observed=True)["day"].diff().dt.days.dropna()
    return gap.astype(int).reset_index(drop=True).rename("days")


def revenue_concentration(transactions: pd.DataFrame, points: int | None = 201) -> pd.DataFrame:
    """The Pareto (Lorenz) curve: the share of revenue from the top x % of customers.

    Customers are ranked by total revenue, largest first. Row *i* says that
    the top ``customer_share`` of customers bring ``revenue_share`` of all
    revenue. The curve starts at (0, 0) and ends at (1, 1); a diagonal would
    mean every customer brings the same.

    Parameters
    ----------
    points: number of evenly spaced customer shares to return (``None``: one
        row per customer, plus the origin); each row counts the best
        ``round(customer_share * n)`` customers, as
        :func:`segwork.features.concentration_curve`, which draws the curve.
    """
    per_customer = _revenue_per_customer(_check(transactions, "revenue_concentration"))
    shares = np.arange(per_customer.size + 1) / per_customer.size if points is None else points
    curve = concentration_curve(per_customer, shares)
    return curve[["customer_share", "value_share"]].rename(columns={"value_share": "revenue_share"})


def top_share(transactions: pd.DataFrame, top: float = 0.2) -> float:
    """Share of revenue (0..1) from the top ``top`` fraction of customers by revenue.

    The top group holds ``ceil(top * n)`` customers (at least one), so with
    10 customers and ``top=0.2`` it is the two largest.
    """
    tx = _check(transactions, "top_share")
    if not 0 < top <= 1:
        raise DataError(f"top_share: top={top!r} must be a fraction in (0, 1], e.g. 0.2 for the top 20 %")
    per_customer = _revenue_per_customer(tx)
    k = max(1, math.ceil(top * per_customer.size - 1e-9))
    return float(concentration_curve(per_customer, [k / per_customer.size])["value_share"].iloc[0])


def cohort_retention(transactions: pd.DataFrame, max_months: int | None = None) -> pd.DataFrame:
    """Monthly acquisition cohorts and the share of each still buying month by month.

    A customer's cohort is the calendar month of their first transaction.
    Cell (cohort, k) is the share of the cohort's customers with at least one
    transaction in the k-th month after the cohort month (k = 0 is the
    acquisition month, always 1.0). Cells after the end of the data are NaN,
    not 0, because they have not been observed.

    Returns
    -------
    DataFrame indexed by ``cohort`` (string ``YYYY-MM``) with integer columns
    ``0..K`` (months since first purchase) plus a column ``size`` (customers
    acquired in that month) in front.
    """
    tx = _check(transactions, "cohort_retention")
    month, customer, first = _month_codes(tx)
    frame = pd.DataFrame({"c": customer, "cohort": first, "age": month - first}).drop_duplicates()
    active = frame.groupby(["cohort", "age"]).size().unstack("age")
    size = frame.drop_duplicates("c").groupby("cohort").size()
    last = int(month.max())
    horizon = int(active.columns.max())
    if max_months is not None:
        horizon = min(horizon, int(max_months))
    cols = list(range(horizon + 1))
    share = active.reindex(columns=cols).div(size, axis=0)
    # Cells never observed (after the last month) are NaN; observed months without buyers are 0.
    observed = (share.index.to_numpy()[:, None] + np.array(cols)[None, :]) <= last
    share = share.where(~observed | share.notna(), 0.0).where(observed)
    share.insert(0, "size", size.astype(int))
    share.index = pd.Index(_month_start(share.index).strftime("%Y-%m"), dtype=str)
    share.index.name = "cohort"
    share.columns.name = "months_since_first_purchase"
    return share


def overview_metrics(transactions: pd.DataFrame, top: float = 0.2) -> dict:
    """The key numbers of a transaction table.

    Returns a dict: ``n_customers``, ``n_transactions`` (rows),
    ``n_purchase_days``, ``revenue`` (sum of amount), ``first_date`` and
    ``last_date`` (ISO strings), ``top20_revenue_share`` (0..1, see
    :func:`top_share`; the key follows ``top``), ``repeat_customer_share``
    (customers with two or more purchase days), ``median_interpurchase_days``
    and ``mean_purchases_per_customer`` (purchase days).
    """
    tx = _check(transactions, "overview_metrics")
    days = _purchase_days(tx)
    per_customer = days.groupby("customer_id", observed=True).size()
    gaps = interpurchase_days(tx)
    return {
        "n_customers": int(tx["customer_id"].nunique()),
        "n_transactions": int(len(tx)),
        "n_purchase_days": int(len(days)),
        "revenue": float(tx["amount"].sum()),
        "first_date": str(tx["date"].min().date()),
        "last_date": str(tx["date"].max().date()),
        f"top{round(top * 100)}_revenue_share": top_share(tx, top),
        "repeat_customer_share": float((per_customer >= 2).mean()),
        "median_interpurchase_days": float(gaps.median()) if len(gaps) else None,
        "mean_purchases_per_customer": float(per_customer.mean()),
    }
