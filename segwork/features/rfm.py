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

Speed: the work is a handful of vectorised passes over the rows (``bincount``,
one integer sort of the (customer, day) keys) after turning customer ids into
integer codes. The codes come for free from a categorical column and cheaply
from ids already sorted (what :func:`segwork.io.read_transactions` and
:func:`segwork.datasets.make_crm` return). A raw frame passes the gate
(:func:`segwork.io.clean_rows`, every rule and the whole report) with its ids
hashed once (:func:`segwork.io.numbers.id_codes`; ids of one width up to 8 bytes
as 64-bit numbers) and is summarised in its own row order: the canonical sort
would buy nothing here. See ``benchmarks/bench_rfm.py`` for measured figures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import CleaningReport, CleaningRules, passed_the_gate, read_rows, read_transactions

__all__ = ["rfm_summary", "clean_frame", "TIME_UNITS"]

#: Days per time unit. Weeks are exact (days / 7), as in the CDNOW papers.
TIME_UNITS = {"days": 1.0, "weeks": 7.0}

_NO_DAY = np.iinfo(np.int64).max  # "no purchase yet" sentinel for per-customer minima


def _time_unit_days(time_unit: str) -> float:
    try:
        return TIME_UNITS[time_unit]
    except (KeyError, TypeError):
        raise DataError(f"rfm_summary: time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)}") from None


def _day_numbers(dates: pd.Series, date_col: str) -> np.ndarray:
    """Calendar days since 1970-01-01 (int64) of a datetime column; time of day is dropped.

    Time-zone aware dates count in their own (local) calendar.
    """
    if not pd.api.types.is_datetime64_any_dtype(dates):
        example = dates.iloc[0] if len(dates) else None
        raise DataError(
            f"rfm_summary: column {date_col!r} must hold dates, got dtype {dates.dtype} "
            f"(e.g. {example!r}); read the data with segwork.io.read_transactions or convert with pd.to_datetime"
        )
    if dates.isna().any():
        row = dates.index[dates.isna().to_numpy()][0]
        raise DataError(f"rfm_summary: column {date_col!r} has a missing date (row {row!r}); clean with segwork.io.read_transactions")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    values = dates.to_numpy()
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0]))
    return values.view(np.int64) // per_day  # floor division: times before 1970 still fall on their own day


def _day_number_of(value, name: str) -> int:
    """One date-like value (str, Timestamp, date) as days since 1970-01-01."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"rfm_summary: {name}={value!r} is not a date ({exc})") from None
    if ts is pd.NaT:
        raise DataError(f"rfm_summary: {name} is missing (NaT); give a date such as '1997-09-30'")
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return int(np.datetime64(ts.to_datetime64(), "D").astype(np.int64))


def _date_text(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _period_ends(first_tx: int, last_tx: int, observation_end, calibration_end) -> tuple[int, int]:
    """``(observation_end, calibration_end)`` as day numbers, checked against the data's first and last day."""
    obs_end = last_tx if observation_end is None else _day_number_of(observation_end, "observation_end")
    cal_end = obs_end if calibration_end is None else _day_number_of(calibration_end, "calibration_end")
    if cal_end > obs_end:
        raise DataError(
            f"rfm_summary: calibration_end {_date_text(cal_end)} is after observation_end {_date_text(obs_end)}"
            + (" (the last transaction date)" if observation_end is None else "")
            + "; choose an earlier calibration_end or a later observation_end"
        )
    if cal_end < first_tx:
        what = "calibration_end" if calibration_end is not None else "observation_end"
        raise DataError(
            f"rfm_summary: {what} {_date_text(cal_end)} is before the first transaction ({_date_text(first_tx)}); "
            "no customer has a purchase in the period"
        )
    return obs_end, cal_end


def _amounts(transactions: pd.DataFrame, amount_col: str) -> np.ndarray:
    amount = transactions[amount_col]
    try:
        values = amount.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(
            f"rfm_summary: column {amount_col!r} must hold numbers, got dtype {amount.dtype}; "
            "read the data with segwork.io.read_transactions"
        ) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = amount.index[bad][0]
        raise DataError(
            f"rfm_summary: column {amount_col!r} has a missing or non-finite value {float(values[bad][0])!r} "
            f"(row {row!r}); clean with segwork.io.read_transactions"
        )
    return values


