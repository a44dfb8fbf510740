"""Survival cross-check on observed lapse: lifelines' Cox models on "no purchase for longer than a threshold".

Issue 20, Methods 3. The buy-till-you-die models (Pareto/NBD with covariates, its time-varying form) estimate what
drives a *latent* dropout; this module asks the same question of something a CRM can see, the **observed lapse**,
with a maintained survival library (lifelines: ``CoxTimeVaryingFitter`` for time-varying drivers, ``CoxPHFitter``
otherwise; Cox 1972, Efron's ties).

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
  :attr:`LapseCheck.n_excluded`). Transactions after ``observation_end`` are not used (the history ends there).

How this differs from the latent dropout of the BTYD models: a dropout is never seen, the model infers it from the
purchase pattern; a lapse is a rule on the observed gaps. A lapse is seen late (``tau`` after the last purchase, so a
customer who left after ``E - tau`` is censored) and dated at the last purchase, not at the dropout, which lies
somewhere in the gap; and a slow buyer who is alive may "lapse" (a long gap by chance): on make_crm's planted
defection world (20,000 customers) 30 % of the customers seen to lapse at 26 weeks were alive at the end (47 % at
13 weeks, 15 % at 52). So the Cox hazard of lapse mixes the two BTYD processes: a driver that only *lowers the
purchase rate* lengthens the gaps and *raises* the lapse hazard although it does not touch dropout, and a driver
that raises purchases lowers it. The alive "lapsers" pull every dropout effect towards 1, most in a customer's first
months, when a long gap is more often a slow buyer's than a leaver's (on that world the lapse hazard ratio of
``contract[none]``, planted dropout x2.0, is 1.30 in the first 13 weeks on book and 1.44 after 39 weeks), so the
proportional-hazards test may reject for a pure dropout driver.
Expect the lapse hazard ratio to follow ``dropout multiplier / purchase multiplier`` in direction, not the dropout
multiplier in size (:meth:`LapseCheck.compare` sets the two side by side). Time-varying drivers enter with their
value in the week of the last purchase before the gap; a driver that acts only after the last purchase (during the
gap) is missed, and one that raises purchases in a week (a marketing contact) makes that week more likely to hold
the last purchase, so it can look like a lapse risk.

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
intervals, and CoxTimeVaryingFitter fits them in 4-9 s (the whole check 6-13 s; a shared 2-core machine).
"""
from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import check_number, require_columns
from ..clv.covariates import CovariateDesign
from ..errors import ConvergenceError, DataError

__all__ = ["DEFAULT_THRESHOLD_WEEKS", "LapseCheck", "lapse_intervals", "lapse_check"]

#: The default lapse threshold in weeks (see the module docstring for why).
DEFAULT_THRESHOLD_WEEKS = 26.0
#: Length of a period of the time-varying covariate table, in days.
PERIOD_DAYS = 7
_KEYS = ("customer_id", "start", "stop", "event")


