"""The cleaning rules: what to do with each kind of problem row.

:class:`CleaningRules` (one action per rule, in the order the rules run),
:data:`RULE_TEXT` (what each rule matches, in words), and the plausible-date
criterion of the ``implausible_date`` rule (:func:`implausible_dates`,
:data:`PLACEHOLDER_DATES`). Every engine applies these same rules.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["Action", "CleaningRules", "PLACEHOLDER_DATES", "PLAUSIBLE_FIRST_DATE", "PLAUSIBLE_FUTURE_DAYS",
           "implausible_dates", "RULE_TEXT"]


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
    implausible_date:
        Rows dated on a day no real transaction has: a placeholder day
        (:data:`PLACEHOLDER_DATES`: 1900-01-01, 1970-01-01, 2099-12-31,
        9999-12-31, ...), or outside ``plausible_dates`` (default: from
        1950-01-01 up to one year after today, UTC). Such dates are typos
        (``2203`` for ``2023``) or sentinels of the exporting system, and one of
        them would move the observation end (or start) by decades and every
        recency and T with it. Default ``"drop"``; ``"keep"`` turns the rule
        off (CLI: ``--implausible-date keep``).
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
        ``"keep"`` does not look for them, on every engine: each row is a
        purchase line and the report's count is 0, shown as "not looked for"
        (for exports whose lines are unique, e.g. with an invoice line id;
        the DuckDB and Dask engines then skip a GROUP BY over every column).
    after_observation_end:
        Rows dated after ``observation_end`` (when one is given). Default ``"drop"``.
    observation_end:
        Last day of the observation period (inclusive), or ``None`` for no limit.
    plausible_dates:
        ``(first, last)`` days (inclusive) a transaction can have, either
        ``None`` for its default; ``None`` for the default window
        (:data:`PLAUSIBLE_FIRST_DATE` .. today + :data:`PLAUSIBLE_FUTURE_DAYS`).
        Why a fixed window and not one from the file's own dates: it is the
        same for a file, a DataFrame, one Parquet partition of many (the Dask
        engine cleans partitions one by one) and a SQL condition (DuckDB), so
        every engine drops the same rows; and a date inside the window but
        years away from the other dates can be a real old customer.
    """

    missing_customer_id: Action = "drop"
    unparseable_date: Action = "drop"
    implausible_date: Action = "drop"
    bad_amount: Action = "drop"
    returns: Action = "drop"
    non_positive_amount: Action = "drop"
    duplicates: Action = "drop"
    after_observation_end: Action = "drop"
    observation_end: Any = None
    plausible_dates: tuple | None = None

    def __post_init__(self) -> None:
        if self.observation_end is not None:
            try:
                bad = pd.isna(pd.Timestamp(self.observation_end))
            except (TypeError, ValueError):
                bad = True
            if bad:
                raise DataError(f"CleaningRules.observation_end={self.observation_end!r} is not a date; give a day "
                                "such as '2024-12-31' (CLI: --observation-end YYYY-MM-DD)")
        if self.plausible_dates is not None:
            try:
                first, last = self.plausible_dates
                for day in (first, last):
                    if day is not None and pd.isna(pd.Timestamp(day)):
                        raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"CleaningRules.plausible_dates={self.plausible_dates!r} is not a pair of "
                                 "days (first, last), e.g. ('1990-01-01', '2030-12-31'); None for a default") from None
        for f in fields(self):
            if f.name in _NOT_ACTIONS:
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
        return [f.name for f in fields(self) if f.name not in _NOT_ACTIONS]

    def plausible_window(self, today: Any = None) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last plausible day (inclusive, midnight) of the ``implausible_date`` rule.

        ``plausible_dates`` where given, else :data:`PLAUSIBLE_FIRST_DATE` and
        ``today`` (default: today's UTC date) + :data:`PLAUSIBLE_FUTURE_DAYS`.
        """
        first, last = self.plausible_dates or (None, None)
        if today is None:
            today = pd.Timestamp.now(tz="UTC").tz_localize(None)
        first = pd.Timestamp(first if first is not None else PLAUSIBLE_FIRST_DATE).normalize()
        last = (pd.Timestamp(last) if last is not None
                else pd.Timestamp(today) + pd.Timedelta(days=PLAUSIBLE_FUTURE_DAYS)).normalize()
        return first, last

    def resolved(self) -> "CleaningRules":
        """The same rules with the plausible window fixed to days (so that every worker uses the same today)."""
        return replace(self, plausible_dates=tuple(str(d.date()) for d in self.plausible_window()))


_NOT_ACTIONS = {"observation_end", "plausible_dates"}
_MUST_DROP = {"missing_customer_id", "unparseable_date", "bad_amount"}

#: Days that exporting systems write for "no date": Excel's day 0 and 1, SQL Server's and .NET's minimum,
#: the Unix epoch, and end-of-time sentinels. A row on one of them is implausible whatever the window.
PLACEHOLDER_DATES = ("0001-01-01", "1753-01-01", "1899-12-30", "1899-12-31", "1900-01-01", "1970-01-01",
                     "2099-12-31", "2999-12-31", "3000-01-01", "9999-12-31")
#: The default first plausible day: before it, dates are typos (1923 for 2023) or system minimums.
PLAUSIBLE_FIRST_DATE = "1950-01-01"
#: Days after today still plausible by default (pre-orders, time zones, end-of-period dates).
PLAUSIBLE_FUTURE_DAYS = 366


def implausible_dates(dates: pd.Series, rules: CleaningRules | None = None) -> pd.Series:
    """Boolean mask of the dates the ``implausible_date`` rule matches (``False`` for missing dates).

    ``dates``: a ``datetime64`` Series (naive). See :class:`CleaningRules`
    for the criterion: a day in :data:`PLACEHOLDER_DATES` or outside
    :meth:`CleaningRules.plausible_window`.
    """
    first, last = (rules or CleaningRules()).plausible_window()
    if getattr(dates.dt, "tz", None) is not None:
        day = dates.dt.normalize()
        placeholders = np.array(PLACEHOLDER_DATES, dtype="datetime64[D]").astype(dates.dtype)
        out = (day < first) | (day > last) | day.isin(placeholders)
        return out.fillna(False).astype(bool)
    # Calendar day numbers (days since 1970-01-01, floored) compared as integers: one pass, no normalised copy.
    values = dates.to_numpy()
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0]))
    first_day, last_day = (int(np.datetime64(t.to_datetime64(), "D").astype(np.int64)) for t in (first, last))
    placeholder_days = np.array(PLACEHOLDER_DATES, dtype="datetime64[D]").astype(np.int64)
    ticks = values.view(np.int64)
    earliest = int(ticks.argmin()) if len(ticks) else None
    if earliest is not None and not np.isnat(values[earliest]):  # no missing date: the range may clear all rows
        low, high = int(ticks[earliest]) // per_day, int(ticks.max()) // per_day
        inside = placeholder_days[(placeholder_days >= low) & (placeholder_days <= high)]
        if first_day <= low and high <= last_day and not len(inside):
            return pd.Series(np.zeros(len(ticks), dtype=bool), index=dates.index)
    day = ticks // per_day
    out = (day < first_day) | (day > last_day)
    for placeholder in placeholder_days[(placeholder_days >= first_day) & (placeholder_days <= last_day)]:
        out |= day == placeholder  # placeholders outside the window are caught by the range
    out &= ~np.isnat(values)
    return pd.Series(out, index=dates.index)

#: What each cleaning rule matches, in words: rule name (a field of :class:`CleaningRules`) -> text, as the
#: cleaning report and every engine's error name it.
RULE_TEXT = {
    "missing_customer_id": "missing customer id",
    "unparseable_date": "unparseable date",
    "implausible_date": "implausible or placeholder date",
    "bad_amount": "non-numeric or non-finite amount",
    "returns": "returns / cancellations",
    "non_positive_amount": "zero or negative amount",
    "duplicates": "exact duplicate rows",
    "after_observation_end": "dated after the observation end",
}