def _looks_sorted(values) -> bool:
    """False if an evenly spaced sample of ``values`` is out of order (then they are not sorted).

    A cheap test that spares unsorted ids a full pass before they are hashed.
    """
    if len(values) < 2:
        return False
    probe = values.take(np.unique(np.linspace(0, len(values) - 1, num=1025).astype(np.intp)))
    try:
        return bool(np.asarray(probe[1:] >= probe[:-1], dtype=bool).all())
    except TypeError:  # ids of mixed types that cannot be ordered
        return False


def _factorize_ids(ids: pd.Series, customer_col: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes 0..n-1 of the customer ids and the ids in sorted order (``uniques[codes] == ids``).

    Three routes, fastest first: a categorical column already has codes; ids
    sorted as :func:`segwork.io.read_transactions` leaves them are split where
    they change; anything else is hashed by :func:`pandas.factorize`.
    """
    if ids.isna().any():
        row = ids.index[ids.isna().to_numpy()][0]
        raise DataError(f"rfm_summary: column {customer_col!r} has a missing customer id (row {row!r}); clean with segwork.io.read_transactions")
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes = ids.cat.codes.to_numpy()
        categories = ids.cat.categories
        if not categories.is_monotonic_increasing:
            order = categories.argsort()
            rank = np.empty(len(order), dtype=np.intp)
            rank[order] = np.arange(len(order))
            codes, categories = rank[codes], categories[order]
        return codes, categories
    values = ids.array
    if _looks_sorted(values):  # ids sorted as read_transactions leaves them: each run of equal ids is one customer
        changes = np.asarray(values[1:] != values[:-1], dtype=bool)
        starts = np.flatnonzero(np.r_[True, changes])
        runs = pd.Index(values.take(starts))
        try:
            is_sorted = bool(np.asarray(runs[1:] > runs[:-1], dtype=bool).all())
        except TypeError:  # ids of mixed types that cannot be ordered
            is_sorted = False
        if is_sorted:
            codes = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
            return codes, runs
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


def clean_frame(
    transactions: pd.DataFrame,
    *,
    rules: CleaningRules | None = None,
    cleaned: bool | CleaningReport | None = None,
    columns: dict | None = None,
    where: str = "rfm_summary",
    ordered: bool = True,
) -> tuple[pd.DataFrame, CleaningReport | None]:
    """The one gate of a DataFrame of transactions: ``(transactions, report)`` as :func:`segwork.io.read_transactions`
    gives them for a file (:func:`segwork.io.clean_transactions` under ``rules``, default :class:`CleaningRules`).

    ``columns`` maps the frame's names to canonical ones (``{"cust": "customer_id"}``). ``cleaned`` says the
    frame has passed the gate already and is given back as it is (nothing is cleaned twice): the
    :class:`~segwork.io.CleaningReport` of the ``read_transactions`` / ``clean_transactions`` call that returned
    it (that report is given back), or ``True`` (no report); ``False`` cleans it here; ``None`` (default)
    decides from the frame: one that carries the gate's mark (:func:`segwork.io.passed_the_gate`: what
    ``clean_transactions`` returned, or a row selection or copy of it) is not cleaned again, unless ``rules``
    are given. Giving ``cleaned`` with ``rules`` is a DataError: the rules of a frame already cleaned cannot
    apply. A frame without an ``amount`` column (summaries without money) is cleaned by the rules that need
    no amount.

    ``ordered=False`` gives the rows it cleans as :func:`segwork.io.read_rows` does (the frame's order,
    ``customer_id`` categorical: every rule and the whole report, without the sort of the canonical table)
    for a summary that needs no order.

    Raises DataError as ``read_transactions`` does for a DataFrame (the source is named ``<DataFrame>``).
    """
    if cleaned is None:
        cleaned = rules is None and passed_the_gate(transactions)
    if cleaned is not False:
        if not (cleaned is True or isinstance(cleaned, CleaningReport)):
            raise DataError(f"{where}: cleaned={cleaned!r}; give the CleaningReport of the read_transactions / "
                            "clean_transactions call that returned the frame, True, or False to clean it here")
        if rules is not None:
            raise DataError(f"{where}: rules= cleans a frame and cleaned= says it is cleaned already; give one")
        out = transactions.rename(columns=columns) if columns else transactions
        return out, (cleaned if isinstance(cleaned, CleaningReport) else None)
    frame = transactions
    names = set(frame.columns) | set((columns or {}).values())
    no_money = "amount" not in names and not {"quantity", "price"} <= names
    if no_money:  # no money to judge: the amount rules see a placeholder 1 and match no row
        frame = frame.assign(amount=1.0)
    if ordered:
        tx, report = read_transactions(frame, columns=columns or None, layout="canonical", rules=rules)
    else:
        tx, report = read_rows(frame, columns=columns or None, rules=rules)
    if no_money:
        tx = tx.drop(columns="amount")
    return tx, report


def _distinct_days(codes: np.ndarray, day: np.ndarray, first_day: int, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (customer code, day) pairs, as two arrays sorted by customer then day."""
    width = last_day - first_day + 1
    if (int(codes.max()) + 1) * width >= 2**62:
        raise DataError("rfm_summary: too many customers times days to summarise in one call; split the customers")
    # int32 keys where they fit: half the memory traffic of int64 and a faster sort
    key_type = np.int32 if (int(codes.max()) + 1) * width < 2**31 else np.int64
    key = np.multiply(codes, width, dtype=key_type, casting="unsafe")
    np.add(key, day - first_day, out=key, casting="unsafe")  # fits: checked above
    if (key[1:] >= key[:-1]).all():  # rows sorted by customer then date: no sort needed
        new = np.r_[True, key[1:] != key[:-1]]
        return codes[new], day[new]
    key = np.sort(key)
    key = key[np.r_[True, key[1:] != key[:-1]]]
    customer = key // width  # division by a constant is fast; the remainder is not
    return customer, key - customer * width + first_day


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    observation_end=None,
    calibration_end=None,
    time_unit: str = "days",
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    engine: str | None = None,
    rules=None,
    cleaned=None,
    scheduler=None,
) -> pd.DataFrame:
    """Summarise transactions into one row per customer (frequency, recency, T, monetary value).

    Parameters
    ----------
    transactions:
        A DataFrame, or a path, a folder or a glob (or a list of them) of
        Parquet or CSV files, read and cleaned with the rules of
        :func:`segwork.io.read_transactions` (see :mod:`segwork.features.engines`
        for what the out-of-core engines read). A DataFrame holds canonical
        transactions (see :mod:`segwork.io`): at least
        ``customer_id`` and ``date`` (datetime; time of day is ignored);
        ``amount`` (money, finite) for the monetary columns. Row order does
        not matter; ids sorted (as ``read_transactions`` leaves them) or
        categorical are fastest.
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
        ``"days"`` or ``"weeks"`` (exactly days / 7) for recency, T and durations.
    customer_col, date_col, amount_col:
        Column names, if not canonical. ``amount_col=None`` skips money.
    engine:
        ``"pandas"`` (in memory), ``"duckdb"`` (out of core: the files are
        cleaned and aggregated in DuckDB, only the per-customer result is
        loaded) or ``"dask"`` (Parquet partitions on a ``dask.distributed``
        cluster). Default: ``"duckdb"`` for a path, ``"pandas"`` for a
        DataFrame (a DataFrame in memory is summarised faster by pandas than
        by DuckDB's scan of it on 2 cores: ``benchmarks/bench_engines.py``).
        All give the same frame. ``duckdb`` and ``dask`` need
        ``pip install 'segwork[scale]'`` (else ImportError saying so).
    rules:
        :class:`segwork.io.CleaningRules` (default: drop every problem row).
        Every input passes :func:`segwork.io.clean_transactions` under them,
        a DataFrame as a file does (the one gate, :func:`clean_frame`): 0 and
        negative amounts, exact duplicate rows, ids such as ``""``, dates
        that cannot be read ... are handled the same. The cleaning report is
        in ``result.attrs["cleaning_report"]``. For files whose lines are
        unique (an export with invoice line ids),
        ``CleaningRules(duplicates="keep")`` skips the search for exact
        duplicates, the costliest rule on the DuckDB engine (the report's
        duplicates count is then 0 on the DuckDB and Dask engines: not looked for).
    cleaned:
        For a DataFrame that passed the gate already (what
        :func:`segwork.io.read_transactions` returns): its
        :class:`~segwork.io.CleaningReport` (given back in
        ``result.attrs["cleaning_report"]``) or ``True``; it is then not
        cleaned again. ``False``: clean it here. Default ``None``: a frame
        with the gate's mark (:func:`segwork.io.passed_the_gate`, what
        ``read_transactions`` / ``clean_transactions`` return, kept by row
        selections and copies) is not cleaned again unless ``rules`` are
        given; any other frame is cleaned here. The mark says where the rows
        came from, not that they are still valid: values changed after the
        gate (``tx.loc[i, "amount"] = -100``) are not checked again, so pass
        ``cleaned=False`` for an edited frame.
    scheduler:
        ``engine="dask"`` only: a ``distributed.Client``, a scheduler address
        (``"tcp://host:8786"``), or ``None`` for the active client.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (string, sorted), with columns
    ``frequency`` (int, repeat purchase days), ``recency`` and ``T`` (in
    ``time_unit``), ``monetary_value`` (mean value per repeat purchase day, the
    data's currency, 0 without repeat purchases); with ``calibration_end`` also
    ``frequency_holdout`` (int, purchase days in the holdout),
    ``monetary_value_holdout`` (mean value per holdout purchase day, 0 if
    none) and ``duration_holdout`` (holdout length in ``time_unit``).

    Raises
    ------
    DataError
        A column is missing or of the wrong type, a value is missing, or the
        period ends do not fit the data; for a path also what
        :func:`segwork.io.read_transactions` raises (naming file, column, value).
    ImportError
        ``engine="duckdb"``/``"dask"`` without the ``scale`` extra.
    """
    unit = _time_unit_days(time_unit)
    if not isinstance(transactions, pd.DataFrame):
        from .engines import is_path_like

        if not is_path_like(transactions):
            raise DataError(f"rfm_summary: transactions must be a pandas DataFrame or a path, folder or glob of "
                            f"Parquet/CSV files, got {type(transactions).__name__}")
        names = {customer_col: "customer_id", date_col: "date"} | ({amount_col: "amount"} if amount_col else {})
        from .engines import choose_engine, read_source_pandas

        if choose_engine(transactions, engine) == "pandas":
            tx, report = read_source_pandas(transactions, rules=rules,
                                            columns={k: v for k, v in names.items() if k != v} or None)
            return rfm_summary(tx, observation_end=observation_end, calibration_end=calibration_end,
                               time_unit=time_unit, amount_col="amount" if amount_col else None, cleaned=report)
        agg = aggregate_source(transactions, engine=engine, rules=rules, scheduler=scheduler,
                               columns={k: v for k, v in names.items() if k != v} or None,
                               observation_end=observation_end, calibration_end=calibration_end)
        return rfm_from_aggregate(agg, observation_end=observation_end, calibration_end=calibration_end,
                                  time_unit=time_unit, monetary=amount_col is not None)
    if engine == "dask":
        _frame_on_engine(transactions, engine=engine)  # refused before any cleaning
    needed = (customer_col, date_col) + ((amount_col,) if amount_col else ())
    for col in needed:
        if col not in transactions.columns:
            raise DataError(
                f"rfm_summary: column {col!r} is missing (columns: {', '.join(map(str, transactions.columns))}); "
                f"pass {'customer_col' if col == customer_col else 'date_col' if col == date_col else 'amount_col'}= "
                "to name it, or read the data with segwork.io.read_transactions"
            )
    if len(transactions) == 0:
        raise DataError("rfm_summary: no transactions")
    if cleaned is None:
        cleaned = rules is None and passed_the_gate(transactions)
    if cleaned is False:  # the gate, as for a file: canonical names from here on
        mapping = {k: v for k, v in ((customer_col, "customer_id"), (date_col, "date"), (amount_col, "amount"))
                   if k and k != v}
        # the summary needs no order: the gate's rows unsorted, ids as codes (all rules, the whole report)
        transactions, report = clean_frame(transactions, rules=rules, columns=mapping,
                                           ordered=engine not in (None, "auto", "pandas"))
        customer_col, date_col, amount_col = "customer_id", "date", "amount" if amount_col else None
    else:
        transactions, report = clean_frame(transactions, rules=rules, cleaned=cleaned)
    out = _summary_of_clean(transactions, observation_end=observation_end, calibration_end=calibration_end,
                            time_unit=time_unit, customer_col=customer_col, date_col=date_col,
                            amount_col=amount_col, engine=engine)
    if report is not None:
        out.attrs["cleaning_report"] = report
    return out


