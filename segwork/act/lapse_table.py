"""The start/stop/event table of observed lapse ("no purchase for longer than a threshold"), for Cox models.

Issue 20, Methods 3: :mod:`segwork.act.lapse` fits Cox models on this table; this module builds and checks it.

The lapse rule (time in weeks, ``tau = threshold_weeks * 7`` days; days are whole calendar days, ``observation_end``
``E`` inclusive):

* A customer's clock starts on the day of their first purchase ``t_0`` (acquisition); day ``d`` ends at
  ``(d - t_0 + 1) / 7`` weeks, so a customer is at risk from 0 through the end of each day they are followed.
* The customer **lapses at the first gap longer than tau**: the first purchase day ``t_j`` (``t_0`` included) with
  no purchase on the next ``tau`` days (next purchase day ``t_{j+1} > t_j + tau``, or none up to ``E``). The lapse
  is dated at the end of ``t_j``, the last purchase before the gap: ``stop = (t_j - t_0 + 1) / 7`` weeks,
  ``event = 1``.
* A gap can only be seen to be longer than tau once tau days have passed, so only gaps that start on or before
  ``E - tau`` count, and a customer who has not lapsed is **censored at the end of day** ``E - ceil(tau)``:
  ``stop = (E - ceil(tau) - t_0 + 1) / 7``, ``event = 0``. Purchases after ``E - tau`` still end a gap (a gap with
  a purchase before ``E`` is no lapse).
* Customers whose first purchase is after ``E - tau`` cannot be followed and are left out (counted in
  :attr:`LapseTable.n_excluded`). Transactions after ``observation_end`` are not used (the history ends there).

The default threshold, 26 weeks (half a year), is the usual "inactive" cut-off of retail CRM and lies beyond almost
every gap of a customer who is still buying: on ``make_crm(20000, random_state=0)`` 95 % of the gaps between
purchase days are at most 13.3 weeks and 1.1 % are longer than 26 weeks (99 %: 26.7 weeks). On CDNOW (master) 95 %
are at most 40.4 weeks and 11.5 % are longer than 26 weeks: there a 26-week lapse also catches slow buyers who are
alive; pass a longer threshold for slow-buying bases (measured with the gaps between consecutive purchase days of
each customer).

The interval table: one row per customer and covariate period, ``(start, stop]`` in weeks on the customer's clock,
the event on the row that ends at the lapse. Static covariates are one-hot encoded by
:class:`segwork.clv.covariates.CovariateDesign` (``OneHotEncoder(drop="first")``, the first level in sorted order is
the reference, names ``column[level]``), the same names as the BTYD covariate models. A weekly time-varying table
(issue 20 contract: ``customer_id``, ``period_start``, numeric columns; each period is the 7 days from
``period_start``) splits each customer's time at the period boundaries; **consecutive periods with identical
covariates are collapsed into one interval** before fitting, which does not change the Cox partial likelihood (the
covariates are the same over the merged time; tested). Measured on make_crm's planted defection world (20,000
customers x 104 weeks, two weekly drivers, 26-week threshold): 474,450 followed customer-weeks collapse to 131,156
intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import check_number, require_columns
from ..clv.covariates import CovariateDesign
from ..errors import DataError

__all__ = ["DEFAULT_THRESHOLD_WEEKS", "PERIOD_DAYS", "LapseTable", "lapse_table", "lapse_intervals"]

#: The default lapse threshold in weeks (see the module docstring for why).
DEFAULT_THRESHOLD_WEEKS = 26.0
#: Length of a period of the time-varying covariate table, in days.
PERIOD_DAYS = 7
_KEYS = ("customer_id", "start", "stop", "event")


def _days(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True)
class LapseTable:
    """The result of :func:`lapse_table`.

    Attributes
    ----------
    frame: the interval table of :func:`lapse_intervals` (``customer_id``, ``start``, ``stop``, ``event``, drivers).
    static, dynamic: the names of its static design columns and of its time-varying drivers, in column order.
    n_periods: rows before consecutive periods with identical covariates were collapsed (``len(frame)`` without a
        time-varying table).
    n_excluded: customers left out (first purchase after ``observation_end - tau``).
    """

    frame: pd.DataFrame
    static: list[str]
    dynamic: list[str]
    n_periods: int
    n_excluded: int


def _follow_up(where: str, transactions: pd.DataFrame, end_day: int, tau: float) -> tuple[pd.DataFrame, int]:
    """Per customer followed: ``t0`` (first purchase day), ``stop_days`` (int), ``event`` (bool); and n excluded."""
    require_columns(transactions, ["customer_id", "date"], where,
                    "pass cleaned transactions (segwork.io.read_transactions / clean_transactions)",
                    what="transactions")
    if not pd.api.types.is_datetime64_any_dtype(transactions["date"]):
        raise DataError(f"{where}: transactions column 'date' must be datetime64, got {transactions['date'].dtype}; "
                        "pass cleaned transactions (segwork.io.clean_transactions parses dates)")
    if transactions["customer_id"].isna().any() or transactions["date"].isna().any():
        col = "customer_id" if transactions["customer_id"].isna().any() else "date"
        raise DataError(f"{where}: transactions column {col!r} has missing values; pass cleaned transactions")
    days = pd.DataFrame({"customer_id": transactions["customer_id"].to_numpy(), "day": _days(transactions["date"])})
    days = days[days["day"] <= end_day].drop_duplicates().sort_values(["customer_id", "day"], kind="stable")
    if days.empty:
        raise DataError(f"{where}: no transactions on or before observation_end; pass the window's transactions")
    cid = days["customer_id"].to_numpy()
    day = days["day"].to_numpy()
    first = np.r_[True, cid[1:] != cid[:-1]]
    t0 = day[np.maximum.accumulate(np.where(first, np.arange(len(day)), 0))]  # the first day of the row's customer
    nxt = np.r_[day[1:], np.iinfo(np.int64).max]
    nxt[np.r_[first[1:], True]] = np.iinfo(np.int64).max  # a customer's last purchase: no next one up to E
    last_start = end_day - math.ceil(tau)  # the last day a gap can start and still be seen to exceed tau
    window = end_day - int(day.min()) + 1
    if tau >= window:
        raise DataError(f"{where}: threshold_weeks={tau / 7:g} is longer than the observation window "
                        f"({window / 7:.1f} weeks from the first purchase to observation_end); no lapse can be "
                        "seen: pass a shorter threshold")
    lapse = (day <= last_start) & ((nxt - day) > tau)
    frame = pd.DataFrame({"customer_id": cid, "t0": t0, "day": day, "lapse": lapse})
    per = frame.groupby("customer_id", sort=False).agg(t0=("t0", "first"))
    lapsed = frame[frame["lapse"]].groupby("customer_id", sort=False)["day"].first()
    per["event"] = per.index.isin(lapsed.index)
    end = lapsed.reindex(per.index).fillna(last_start).to_numpy(np.int64)
    per["stop_days"] = end - per["t0"].to_numpy() + 1
    followed = per["t0"] <= last_start
    per.index.name = "customer_id"
    return per[followed], int((~followed).sum())


def _dynamic_rows(where: str, dynamic: pd.DataFrame, per: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The covariate periods clipped to each customer's follow-up, as (start, stop] in days; checked."""
    require_columns(dynamic, ["customer_id", "period_start"], where,
                    "the weekly table has customer_id, period_start and one column per time-varying driver",
                    what="dynamic_covariates")
    cols = [c for c in dynamic.columns if c not in ("customer_id", "period_start")]
    if not cols:
        raise DataError(f"{where}: dynamic_covariates has no driver columns besides customer_id and period_start; "
                        "pass None for a model without time-varying drivers")
    if not pd.api.types.is_datetime64_any_dtype(dynamic["period_start"]):
        raise DataError(f"{where}: dynamic_covariates column 'period_start' must be datetime64, "
                        f"got {dynamic['period_start'].dtype}; parse it with pd.to_datetime")
    for c in cols:
        if not pd.api.types.is_numeric_dtype(dynamic[c]) or pd.api.types.is_bool_dtype(dynamic[c]):
            raise DataError(f"{where}: time-varying driver {c!r} must be numeric (0/1 for an indicator), "
                            f"got {dynamic[c].dtype}; encode it as numbers")
    d = pd.DataFrame({"customer_id": dynamic["customer_id"].to_numpy(), "s": _days(dynamic["period_start"])})
    for c in cols:
        d[c] = dynamic[c].to_numpy(dtype=np.float64)
    d = d.merge(per[["t0", "stop_days", "event"]], left_on="customer_id", right_index=True, how="inner")
    missing = per.index.difference(pd.Index(d["customer_id"].unique()))
    if len(missing):
        raise DataError(f"{where}: dynamic_covariates has no rows for {len(missing)} followed customer(s) "
                        f"(e.g. {missing[0]!r}); give one row per week from the week of the first purchase "
                        "through the week of the lapse or of observation_end")
    d["s"] -= d["t0"]
    d = d[(d["s"] < d["stop_days"]) & (d["s"] + PERIOD_DAYS > 0)].sort_values(["customer_id", "s"], kind="stable")
    cid, s, stop = d["customer_id"].to_numpy(), d["s"].to_numpy(), d["stop_days"].to_numpy()
    first = np.r_[True, cid[1:] != cid[:-1]]
    last = np.r_[first[1:], True]
    bad = ~first & (np.diff(s, prepend=0) != PERIOD_DAYS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        step = int(s[i] - s[i - 1])
        kind = f"leaving {step - PERIOD_DAYS} days without a row" if step > PERIOD_DAYS else "which overlaps it"
        dates = [pd.Timestamp(int(d["t0"].iat[i] + s[j]), unit="D").date() for j in (i - 1, i)]
        raise DataError(f"{where}: dynamic_covariates for customer {cid[i]!r}: the period starting {dates[0]} is "
                        f"followed by one starting {dates[1]}, {kind} (periods are {PERIOD_DAYS} days from "
                        "period_start, consecutive, one row each); fix the table")
    for mask, what in ((first & (s > 0), "starts after the first purchase"),
                       (last & (s + PERIOD_DAYS < stop), "ends before the lapse or observation_end - threshold")):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise DataError(f"{where}: dynamic_covariates for customer {cid[i]!r} {what}; give one row per week "
                            "from the week of the first purchase through the week the follow-up ends")
    values = d[cols].to_numpy()
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise DataError(f"{where}: time-varying driver {cols[j]!r} is missing or not finite for customer "
                        f"{cid[i]!r}; fill or drop it")
    out = pd.DataFrame({"customer_id": cid, "start": np.maximum(s, 0), "stop": np.minimum(s + PERIOD_DAYS, stop),
                        "event": last & d["event"].to_numpy()})
    for c in cols:
        out[c] = d[c].to_numpy()
    return out, [str(c) for c in cols]


def _collapse(rows: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Merge a customer's consecutive rows with identical covariates (start of the first, stop/event of the last)."""
    cid = rows["customer_id"].to_numpy()
    new = np.r_[True, cid[1:] != cid[:-1]]
    for c in cols:
        v = rows[c].to_numpy()
        new[1:] |= v[1:] != v[:-1]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:] - 1, len(rows) - 1]
    out = {"customer_id": cid[starts], "start": rows["start"].to_numpy()[starts],
           "stop": rows["stop"].to_numpy()[ends], "event": rows["event"].to_numpy()[ends]}
    out.update({c: rows[c].to_numpy()[starts] for c in cols})
    return pd.DataFrame(out)