@dataclass(frozen=True)
class LapseCheck:
    """The result of :func:`lapse_check`.

    Attributes
    ----------
    hazard_ratios: DataFrame indexed by ``driver`` (the design column names, e.g. ``contract[none]``,
        ``open_complaint``), columns ``hazard_ratio`` (exp(coef): the multiplier of the lapse hazard per unit of the
        driver, against the reference level), ``lower_95``, ``upper_95`` (Wald 95 % confidence interval of that
        multiplier, from lifelines' standard errors) and ``p_value`` (Wald test of "no effect").
    concordance: Harrell's C of the lapse model (0.5 = chance, 1 = a perfect ranking of lapse times): lifelines'
        ``concordance_index`` on each customer's follow-up time, event and partial hazard with the covariates of
        their last interval (at lapse or censoring); without time-varying drivers ``CoxPHFitter.concordance_index_``.
    ph_test: DataFrame with columns ``driver``, ``test_statistic``, ``p_value``: lifelines'
        ``proportional_hazard_test`` (scaled Schoenfeld residuals against the rank of time, one degree of freedom
        each) on a ``CoxPHFitter`` with the static drivers; a small p-value means the driver's hazard ratio changes
        with time on book. Empty without static drivers (lifelines tests the CoxPHFitter only).
    n_customers: customers followed (first purchase on or before ``E - tau``); n_lapsed: those seen to lapse.
    threshold: the lapse threshold ``tau`` in weeks.
    model: ``"CoxTimeVaryingFitter"`` or ``"CoxPHFitter"``.
    n_intervals, n_periods: rows fitted (after collapsing) and before collapsing identical consecutive periods.
    n_excluded: customers left out (first purchase after ``E - tau``).
    notes: what lifelines warned about during the fits (convergence, low variance, ...), one line each with the
        fitter and warning class; empty when nothing was said. The numbers are lifelines' own (no fallback).
    fit_seconds: wall time of the main fit.
    """

    hazard_ratios: pd.DataFrame
    concordance: float
    ph_test: pd.DataFrame
    n_customers: int
    n_lapsed: int
    threshold: float
    model: str
    n_intervals: int
    n_periods: int
    n_excluded: int
    notes: tuple[str, ...] = ()
    fit_seconds: float = float("nan")

    def compare(self, drivers: pd.DataFrame) -> pd.DataFrame:
        """Lapse hazard ratios next to the BTYD multipliers of the same drivers.

        Parameters
        ----------
        drivers: DataFrame with columns ``driver``, ``process`` (``"dropout"``/``"purchase"``), ``multiplier``
            (1.0 = no effect), e.g. ``make_crm(..., defection=True).planted_effects`` or the drivers table of a
            BTYD fit; other columns are ignored.

        Returns
        -------
        DataFrame indexed by ``driver`` (the lapse drivers first, then those only in ``drivers``), columns
        ``hazard_ratio``, ``lower_95``, ``upper_95``, ``p_value`` (NaN for a driver not in the lapse model),
        ``dropout_multiplier``, ``purchase_multiplier`` (NaN where ``drivers`` has no row), ``dropout_covered``
        (the dropout multiplier lies inside the lapse interval), ``expected`` and ``found`` (the direction of the
        lapse hazard: ``expected`` is ``"up"`` when the driver raises dropout or lowers purchases, ``"down"`` for
        the reverse, ``"none"``, ``"mixed"`` when the two sides push against each other, ``"unknown"`` when a side
        is missing; ``found`` is ``"up"`` when ``lower_95 > 1``, ``"down"`` when ``upper_95 < 1``, else
        ``"none"``) and ``agrees`` (``expected == found``; missing for ``mixed``/``unknown``).

        Raises
        ------
        DataError
            ``drivers`` lacks a column, has a process other than dropout/purchase, or two rows for one driver
            and process.
        """
        where = "LapseCheck.compare"
        require_columns(drivers, ["driver", "process", "multiplier"], where,
                        "pass a frame with one row per driver and process (e.g. planted_effects)", what="drivers")
        bad = sorted(set(drivers["process"].astype(str)) - {"dropout", "purchase"})
        if bad:
            raise DataError(f"{where}: process must be 'dropout' or 'purchase', got {bad[0]!r}; rename those rows")
        if drivers.duplicated(["driver", "process"]).any():
            row = drivers.loc[drivers.duplicated(["driver", "process"]), ["driver", "process"]].iloc[0]
            raise DataError(f"{where}: drivers has more than one row for driver {row['driver']!r}, process "
                            f"{row['process']!r}; keep one")
        wide = (drivers.assign(process=drivers["process"].astype(str) + "_multiplier")
                .pivot(index="driver", columns="process", values="multiplier")
                .reindex(columns=["dropout_multiplier", "purchase_multiplier"]).astype(float))
        order = list(self.hazard_ratios.index) + [d for d in wide.index if d not in self.hazard_ratios.index]
        out = self.hazard_ratios.reindex(order).join(wide, how="left")
        out.index.name = "driver"
        d, p = out["dropout_multiplier"], out["purchase_multiplier"]
        out["dropout_covered"] = ((out["lower_95"] <= d) & (d <= out["upper_95"])).astype("boolean")
        out.loc[out["lower_95"].isna() | d.isna(), "dropout_covered"] = pd.NA
        eps = 1e-9
        up = (np.log(d) > eps) | (np.log(p) < -eps)
        down = (np.log(d) < -eps) | (np.log(p) > eps)
        expected = np.select([d.isna() | p.isna(), up & down, up, down], ["unknown", "mixed", "up", "down"], "none")
        found = np.select([out["lower_95"] > 1.0, out["upper_95"] < 1.0, out["lower_95"].isna()],
                          ["up", "down", "unknown"], "none")
        out["expected"], out["found"] = expected, found
        agrees = pd.Series(expected == found, index=out.index, dtype="boolean")
        agrees[np.isin(expected, ["mixed", "unknown"]) | (found == "unknown")] = pd.NA
        out["agrees"] = agrees
        return out


