"""Marketing focus: which acquisition channel brings the best customers, and how each segment likes to be contacted.

"Which acquisition channel works best" is answered per channel by its
customers, their revenue, how many came back (repeat buyers), how many are
still active, and, when the table has them, mean predicted CLV and P(alive)
(CRM.md "Acting on segments").
"""
from __future__ import annotations

import pandas as pd

from ..errors import DataError

__all__ = ["channel_effectiveness", "preferred_contact"]


def channel_effectiveness(table: pd.DataFrame, channel: str = "acquisition_channel", *,
                          active_days: int = 90) -> pd.DataFrame:
    """Customers, revenue, retention and value per acquisition channel.

    Parameters
    ----------
    table: customer table (:func:`segwork.features.customer_table` or
        :func:`segwork.prepare_table`) with ``channel``, ``revenue`` (the
        data's currency), ``frequency`` (repeat purchase days) and
        ``days_since_last`` (days); ``clv`` and ``p_alive`` are used when present.
    channel: the column of the acquisition channel.
    active_days: a customer with a purchase in the last ``active_days`` days
        counts as active.

    Returns
    -------
    DataFrame indexed by channel (most revenue per customer first):
    ``customers``, ``share``, ``revenue``, ``revenue_per_customer``,
    ``repeat_share`` (share with a repeat purchase), ``active_share``, and
    ``mean_clv`` / ``mean_p_alive`` when the table has them.

    Raises DataError when a needed column is missing (e.g. no profile with
    an acquisition channel).
    """
    needed = [channel, "revenue", "frequency", "days_since_last"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"channel_effectiveness: column {missing[0]!r} is missing from the table "
                        f"(columns: {', '.join(map(str, table.columns))}); the acquisition channel comes from "
                        "the customer profile")
    if len(table) == 0:
        raise DataError("channel_effectiveness: the table has no customers")
    g = table.groupby(table[channel].astype(str), observed=True)
    out = pd.DataFrame({"customers": g.size(), "revenue": g["revenue"].sum()})
    out["share"] = out["customers"] / len(table)
    out["revenue_per_customer"] = out["revenue"] / out["customers"]
    out["repeat_share"] = g["frequency"].apply(lambda s: float((s > 0).mean()))
    out["active_share"] = g["days_since_last"].apply(lambda s: float((s <= active_days).mean()))
    for col in ("clv", "p_alive"):
        if col in table.columns:
            out[f"mean_{col}"] = g[col].mean()
    out.index.name = channel
    return out.sort_values("revenue_per_customer", ascending=False)


def preferred_contact(table: pd.DataFrame, segments: pd.Series, column: str = "preferred_contact") -> pd.DataFrame:
    """Share of each contact channel within each segment, and the most preferred one.

    Parameters
    ----------
    table: customer table with ``column`` (the profile's preferred contact channel).
    segments: segment label per customer_id.

    Returns a DataFrame indexed by segment: one share column per channel
    (rows sum to 1), ``preferred`` (the most common) and ``customers``.
    Raises DataError when ``column`` is missing.
    """
    if column not in table.columns:
        raise DataError(f"preferred_contact: column {column!r} is missing from the table; it comes from the "
                        "customer profile")
    seg = segments.astype(str).reindex(table.index)
    shares = pd.crosstab(seg, table[column].astype(str), normalize="index")
    shares["preferred"] = shares.idxmax(axis=1)
    shares["customers"] = seg.value_counts().reindex(shares.index)
    shares.index.name = "segment"
    return shares
