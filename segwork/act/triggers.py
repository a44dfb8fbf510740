"""Event-based marketing: dated customer events in a window, with a reason and a recommended action.

Events (CRM.md "Acting on segments"; issue 9):

* ``birthday`` -- the customer's birthday falls in the window (profile
  column ``birthday``; 29 February is celebrated on 28 February in other years);
* ``contract_end`` -- ``contract_end - lead_days`` falls in the window (time
  to renew before the contract runs out);
* ``purchase_anniversary`` -- a whole number of years since the first purchase;
* ``lapse`` -- at ``window_start`` the customer has gone without a purchase
  for longer than ``lapse_factor`` times their own mean inter-purchase time
  (customers with at least two purchase days; dated ``window_start``);
* ``p_alive_drop`` -- P(alive) fell below ``p_alive_threshold`` since the
  last run (``p_alive_previous`` at or above it, ``p_alive_current`` below);
  dated ``window_start``;
* ``seasonal`` -- a date of ``seasonal_events`` (month, day, name,
  regions) in the window, for every customer whose profile ``region`` is
  listed (``None`` = every region). The default calendar
  :data:`SEASONAL_EVENTS` is generic (no country's public holidays are
  assumed); pass your own.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError
from .channels import permitted

__all__ = ["EVENT_ACTIONS", "SEASONAL_EVENTS", "triggers", "labelled_triggers"]

#: (month, day, event name, regions or None for all): a generic calendar; replace it with the business's own.
SEASONAL_EVENTS: tuple[tuple[int, int, str, tuple[str, ...] | None], ...] = (
    (2, 14, "Valentine's Day", None),
    (11, 29, "Black Friday (approximate: fourth Friday of November)", None),
    (12, 1, "Christmas season opens", None),
)

#: Recommended action per event.
EVENT_ACTIONS: dict[str, str] = {
    "birthday": "send birthday greeting with a personal offer",
    "contract_end": "call to renew the contract before it ends",
    "purchase_anniversary": "thank for the year together; loyalty offer",
    "lapse": "win-back contact: ask why, offer an incentive",
    "p_alive_drop": "retention contact before the customer is lost",
    "seasonal": "seasonal offer in the customer's favourite category",
}

_COLUMNS = ["customer_id", "date", "event", "reason", "segment", "relationship", "action"]


def _anniversaries(dates: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Every (customer, date) where month/day of ``dates`` recurs in [start, end] (after the original date)."""
    rows = []
    d = dates.dropna()
    for year in range(start.year, end.year + 1):
        month, day = d.dt.month.to_numpy(), d.dt.day.to_numpy()
        leap = pd.Timestamp(year=year, month=1, day=1).is_leap_year
        day = np.where((month == 2) & (day == 29) & (not leap), 28, day)
        when = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}))
        when.index = d.index
        keep = (when >= start) & (when <= end) & (when > d)
        rows.append(pd.DataFrame({"customer_id": d.index[keep], "date": when[keep].to_numpy(),
                                  "years": year - d.dt.year[keep].to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["customer_id", "date", "years"])


def triggers(transactions: pd.DataFrame, customers: pd.DataFrame | None, window_start, window_end, *,
             segments: pd.Series | None = None, relationships: pd.Series | None = None,
             contract_lead_days: int = 60, lapse_factor: float = 2.0,
             p_alive_previous: pd.Series | None = None, p_alive_current: pd.Series | None = None,
             p_alive_threshold: float = 0.5, seasonal_events=SEASONAL_EVENTS,
             actions: Mapping[str, str] | None = None, channel: str | None = None) -> pd.DataFrame:
    """Dated customer events between ``window_start`` and ``window_end`` (inclusive), with actions.

    Parameters
    ----------
    transactions: canonical transactions (``customer_id``, ``date``); only
        those up to ``window_start`` are read (the run's knowledge).
    customers: profile with ``customer_id`` and optional ``birthday`` and
        ``contract_end`` (dates); None = no profile (only purchase events).
    window_start, window_end: the window (dates, inclusive, start <= end).
    segments, relationships: optional labels per customer_id, copied to the rows.
    contract_lead_days: days before ``contract_end`` the renewal event fires.
    lapse_factor: lapse when days since last purchase > factor x own mean gap.
    p_alive_previous, p_alive_current: P(alive) per customer_id at the last
        run and now (both or neither); ``p_alive_threshold`` in (0, 1).
    seasonal_events: (month, day, name, regions) rows; ``()`` = none. Needs
        a ``region`` profile column when a row names regions.
    actions: event -> recommended action (default :data:`EVENT_ACTIONS`).
    channel: the contact channel the actions go out by (``"email"``,
        ``"sms"``, ``"phone"``, ``"post"``): events of customers without
        ``<channel>_opt_in`` in ``customers`` are left out; how many customers
        that left out is in ``result.attrs["left_out_no_permission"]``.
        None = no permission filter (attrs count 0).

    Returns
    -------
    DataFrame sorted by date then customer with ``customer_id``, ``date``,
    ``event``, ``reason`` (text with the numbers), ``segment``,
    ``relationship`` (NaN when not given) and ``action``. Empty with these
    columns when nothing happens.

    Raises
    ------
    DataError: window end before start, a date that is not a date, missing
        columns, negative lead time, a lapse factor <= 0, or a ``channel``
        without customer profiles or without its permission column.
    """
    try:
        start, end = pd.Timestamp(window_start).normalize(), pd.Timestamp(window_end).normalize()
    except (TypeError, ValueError) as exc:
        raise DataError(f"triggers: the window ({window_start!r}, {window_end!r}) is not two dates ({exc})") from None
    if end < start:
        raise DataError(f"triggers: the window ends ({end.date()}) before it starts ({start.date()}); "
                        "pass window_start <= window_end")
    if contract_lead_days < 0 or lapse_factor <= 0:
        raise DataError("triggers: contract_lead_days must be >= 0 and lapse_factor > 0")
    for col in ("customer_id", "date"):
        if col not in transactions.columns:
            raise DataError(f"triggers: the transactions have no {col!r} column")
    actions = dict(EVENT_ACTIONS if actions is None else actions)
    allowed = None
    if channel is not None:
        if customers is None:
            raise DataError(f"triggers: channel={channel!r} needs the customers table with the permission flags")
        allowed = permitted(customers, channel, where="triggers")
        allowed.index = customers["customer_id"].astype(str) if "customer_id" in customers.columns else allowed.index
    parts = []
    if customers is not None:
        if "customer_id" not in customers.columns:
            raise DataError("triggers: the customers table has no 'customer_id' column")
        prof = customers.set_index(customers["customer_id"].astype(str))
        if "birthday" in prof.columns:
            b = _anniversaries(pd.to_datetime(prof["birthday"]), start, end)
            parts.append(b.assign(event="birthday", reason=[f"turns {y}" for y in b["years"]]))
        if "contract_end" in prof.columns:
            ce = pd.to_datetime(prof["contract_end"]).dropna()
            fire = ce - pd.Timedelta(days=int(contract_lead_days))
            keep = (fire >= start) & (fire <= end)
            parts.append(pd.DataFrame({"customer_id": ce.index[keep], "date": fire[keep].to_numpy(),
                                       "event": "contract_end",
                                       "reason": [f"contract ends {d.date()} ({contract_lead_days} days later)"
                                                  for d in ce[keep]]}))
    tx = transactions[transactions["date"].dt.normalize() <= start]
    if len(tx):
        ids = tx["customer_id"].astype(str)
        day = tx["date"].dt.normalize()
        first = day.groupby(ids).min()
        a = _anniversaries(first, start, end)
        parts.append(a.assign(event="purchase_anniversary",
                              reason=[f"{y} year{'s' if y > 1 else ''} since the first purchase" for y in a["years"]]))
        days = pd.DataFrame({"id": ids, "day": day}).drop_duplicates()
        g = days.groupby("id")["day"]
        n, last = g.nunique(), g.max()
        gap = (last - first.reindex(last.index)).dt.days / (n - 1).where(n > 1)
        since = (start - last).dt.days
        lapsed = since > lapse_factor * gap
        parts.append(pd.DataFrame({"customer_id": lapsed.index[lapsed], "date": start, "event": "lapse",
                                   "reason": [f"{s} days since the last purchase, usual gap {m:.0f} days"
                                              for s, m in zip(since[lapsed], gap[lapsed])]}))
    if (p_alive_previous is None) != (p_alive_current is None):
        raise DataError("triggers: pass both p_alive_previous and p_alive_current (the last run's and today's)")
    if p_alive_previous is not None:
        if not 0 < p_alive_threshold < 1:
            raise DataError(f"triggers: p_alive_threshold={p_alive_threshold!r} must lie in (0, 1)")
        prev = p_alive_previous.set_axis(p_alive_previous.index.astype(str))
        cur = p_alive_current.set_axis(p_alive_current.index.astype(str)).reindex(prev.index)
        crossed = (prev >= p_alive_threshold) & (cur < p_alive_threshold)
        parts.append(pd.DataFrame({"customer_id": crossed.index[crossed], "date": start, "event": "p_alive_drop",
                                   "reason": [f"P(alive) fell from {a:.2f} to {b:.2f} (threshold {p_alive_threshold})"
                                              for a, b in zip(prev[crossed], cur[crossed])]}))
    if seasonal_events and customers is not None:
        prof = customers.set_index(customers["customer_id"].astype(str))
        region = prof["region"].astype(str) if "region" in prof.columns else None
        for month, day, name, regions in seasonal_events:
            for year in range(start.year, end.year + 1):
                when = pd.Timestamp(year=year, month=month, day=day)
                if not start <= when <= end:
                    continue
                if regions is None:
                    who = prof.index
                elif region is None:
                    raise DataError(f"triggers: the seasonal event {name!r} is for regions {list(regions)} but the "
                                    "customers table has no 'region' column")
                else:
                    who = region.index[region.isin(list(regions))]
                parts.append(pd.DataFrame({"customer_id": who, "date": when, "event": "seasonal", "reason": name}))
    parts = [p for p in parts if len(p)]
    if not parts:
        out = pd.DataFrame(columns=_COLUMNS)
        out.attrs["left_out_no_permission"] = 0
        return out
    out = pd.concat(parts, ignore_index=True)[["customer_id", "date", "event", "reason"]]
    left_out = 0
    if allowed is not None:
        ok = out["customer_id"].astype(str).map(allowed).fillna(False).astype(bool)
        left_out = int(out.loc[~ok, "customer_id"].nunique())
        out = out[ok.to_numpy()]
    out["date"] = pd.to_datetime(out["date"])
    out["segment"] = out["customer_id"].map(segments.astype(str)) if segments is not None else np.nan
    out["relationship"] = (out["customer_id"].map(relationships.astype(str)) if relationships is not None
                           else np.nan)
    out["action"] = out["event"].map(actions)
    out = out.sort_values(["date", "customer_id", "event"], kind="stable").reset_index(drop=True)[_COLUMNS]
    out.attrs["left_out_no_permission"] = left_out
    return out


def labelled_triggers(transactions: pd.DataFrame, customers: pd.DataFrame | None, table: pd.DataFrame,
                      window_start, window_end, **kwargs) -> pd.DataFrame:
    """:func:`triggers` with each customer's RFM segment and relationship type filled in: the one way the
    trigger list is built (``segwork export triggers`` and notebook 08 call it, so both have the same columns).

    ``table``: the customer table at the observation end (:func:`segwork.features.customer_table`, index
    customer_id); the segment is :func:`segwork.segment.rfm_segmentation` of it, the relationship type
    :func:`segwork.segment.relationship_segmentation` of it (MBG/NBD P(alive) from the table's ``p_alive``
    column when it has one, else fitted on it). ``kwargs``: the other arguments of :func:`triggers`
    (``segments``/``relationships`` are set here). Returns and raises as :func:`triggers`.
    """
    from ..segment import relationship_segmentation, rfm_segmentation

    for name in ("segments", "relationships"):
        if name in kwargs:
            raise DataError(f"labelled_triggers: {name}= is computed from the table; call triggers(...) to pass "
                            "your own labels")
    return triggers(transactions, customers, window_start, window_end, segments=rfm_segmentation(table).labels,
                    relationships=relationship_segmentation(table).labels, **kwargs)
