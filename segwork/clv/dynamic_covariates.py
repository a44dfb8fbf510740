"""The long table of time-varying covariates: its input checks and the per-customer piecewise-constant design.

A time-varying covariate table is in long form, one row per customer and
period: ``customer_id``, ``period_start`` (datetime64; the first day of a
period of one time unit, 7 days for ``time_unit="weeks"``) and the covariate
columns. As in CLVTools (Bachmann, Meierer & Naef 2021; ``SetDynamicCovariates``)
a row's date marks the **start** of its period, and the periods lie on one
calendar grid shared by every customer: every ``period_start`` is a whole
number of periods after the earliest ``period_start`` of the table. A
customer's clock starts at their first purchase (the day, at 00:00), so their
first period is partial: from the first purchase to the end of the calendar
period that contains it (CLVTools' ``d_omega``, in (0, 1]; a whole period when
the first purchase falls on a period start). The last period is the one that
contains ``observation_end`` (as a time point: that day at 00:00, so
``T = observation_end - first purchase`` as in :func:`segwork.features.rfm_summary`);
it has length 0 when ``observation_end`` is a period start, and it is still
needed, for a purchase on that day. A purchase on a period start belongs to
the period that starts then. These are CLVTools' conventions (its covariate
intervals ``[Cov.Date, Cov.Date + 1 period)``, ``ceiling_date(...,
change_on_boundary = TRUE)`` for the partial first period), so the
likelihoods agree.

:func:`build_design` checks the table against the transactions
(:class:`~segwork.errors.DataError` naming customer, period, column and the
fix) and returns a :class:`DynamicDesign`: the customers' ``(frequency,
recency, T)`` exactly as :func:`segwork.features.rfm_summary` counts them
(purchase days), their pieces (one per period from the first purchase to
``observation_end``) with the covariate rows of each, and the covariates at each
repeat purchase. :func:`future_pieces` gives the pieces of a prediction horizon
from a table that extends past ``observation_end``. Categorical columns are
one-hot encoded with :class:`segwork.clv.covariates.CovariateDesign`
(``OneHotEncoder(drop="first")``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import require_columns
from ..errors import DataError
from ..features.rfm import TIME_UNITS, clean_frame, rfm_summary
from .base import distinct_rows
from .covariates import CovariateDesign

__all__ = ["DynamicDesign", "FuturePieces", "build_design", "future_pieces", "check_covariate_table"]

_NS_PER_DAY = 86_400 * 10**9
_ADVERB = {"week": "weekly", "day": "daily"}


def _period_days(where: str, time_unit: str) -> int:
    if time_unit not in TIME_UNITS:
        raise DataError(f"{where}: time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)} "
                        "(one covariate period is one time unit)")
    return int(TIME_UNITS[time_unit])


def _days(values: pd.Series, where: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (days since 1970-01-01, int64) of a datetime column and the time of day (ns); DataError when
    the column does not hold dates."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise DataError(f"{where}: column {column!r} must hold dates (datetime64), got dtype {values.dtype}; "
                        "convert it with pd.to_datetime")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    ns = values.to_numpy().astype("datetime64[ns]").view(np.int64)
    return ns // _NS_PER_DAY, ns % _NS_PER_DAY


def _day_of(where: str, value) -> int:
    """One date (str, Timestamp, date) as a day number; DataError when it is not a date."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise DataError(f"{where}: observation_end={value!r} is not a date; give the last day observed, "
                        "e.g. '2006-12-31'")
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return int(np.floor(ts.value / _NS_PER_DAY))


def _date(day: int | float) -> str:
    return str(np.datetime64(int(np.floor(day)), "D"))


@dataclass
class CovariateTable:
    """A checked long table: rows sorted by customer and period, with each customer's row range."""

    frame: pd.DataFrame  # the rows, sorted by (customer_id, period_start), index 0..n-1
    ids: pd.Index  # distinct customer ids (str, sorted)
    code: np.ndarray  # customer code of each row
    k: np.ndarray  # period number of each row on the grid (0 = the grid origin)
    start: np.ndarray  # first row of each customer (len(ids) + 1 offsets)
    origin: int  # day number of the grid origin
    period_days: int
    unit: str