def lapse_table(transactions: pd.DataFrame, *, observation_end, threshold_weeks: float = DEFAULT_THRESHOLD_WEEKS,
                static_covariates: pd.DataFrame | None = None, dynamic_covariates: pd.DataFrame | None = None,
                caller: str = "lapse_table") -> LapseTable:
    """:func:`lapse_intervals` with the driver names and counts (:class:`LapseTable`); errors start with ``caller``.

    Parameters, checks and raised errors are those of :func:`lapse_intervals`.
    """
    where = caller
    threshold = check_number(where, "threshold_weeks", threshold_weeks, low=0.0, low_open=True, unit="weeks")
    try:
        end = pd.Timestamp(observation_end).normalize()
    except (TypeError, ValueError):
        raise DataError(f"{where}: observation_end={observation_end!r} is not a date; pass e.g. '2024-12-31'") from None
    if pd.isna(end):
        raise DataError(f"{where}: observation_end is missing; pass the last day of the window")
    per, n_excluded = _follow_up(where, transactions, int(_days([end])[0]), threshold * 7.0)
    if per.empty:
        raise DataError(f"{where}: no customer made a first purchase on or before observation_end - "
                        f"{threshold:g} weeks, so none can be followed; pass a shorter threshold_weeks")
    if not per["event"].any():
        tx = transactions[["customer_id", "date"]].drop_duplicates().sort_values(["customer_id", "date"])
        gaps = tx.groupby("customer_id", sort=False)["date"].diff().dropna().dt.days / 7.0
        q = f"{gaps.quantile(0.95):.1f} weeks" if len(gaps) else "unknown (no customer bought twice)"
        raise DataError(f"{where}: no customer lapsed (no gap longer than {threshold:g} weeks that started by "
                        f"observation_end - {threshold:g} weeks), so there is nothing to model; pass a shorter "
                        f"threshold_weeks (95 % of the gaps between purchase days are at most {q}) or a longer window")
    static: list[str] = []
    Z = np.zeros((len(per), 0))
    if static_covariates is not None:
        if isinstance(static_covariates, pd.DataFrame) and not static_covariates.index.isin(per.index).any():
            hint = (" (it has a column 'customer_id': use static_covariates.set_index('customer_id'))"
                    if "customer_id" in static_covariates.columns else "")
            raise DataError(f"{where}: static_covariates is not indexed by customer_id: none of its index values "
                            f"(e.g. {static_covariates.index[:1].tolist()}) is a customer of the transactions{hint}")
        design = CovariateDesign(where, static_covariates, per.index, len(per))
        static, Z = design.names_, design.Z_
    dynamic: list[str] = []
    if dynamic_covariates is None:
        rows = pd.DataFrame({"customer_id": per.index.to_numpy(), "start": 0, "stop": per["stop_days"].to_numpy(),
                             "event": per["event"].to_numpy()})
        n_periods = len(rows)
    else:
        rows, dynamic = _dynamic_rows(where, dynamic_covariates, per)
        n_periods = len(rows)
        rows = _collapse(rows, dynamic)
    clash = sorted((set(static) & set(dynamic)) | ((set(static) | set(dynamic)) & set(_KEYS)))
    if clash:
        raise DataError(f"{where}: driver name {clash[0]!r} is used twice (static and time-varying, or a name of the "
                        f"interval table {list(_KEYS)}); rename the column")
    if not static and not dynamic:
        raise DataError(f"{where}: no drivers given; pass static_covariates and/or dynamic_covariates")
    pos = per.index.get_indexer(rows["customer_id"])
    frame = pd.DataFrame({"customer_id": rows["customer_id"].to_numpy(),
                          "start": rows["start"].to_numpy(np.float64) / 7.0,
                          "stop": rows["stop"].to_numpy(np.float64) / 7.0,
                          "event": rows["event"].to_numpy().astype(np.int64)})
    for j, name in enumerate(static):
        frame[name] = Z[pos, j]
    for name in dynamic:
        frame[name] = rows[name].to_numpy(np.float64)
    return LapseTable(frame, static, dynamic, n_periods, n_excluded)