def _summary_of_clean(transactions: pd.DataFrame, *, observation_end, calibration_end, time_unit, customer_col,
                      date_col, amount_col, engine) -> pd.DataFrame:
    """:func:`rfm_summary` of transactions that passed the gate (the one route of a file and a DataFrame)."""
    unit = _time_unit_days(time_unit)
    if engine not in (None, "auto", "pandas"):
        summary = _frame_on_engine(transactions, engine=engine, observation_end=observation_end,
                                   calibration_end=calibration_end, time_unit=time_unit, customer_col=customer_col,
                                   date_col=date_col, amount_col=amount_col)
        if summary is not None:
            return summary
    day = _day_numbers(transactions[date_col], date_col)
    amount = _amounts(transactions, amount_col) if amount_col else None
    codes, ids = _factorize_ids(transactions[customer_col], customer_col)

    first_tx, last_tx = int(day.min()), int(day.max())
    obs_end, cal_end = _period_ends(first_tx, last_tx, observation_end, calibration_end)
    if last_tx > obs_end:  # drop what happened after the observation period
        keep = day <= obs_end
        codes, day = codes[keep], day[keep]
        amount = amount[keep] if amount is not None else None

    n = len(ids)
    in_cal = day <= cal_end
    has_holdout = not in_cal.all()  # otherwise skip the masks below

    # Purchase days: distinct (customer, day) pairs, sorted by customer then day; counted in calibration and
    # holdout. Each customer's calibration pairs are one run: its first and last day are the run's ends.
    pair_cust, pair_day = _distinct_days(codes, day, first_tx, obs_end)
    if has_holdout:
        pair_in_cal = pair_day <= cal_end
        holdout_days = np.bincount(pair_cust[~pair_in_cal], minlength=n)
        pair_cust, pair_day = pair_cust[pair_in_cal], pair_day[pair_in_cal]
    else:
        holdout_days = np.zeros(n, dtype=np.int64)
    first = np.full(n, _NO_DAY, dtype=np.int64)
    last = np.full(n, -_NO_DAY, dtype=np.int64)
    cal_days = np.zeros(n, dtype=np.int64)
    if len(pair_cust):
        new_customer = np.empty(len(pair_cust), dtype=bool)
        new_customer[0] = True
        np.not_equal(pair_cust[1:], pair_cust[:-1], out=new_customer[1:])
        starts = np.flatnonzero(new_customer)
        ends = np.append(starts[1:], len(pair_cust)) - 1
        who = pair_cust[starts]
        first[who], last[who], cal_days[who] = pair_day[starts], pair_day[ends], ends - starts + 1
    is_customer = first != _NO_DAY
    frequency = cal_days - 1

    columns = {
        "frequency": frequency,
        "recency": (last - first) / unit,
        "T": (cal_end - first) / unit,
    }
    if amount is not None:
        # Repeat purchases are the calibration rows after the customer's first day.
        repeat = day > first[codes]
        if has_holdout:
            repeat &= in_cal
        repeat_value = np.bincount(codes, weights=np.where(repeat, amount, 0.0), minlength=n)
        columns["monetary_value"] = np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0)
    if calibration_end is not None:
        columns["frequency_holdout"] = holdout_days
        if amount is not None:
            holdout_value = np.bincount(codes, weights=np.where(in_cal, 0.0, amount), minlength=n) if has_holdout else np.zeros(n)
            columns["monetary_value_holdout"] = np.where(holdout_days > 0, holdout_value / np.maximum(holdout_days, 1), 0.0)
        columns["duration_holdout"] = np.full(n, (obs_end - cal_end) / unit)

    index = ids[is_customer]
    if index.dtype != "str":
        index = index.astype(str)
        if index.has_duplicates:
            same = index[index.duplicated()][0]
            raise DataError(
                f"rfm_summary: column {customer_col!r} holds different ids that read the same as text "
                f"({same!r}, e.g. 1 and '1'); make the ids strings first"
            )
    index.name = "customer_id"
    out = pd.DataFrame({name: values[is_customer] for name, values in columns.items()}, index=index)
    out["frequency"] = out["frequency"].astype(np.int64)
    if "frequency_holdout" in out:
        out["frequency_holdout"] = out["frequency_holdout"].astype(np.int64)
    return out