def check_covariate_table(where: str, covariates, columns, *, time_unit: str = "weeks",
                          origin: int | None = None) -> CovariateTable:
    """Check the long table's form; DataError naming the customer, period and column, with the fix.

    Refuses: not a DataFrame; a missing ``customer_id``, ``period_start`` or
    covariate column; dates that are not datetime64 or missing; missing
    customer ids; a ``period_start`` off the grid (not a whole number of
    periods after ``origin``; by default the grid most rows are on, from its
    earliest ``period_start``; or with a time of day); two rows for one customer and period (overlapping
    periods); a gap in a customer's periods (between their first and last row).
    Values are checked where they are used (:func:`build_design`,
    :func:`future_pieces`). Returns the rows sorted by customer and period.
    """
    need = ["customer_id", "period_start", *columns]
    require_columns(covariates, need, where, "give the long form, one row per customer and period: customer_id, "
                    "period_start and the covariates named in purchase_covariates / dropout_covariates",
                    what="covariate table")
    if len(covariates) == 0:
        raise DataError(f"{where}: the covariate table is empty; give one row per customer and period")
    length = _period_days(where, time_unit)
    unit = time_unit[:-1]
    frame = covariates[need]
    ids = frame["customer_id"]
    if ids.isna().any():
        row = frame.index[ids.isna().to_numpy()][0]
        raise DataError(f"{where}: the covariate table has a missing customer_id (row {row!r}); drop or fill it")
    frame = frame.assign(customer_id=ids.astype(str))
    dates = frame["period_start"]
    if pd.api.types.is_datetime64_any_dtype(dates) and dates.isna().any():
        who = frame["customer_id"][dates.isna().to_numpy()].iloc[0]
        raise DataError(f"{where}: period_start is missing for customer {who!r}; every row needs the first day of "
                        "its period")
    day, rest = _days(dates, where, "period_start")
    if (rest != 0).any():
        pos = int(np.flatnonzero(rest != 0)[0])
        raise DataError(f"{where}: period_start {dates.iloc[pos]} of customer {frame['customer_id'].iloc[pos]!r} has "
                        f"a time of day; period_start is the first day of a {unit} (a date at 00:00): floor it to "
                        "the day")
    if origin is None:  # the grid of most rows (so that one stray row is the one named), from its first period
        residue = day % length
        common = int(np.bincount(residue, minlength=length).argmax())
        origin = int(day[residue == common].min())
    off = (day - origin) % length
    if (off != 0).any():
        pos = int(np.flatnonzero(off != 0)[0])
        raise DataError(
            f"{where}: period_start {_date(day[pos])} of customer {frame['customer_id'].iloc[pos]!r} is not on the "
            f"{_ADVERB[unit]} grid of the covariate table (periods of {length} day(s) from {_date(origin)}, the grid "
            "of the other rows; "
            "period_start marks the start of a period): set it to the first day of its period, e.g. "
            f"{_date(day[pos] - off[pos])}")
    k = (day - origin) // length
    codes, uniq = pd.factorize(frame["customer_id"], sort=True)
    key = codes.astype(np.int64) * (int(k.max()) + 1) + k
    if not (key[1:] >= key[:-1]).all():  # sort by customer and period (a table from make_crm is sorted already)
        order = np.argsort(key, kind="stable")
        frame, codes, k = frame.take(order), codes[order], k[order]
    frame = frame.reset_index(drop=True)
    same = codes[1:] == codes[:-1]
    step = np.diff(k)
    dup = same & (step == 0)
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        n_rows = int(((codes == codes[pos]) & (k == k[pos])).sum())
        raise DataError(f"{where}: customer {uniq[codes[pos]]!r} has {n_rows} rows for the period starting "
                        f"{_date(origin + k[pos] * length)} (overlapping periods); keep one row per customer and "
                        "period")
    gap = same & (step > 1)
    if gap.any():
        pos = int(np.flatnonzero(gap)[0])
        raise DataError(
            f"{where}: customer {uniq[codes[pos]]!r} has no row for the period starting "
            f"{_date(origin + (k[pos] + 1) * length)} (a gap between the periods starting "
            f"{_date(origin + k[pos] * length)} and {_date(origin + k[pos + 1] * length)}); a customer's periods "
            "must follow each other without gaps: add the missing rows")
    start = np.r_[0, np.flatnonzero(~same) + 1, len(k)]
    return CovariateTable(frame, pd.Index(uniq, name="customer_id"), codes, k, start, origin, length, unit)