def lapse_intervals(transactions: pd.DataFrame, *, observation_end, threshold_weeks: float = DEFAULT_THRESHOLD_WEEKS,
                    static_covariates: pd.DataFrame | None = None,
                    dynamic_covariates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The start/stop/event table of observed lapse (the rule in the module docstring).

    Parameters
    ----------
    transactions: cleaned transactions with ``customer_id`` and ``date`` (datetime64; other columns ignored).
    observation_end: the last day of the window (inclusive).
    threshold_weeks: ``tau``, the gap (weeks, > 0, shorter than the window) after which a customer has lapsed.
    static_covariates: one row per customer, indexed by ``customer_id``; numeric columns as they are,
        categorical / string / boolean ones one-hot encoded (``column[level]``, first sorted level the reference).
    dynamic_covariates: the weekly long table ``customer_id``, ``period_start`` (datetime64; a period is the 7 days
        from it), numeric driver columns; one row per week covering each followed customer's follow-up.

    Returns
    -------
    DataFrame, one row per customer interval (consecutive periods with identical covariates collapsed), sorted by
    customer and time: ``customer_id``, ``start``, ``stop`` (float, weeks since the first purchase day, the interval
    ``(start, stop]``), ``event`` (int, 1 on the row ending at the lapse), then the static design columns, then the
    time-varying drivers. Without a time-varying table, one row per customer with ``start = 0``. Customers whose
    first purchase is after ``observation_end - tau`` are not in it.

    Raises
    ------
    DataError
        missing columns; ``threshold_weeks`` not positive or not shorter than the window (first purchase to
        ``observation_end``); nobody can be followed; no customer lapsed (the message gives the 95th percentile
        of the gaps between purchase days, to choose a threshold, or says to use a longer window); static
        covariates not indexed by ``customer_id`` (or with missing rows, missing values, a constant column: see
        ``CovariateDesign``); a time-varying table with gaps, overlaps, too short a cover for a customer, or
        non-numeric / missing values; a driver name used twice; no drivers at all.
    """
    return lapse_table(transactions, observation_end=observation_end, threshold_weeks=threshold_weeks,
                       static_covariates=static_covariates, dynamic_covariates=dynamic_covariates,
                       caller="lapse_intervals").frame

