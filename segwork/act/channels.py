"""Marketing focus: which acquisition channel brings the best customers, and how each segment likes to be contacted.

"Which acquisition channel works best" is answered per channel by its
customers, their revenue, how many came back (repeat buyers), how many are
still active, and, when the table has them, mean predicted CLV and P(alive)
(CRM.md "Acting on segments").
"""
from __future__ import annotations

import pandas as pd

from ..errors import DataError

__all__ = ["channel_effectiveness", "preferred_contact", "opt_in_column", "permitted"]


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


def opt_in_column(channel: str) -> str:
    """The permission column of a contact channel: ``"email"`` -> ``"email_opt_in"`` (make_crm's naming).

    Raises DataError when ``channel`` is not a non-empty text.
    """
    if not isinstance(channel, str) or not channel.strip():
        raise DataError(f"opt_in_column: channel={channel!r} must name a contact channel (email, phone, sms, post)")
    return f"{channel.strip()}_opt_in"


def permitted(table: pd.DataFrame, channel: str | None = None, *, column: str | None = None,
              where: str = "permitted") -> pd.Series:
    """Whether each customer gave permission to be contacted through a channel (permission marketing).

    Parameters
    ----------
    table: customer rows with the permission column (booleans; missing = no permission).
    channel: the campaign's contact channel, e.g. ``"email"`` (column
        ``email_opt_in``, see :func:`opt_in_column`); or
    column: the permission column by name. Give one; both must agree.
    where: the caller's name for the error messages.

    Returns a boolean Series with the index of ``table``.

    Raises DataError when neither or two different columns are named, or the
    column is missing (the message lists the permission columns there are).
    """
    if channel is None and column is None:
        raise DataError(f"{where}: name the contact channel (channel='email') or the permission column")
    if channel is not None:
        col = opt_in_column(channel)
        if column is not None and column != col:
            raise DataError(f"{where}: channel={channel!r} means the permission column {col!r}, but "
                            f"opt_in_column={column!r} was given; give one of them")
        column = col
    if column not in table.columns:
        have = [str(c) for c in table.columns if str(c).endswith("_opt_in")]
        raise DataError(f"{where}: the permission column {column!r} is not in the table (permission columns: "
                        f"{', '.join(have) or 'none'}); the customer profile must say who opted in to the channel")
    return table[column].astype("boolean").fillna(False).astype(bool)