@dataclass
class DynamicDesign:
    """The per-customer piecewise-constant design of a fit (customers sorted by ``customer_id``).

    Customer arrays (length ``n``): ``x`` (repeat purchase days), ``tx``
    (recency), ``T`` (in time units), ``first_day`` (day number of the first
    purchase); ``S_purchase`` ``(n, p_purchase)``: the purchase design summed
    over the customer's repeat purchases (the covariates in force at each).
    Piece arrays (length ``K``, customers' pieces consecutive in time order,
    customer ``i``'s from ``offsets[i]`` to ``offsets[i + 1]``): ``lo``,
    ``length`` (customer time in units, ``lo = 0`` at the first purchase),
    ``cust``, and the design rows as codes into distinct rows:
    ``X_rows[x_code]`` ``(K, p_purchase)``, ``Z_rows[z_code]`` ``(K, p_dropout)``.
    """

    customers: pd.Index
    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    first_day: np.ndarray
    end_day: int
    offsets: np.ndarray
    cust: np.ndarray
    lo: np.ndarray
    length: np.ndarray
    X_rows: np.ndarray
    x_code: np.ndarray
    Z_rows: np.ndarray
    z_code: np.ndarray
    S_purchase: np.ndarray
    purchase_names: list
    dropout_names: list
    encoders: dict  # "purchase" / "dropout": (table columns, CovariateDesign or None); "static": CovariateDesign
    static_rows: np.ndarray  # (n, p_static) the static design of each customer (on both processes)
    grid: tuple  # (origin day, period days, unit name)


@dataclass
class FuturePieces:
    """Pieces of a prediction horizon: customer time measured from ``T`` (so ``lo = 0`` at observation_end)."""

    offsets: np.ndarray
    cust: np.ndarray
    lo: np.ndarray
    length: np.ndarray
    X: np.ndarray
    Z: np.ndarray


def _encode(where, table: pd.DataFrame, row: np.ndarray, columns, encoder=None):
    """Design matrix of the long-table ``columns`` at rows ``row`` of ``table`` (fit: a new CovariateDesign)."""
    if not columns:
        return np.zeros((len(row), 0)), None, []
    part = table[list(columns)].take(row).reset_index(drop=True)

    def where_is(i):
        return (f"customer {table['customer_id'].iloc[row[i]]!r} in the period starting "
                f"{pd.Timestamp(table['period_start'].iloc[row[i]]).date()}")

    num = [c for c in columns if pd.api.types.is_numeric_dtype(part[c]) and not pd.api.types.is_bool_dtype(part[c])]
    if num:
        vals = part[num].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(vals)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DataError(f"{where}: covariate {num[j]!r} is not finite ({float(vals[i, j])!r}) for {where_is(i)}; "
                            "fill or drop it")
    na = part.isna().to_numpy()
    if na.any():
        i, j = np.argwhere(na)[0]
        raise DataError(f"{where}: covariate {columns[j]!r} is missing for {where_is(i)}; fill or drop it")
    if encoder is None:
        encoder = CovariateDesign(f"{where} (covariate table rows used in the fit)", part, None, len(part))
        return encoder.Z_, encoder, encoder.names_
    return encoder.transform(where, part, None, len(part)), encoder, encoder.names_


def _static_rows(where, static, customers, encoder=None):
    if static is None:
        return np.zeros((len(customers), 0)), None, []
    if encoder is None:
        encoder = CovariateDesign(f"{where} (static_covariates)", static, customers, len(customers))
        return encoder.Z_, encoder, encoder.names_
    return encoder.transform(where, static, customers, len(customers)), encoder, encoder.names_