def _period_days(observation_end, calibration_end) -> tuple[int | None, int | None]:
    obs = None if observation_end is None else _day_number_of(observation_end, "observation_end")
    cal = None if calibration_end is None else _day_number_of(calibration_end, "calibration_end")
    if obs is not None and cal is not None and cal > obs:
        raise DataError(f"rfm_summary: calibration_end {_date_text(cal)} is after observation_end {_date_text(obs)}; "
                        "choose an earlier calibration_end or a later observation_end")
    return obs, cal


def aggregate_source(source, *, engine=None, rules=None, scheduler=None, columns=None, observation_end=None,
                     calibration_end=None, mix=()):
    """Clean the transactions of a path, folder or glob and aggregate them per customer with ``engine``.

    Returns :class:`segwork.features.engines.Aggregated`. ``engine="pandas"``
    reads with :func:`segwork.io.read_transactions` and aggregates in pandas;
    ``"duckdb"`` and ``"dask"`` see :mod:`segwork.features.engines`.
    """
    from . import engines

    obs, cal = _period_days(observation_end, calibration_end)
    engine = engines.choose_engine(source, engine)
    if engine == "duckdb":
        return engines.duckdb_aggregate(engines.resolve_source(source), rules=rules, columns=columns, cal_end=cal,
                                        obs_end=obs, mix=mix)
    if engine == "dask":
        return engines.dask_aggregate(engines.resolve_source(source), rules=rules, columns=columns, cal_end=cal,
                                      obs_end=obs, mix=mix, scheduler=scheduler)
    tx, report = engines.read_source_pandas(source, rules=rules, columns=columns)
    return engines.pandas_aggregate(tx, report=report, cal_end=cal, obs_end=obs, mix=mix)