@contextmanager
def _recorded(fitter: str, notes: list[str]):
    """Collect the warnings raised inside as one note each (``fitter: Class: message``), none printed.

    lifelines' own calls to deprecated pandas API (``DeprecationWarning`` /
    ``FutureWarning`` raised from lifelines' modules, e.g. pandas 3's
    ``Pandas4Warning``) say nothing about the fit and are dropped; every
    other warning becomes a note.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"lifelines(\.|$)")
        yield
    for w in caught:
        note = f"{fitter}: {w.category.__name__}: {' '.join(str(w.message).split())}"
        if note not in notes:
            notes.append(note)


def _days(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True)
class _Table:
    frame: pd.DataFrame  # customer_id, start, stop, event, covariates (collapsed)
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


def _build(where, transactions, observation_end, threshold_weeks, static_covariates, dynamic_covariates) -> _Table:
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
    return _Table(frame, static, dynamic, n_periods, n_excluded)


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
    return _build("lapse_intervals", transactions, observation_end, threshold_weeks, static_covariates,
                  dynamic_covariates).frame


def _summary(fitter) -> pd.DataFrame:
    s = fitter.summary
    out = pd.DataFrame({"hazard_ratio": s["exp(coef)"], "lower_95": s["exp(coef) lower 95%"],
                        "upper_95": s["exp(coef) upper 95%"], "p_value": s["p"]}).astype(float)
    out.index = pd.Index([str(i) for i in s.index], name="driver")
    return out


def _not_converged(name: str, exc: Exception) -> ConvergenceError:
    return ConvergenceError(f"lapse_check: lifelines' {name} did not converge ({' '.join(str(exc).split())[:300]}); "
                            "pass penalizer=0.1 (a ridge penalty on the coefficients), or drop a driver that "
                            "repeats another one (collinear) or (almost) decides who lapses")


def lapse_check(transactions: pd.DataFrame, *, observation_end, threshold_weeks: float = DEFAULT_THRESHOLD_WEEKS,
                static_covariates: pd.DataFrame | None = None, dynamic_covariates: pd.DataFrame | None = None,
                penalizer: float = 0.0) -> LapseCheck:
    """Cox model of observed lapse on the drivers: hazard ratios, concordance and a proportional-hazards check.

    Builds :func:`lapse_intervals` (same parameters and checks), then fits lifelines'
    ``CoxTimeVaryingFitter`` on the interval table when ``dynamic_covariates`` is given, else
    ``CoxPHFitter`` on one row per customer (duration = ``stop``). The proportional-hazards check is
    lifelines' ``proportional_hazard_test`` (``time_transform="rank"``) on a ``CoxPHFitter`` with the
    static drivers (the main fit when there is no time-varying table). Nothing is printed; lifelines'
    warnings become :attr:`LapseCheck.notes`.

    ``penalizer``: lifelines' L2 penalty on the coefficients (0 = plain partial likelihood).

    Returns a :class:`LapseCheck`; :meth:`LapseCheck.compare` puts its hazard ratios next to BTYD multipliers.

    Raises
    ------
    DataError
        every case of :func:`lapse_intervals` (among them: no customer lapsed, with what to do).
    ConvergenceError
        lifelines' Newton-Raphson failed (a singular Hessian: e.g. a time-varying driver that repeats a static
        one): the message says to pass a penalizer or drop the driver.
    """
    from lifelines import CoxPHFitter, CoxTimeVaryingFitter
    from lifelines.exceptions import ConvergenceError as LifelinesConvergenceError
    from lifelines.statistics import proportional_hazard_test
    from lifelines.utils import concordance_index

    # lifelines turns a singular Hessian into its ConvergenceError, except where it re-raises numpy's
    # LinAlgError (a ValueError subclass caught first in CoxTimeVaryingFitter's Newton step)
    failed = (LifelinesConvergenceError, np.linalg.LinAlgError)

    where = "lapse_check"
    pen = check_number(where, "penalizer", penalizer, low=0.0)
    table = _build(where, transactions, observation_end, threshold_weeks, static_covariates, dynamic_covariates)
    frame = table.frame
    tau = float(threshold_weeks)
    last = frame.drop_duplicates("customer_id", keep="last")
    n_lapsed = int(last["event"].sum())
    notes: list[str] = []
    per_customer = last[["stop", "event", *table.static]]
    cph = None
    if table.static:
        with _recorded("CoxPHFitter", notes):
            try:
                t = time.perf_counter()
                cph = CoxPHFitter(penalizer=pen).fit(per_customer, duration_col="stop", event_col="event")
                seconds = time.perf_counter() - t
                ph = proportional_hazard_test(cph, per_customer, time_transform="rank").summary
            except failed as exc:
                raise _not_converged("CoxPHFitter", exc) from None
        ph_test = pd.DataFrame({"driver": [str(i) for i in ph.index],
                                "test_statistic": ph["test_statistic"].to_numpy(float),
                                "p_value": ph["p"].to_numpy(float)})
    else:
        ph_test = pd.DataFrame({"driver": pd.Series(dtype=str), "test_statistic": pd.Series(dtype=float),
                                "p_value": pd.Series(dtype=float)})
    if table.dynamic:
        with _recorded("CoxTimeVaryingFitter", notes):
            try:
                t = time.perf_counter()
                ctv = CoxTimeVaryingFitter(penalizer=pen).fit(frame, event_col="event", start_col="start",
                                                              stop_col="stop", id_col="customer_id")
                seconds = time.perf_counter() - t
            except failed as exc:
                raise _not_converged("CoxTimeVaryingFitter", exc) from None
        hr = _summary(ctv)
        covs = [*table.static, *table.dynamic]
        score = last[covs].to_numpy(np.float64) @ ctv.params_.reindex(covs).to_numpy(np.float64)
        concordance = float(concordance_index(last["stop"].to_numpy(), -score, last["event"].to_numpy()))
        model = "CoxTimeVaryingFitter"
    else:
        hr = _summary(cph)
        concordance = float(cph.concordance_index_)
        model = "CoxPHFitter"
    return LapseCheck(hazard_ratios=hr, concordance=concordance, ph_test=ph_test, n_customers=int(len(last)),
                      n_lapsed=n_lapsed, threshold=tau, model=model, n_intervals=int(len(frame)),
                      n_periods=table.n_periods, n_excluded=table.n_excluded, notes=tuple(notes),
                      fit_seconds=float(seconds))