def build_design(where: str, transactions, covariates, *, observation_end, purchase_covariates, dropout_covariates,
                 static_covariates=None, time_unit: str = "weeks", encoders: dict | None = None,
                 origin: int | None = None) -> tuple[DynamicDesign, CovariateTable]:
    """Check the inputs of a time-varying fit and build its :class:`DynamicDesign`.

    ``transactions``: customer_id, date (through segwork's one gate,
    :func:`segwork.features.rfm.clean_frame`, as :func:`rfm_summary` takes
    them); frequency, recency and T are ``rfm_summary(transactions,
    observation_end=..., time_unit=...)``'s. ``covariates``: the long table
    (:func:`check_covariate_table`). ``static_covariates``: optional DataFrame
    indexed by customer_id (one row per customer), used on both processes.
    ``encoders`` and ``origin``: a fitted design's ``encoders`` and grid origin (day number), to build the
    design of other customers for a fitted model (:meth:`TimeVaryingParetoNBD.with_data`): the columns are
    encoded as at fit (no check for constant columns: a few customers may share a level) and the periods must
    lie on the fit's grid.

    Raises DataError for the table's form (see :func:`check_covariate_table`),
    a customer with transactions but no covariate rows, a customer whose rows
    start after the period of their first purchase or end before the period
    containing ``observation_end``, a non-finite or missing value in a used row,
    a constant or collinear covariate, and a static column also named among the
    time-varying ones.
    """
    purchase_covariates, dropout_covariates = list(purchase_covariates or []), list(dropout_covariates or [])
    if not purchase_covariates and not dropout_covariates and static_covariates is None:
        raise DataError(f"{where}: no covariates named; give purchase_covariates and/or dropout_covariates (columns "
                        "of the covariate table), or fit segwork.clv.ParetoNBD for the model without covariates")
    if observation_end is None:
        raise DataError(f"{where}: observation_end is required (the last day observed; the covariate table must "
                        "cover each customer through the period that contains it)")
    length = _period_days(where, time_unit)
    table = check_covariate_table(where, covariates, sorted(set(purchase_covariates) | set(dropout_covariates)),
                                  time_unit=time_unit, origin=origin)
    tx, report = clean_frame(transactions, where=where)
    summary = rfm_summary(tx, cleaned=report if report is not None else True, observation_end=observation_end,
                          time_unit=time_unit, amount_col=None)
    customers = summary.index
    n = len(customers)
    end_day = _day_of(where, observation_end)
    x = summary["frequency"].to_numpy(np.float64)
    rec = summary["recency"].to_numpy(np.float64)
    T = summary["T"].to_numpy(np.float64)
    first = np.rint(end_day - T * length).astype(np.int64)

    # purchase days, counted as rfm_summary counts them (distinct days up to observation_end)
    day, _ = _days(tx["date"], where, "date")
    code = customers.get_indexer(tx["customer_id"].astype(str))
    keep = (day <= end_day) & (code >= 0)
    d0 = int(first.min())
    width = end_day + 1 - d0
    pairs = np.unique(code[keep].astype(np.int64) * width + (day[keep] - d0))
    p_cust, p_day = pairs // width, pairs % width + d0
    repeat = p_day > first[p_cust]
    p_cust, p_day = p_cust[repeat], p_day[repeat]
    if not np.array_equal(np.bincount(p_cust, minlength=n), x.astype(np.int64)):  # pragma: no cover - a bug guard
        raise RuntimeError(f"{where}: repeat purchase days disagree with rfm_summary's frequency")

    # each customer's rows in the table
    pos = table.ids.get_indexer(customers)
    if (pos < 0).any():
        miss = customers[pos < 0]
        raise DataError(f"{where}: {len(miss)} customer(s) with transactions have no rows in the covariate table "
                        f"(e.g. customer {miss[0]!r}, first purchase {_date(first[pos < 0][0])}); give every customer "
                        "rows from the period of their first purchase through the one containing observation_end "
                        f"({_date(end_day)}), or drop their transactions")
    origin = table.origin
    k0 = (first - origin) // length
    kE = (end_day - origin) // length
    kmin = table.k[table.start[pos]]
    kmax = table.k[table.start[pos + 1] - 1]
    late = kmin > k0
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{where}: customer {customers[i]!r} has no covariate row for the period starting "
            f"{_date(origin + k0[i] * length)}, which contains their first purchase ({_date(first[i])}); the table "
            f"must cover each customer from that period through the one containing observation_end "
            f"({_date(end_day)}) without gaps: add the missing rows")
    early = kmax < kE
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise DataError(
            f"{where}: customer {customers[i]!r} has no covariate row for the period starting "
            f"{_date(origin + (kmax[i] + 1) * length)} (their rows end before the period containing observation_end "
            f"{_date(end_day)}, which starts {_date(origin + kE * length)}); add rows through that period")

    # the pieces: one per period from the first purchase's to observation_end's
    counts = (kE - k0 + 1).astype(np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    cust = np.repeat(np.arange(n, dtype=np.int32), counts)
    q = np.arange(offsets[-1]) - offsets[cust]
    kk = k0[cust] + q
    f = first[cust]
    lo_day = np.maximum(origin + kk * length, f)
    hi_day = np.minimum(origin + (kk + 1) * length, end_day)
    lo = (lo_day - f) / length
    piece_len = np.maximum(hi_day - lo_day, 0) / length
    row = table.start[pos][cust] + (kk - kmin[cust])
    fitted = encoders or {}
    Xd, enc_p, names_p = _encode(where, table.frame, row, purchase_covariates, fitted.get("purchase", (None, None))[1])
    Zd, enc_d, names_d = _encode(where, table.frame, row, dropout_covariates, fitted.get("dropout", (None, None))[1])
    Ss, enc_s, names_s = _static_rows(where, static_covariates, customers, fitted.get("static"))
    for side, names in (("purchase", names_p), ("dropout", names_d)):
        clash = sorted(set(names) & set(names_s))
        if clash:
            raise DataError(f"{where}: {clash} is both a static covariate and a {side} covariate of the table; "
                            "name each covariate once")
    X = np.hstack([Xd, Ss[cust]])
    Z = np.hstack([Zd, Ss[cust]])
    x_code, x_first = distinct_rows(*X.T) if X.shape[1] else (np.zeros(len(X), np.int64), np.zeros(1, np.int64))
    z_code, z_first = distinct_rows(*Z.T) if Z.shape[1] else (np.zeros(len(Z), np.int64), np.zeros(1, np.int64))
    X_rows = X[x_first] if X.shape[1] else np.zeros((1, 0))
    Z_rows = Z[z_first] if Z.shape[1] else np.zeros((1, 0))
    # the purchase covariates at each repeat purchase (the period containing its day)
    p_piece = offsets[p_cust] + (p_day - origin) // length - k0[p_cust]
    S = np.zeros((n, X.shape[1]))
    for j in range(X.shape[1]):
        S[:, j] = np.bincount(p_cust, weights=X[p_piece, j], minlength=n)
    design = DynamicDesign(
        customers=customers, x=x, tx=np.minimum(rec, T), T=T, first_day=first, end_day=end_day, offsets=offsets,
        cust=cust, lo=lo, length=piece_len, X_rows=X_rows, x_code=x_code.astype(np.int32), Z_rows=Z_rows,
        z_code=z_code.astype(np.int32), S_purchase=S, purchase_names=names_p + names_s, dropout_names=names_d + names_s,
        encoders={"purchase": (purchase_covariates, enc_p), "dropout": (dropout_covariates, enc_d),
                  "static": enc_s},
        static_rows=Ss, grid=(origin, length, table.unit))
    return design, table


def future_pieces(where: str, design: DynamicDesign, covariates, horizon: float) -> FuturePieces:
    """The pieces from ``observation_end`` to ``horizon`` time units later, with their covariates.

    ``covariates``: a long table on the fit's grid holding, for every fitted
    customer, the periods from the one containing observation_end through the
    one containing the end of the horizon (rows outside are ignored). Raises
    DataError naming the customer and the missing period (or as
    :func:`check_covariate_table`), and for values as at fit.
    """
    origin, length, unit = design.grid
    purchase_cols, enc_p = design.encoders["purchase"]
    dropout_cols, enc_d = design.encoders["dropout"]
    table = check_covariate_table(where, covariates, sorted(set(purchase_cols) | set(dropout_cols)),
                                  time_unit=unit + "s", origin=origin)
    E = design.end_day
    kE = (E - origin) // length
    end = E + horizon * length
    k_last = max(int(np.ceil((end - origin) / length)) - 1, kE)
    customers = design.customers
    n = len(customers)
    pos = table.ids.get_indexer(customers)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise DataError(f"{where}: customer {customers[i]!r} has no rows in the covariate table; predicting "
                        f"{horizon:g} {unit}s ahead needs their rows for the periods starting "
                        f"{_date(origin + kE * length)} through {_date(origin + k_last * length)}")
    kmin = table.k[table.start[pos]]
    kmax = table.k[table.start[pos + 1] - 1]
    for bad, k_need in ((kmin > kE, kE), (kmax < k_last, None)):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            k_miss = k_need if k_need is not None else kmax[i] + 1
            raise DataError(
                f"{where}: customer {customers[i]!r} has no covariate row for the period starting "
                f"{_date(origin + k_miss * length)}, needed to predict {horizon:g} {unit}s past observation_end "
                f"{_date(E)} (through {_date(end)}); extend the covariate table with the future path: rows for the "
                f"periods starting {_date(origin + kE * length)} through {_date(origin + k_last * length)}")
    m = k_last - kE + 1
    offsets = np.arange(n + 1) * m
    cust = np.repeat(np.arange(n), m)
    kk = kE + np.tile(np.arange(m), n)
    lo_day = np.maximum(origin + kk * length, E)
    hi_day = np.minimum(origin + (kk + 1) * length, end)
    lo = (lo_day - E) / length
    piece_len = np.maximum(hi_day - lo_day, 0) / length
    row = table.start[pos][cust] + (kk - kmin[cust])
    Xd = _encode(where, table.frame, row, purchase_cols, enc_p)[0]
    Zd = _encode(where, table.frame, row, dropout_cols, enc_d)[0]
    Ss = design.static_rows
    return FuturePieces(offsets, cust, lo, piece_len, np.hstack([Xd, Ss[cust]]), np.hstack([Zd, Ss[cust]]))