def rfm_from_aggregate(agg, *, observation_end=None, calibration_end=None, time_unit: str = "days",
                       monetary: bool = True) -> pd.DataFrame:
    """The :func:`rfm_summary` frame from a per-customer aggregate of any engine (same columns and dtypes)."""
    unit = _time_unit_days(time_unit)
    first_tx, last_tx = agg.first_tx, agg.last_tx
    obs_end, cal_end = _period_ends(first_tx, last_tx, observation_end, calibration_end)
    c = agg.customers
    first = c["first_day"].to_numpy()
    frequency = c["cal_days"].to_numpy() - 1
    columns = {
        "frequency": frequency,
        "recency": (c["last_day"].to_numpy() - first) / unit,
        "T": (cal_end - first) / unit,
    }
    if monetary:
        repeat_value = c["cal_value"].to_numpy() - c["first_value"].to_numpy()
        columns["monetary_value"] = np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0)
    if calibration_end is not None:
        holdout_days = c["holdout_days"].to_numpy()
        columns["frequency_holdout"] = holdout_days
        if monetary:
            columns["monetary_value_holdout"] = np.where(
                holdout_days > 0, c["holdout_value"].to_numpy() / np.maximum(holdout_days, 1), 0.0)
        columns["duration_holdout"] = np.full(len(c), (obs_end - cal_end) / unit)
    out = pd.DataFrame(columns, index=c.index.copy())
    out.index.name = "customer_id"
    out["frequency"] = out["frequency"].astype(np.int64)
    if "frequency_holdout" in out:
        out["frequency_holdout"] = out["frequency_holdout"].astype(np.int64)
    if agg.report is not None:
        out.attrs["cleaning_report"] = agg.report
    return out


def _frame_on_engine(transactions: pd.DataFrame, *, engine, observation_end=None, calibration_end=None,
                     time_unit="days", customer_col="customer_id", date_col="date",
                     amount_col="amount") -> pd.DataFrame | None:
    """A DataFrame summarised by DuckDB (its pandas scan); ``None`` sends it down the pandas path.

    The pandas path handles what needs its row-naming errors (missing values,
    ids that clash as text) and time-zone aware dates (counted in their local calendar).
    """
    from . import engines

    if engine == "dask":
        raise DataError("rfm_summary: engine='dask' reads Parquet files (a path, folder or glob); for a DataFrame "
                        "use engine='pandas' or 'duckdb', or write it to Parquet first")
    engines.choose_engine(transactions, engine)  # names an unknown engine
    needed = (customer_col, date_col) + ((amount_col,) if amount_col else ())
    if any(col not in transactions.columns for col in needed) or len(transactions) == 0:
        return None
    dates = transactions[date_col]
    if not pd.api.types.is_datetime64_any_dtype(dates) or getattr(dates.dt, "tz", None) is not None:
        return None
    if amount_col and not pd.api.types.is_numeric_dtype(transactions[amount_col]):
        return None
    obs, cal = _period_days(observation_end, calibration_end)
    agg = engines.duckdb_aggregate_frame(transactions, customer_col=customer_col, date_col=date_col,
                                         amount_col=amount_col, cal_end=cal, obs_end=obs)
    if agg is None:
        return None
    return rfm_from_aggregate(agg, observation_end=observation_end, calibration_end=calibration_end,
                              time_unit=time_unit, monetary=amount_col is not None)
