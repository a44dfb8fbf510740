"""Per-period forecasts: expected purchases in each week or month of a horizon, per customer and in total.

A fitted transaction model gives the expected number of repeat purchases in
the next ``t`` time units, conditional on a customer's history,
``E[X(T, T + t) | x, t_x, T]`` (``model.expected_purchases``; BG/NBD: Fader,
Hardie & Lee 2005, eq. 10; MBG/NBD: Batislam, Denizel & Filiztekin 2007;
Pareto/NBD: Schmittlein, Morrison & Colombo 1987 / Fader & Hardie's 2005
derivation note; GGom/NBD: Bemmaor & Glady 2012; BG/BB: Fader, Hardie & Shang
2010, in opportunities). The forecast for the period ``(t_{k-1}, t_k]`` after
the end of the customer's observation is the difference

``E[X(T, T + t_k)] - E[X(T, T + t_{k-1})]``,  ``t_0 = 0``,

so the periods add up to the whole horizon exactly (up to rounding) and each
is >= 0. The aggregate is the sum over customers; its interval comes from
the parameter draws of :mod:`segwork.clv.intervals`, for the expected totals
(``kind="confidence"``) or for the totals that will happen
(``kind="prediction"``, with the customers' own purchase noise simulated).

The calendar-time tracking of a cohort, actual vs model, is
:func:`segwork.clv.validation.cumulative_repeat_transactions` (cumulative) and
:func:`incremental_repeat_transactions` here (per period, the differences of
the cumulative one: one computation for both).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import check_level, renamed_keywords
from ..errors import DataError
from ..features.rfm import TIME_UNITS
from .intervals import check_kind, check_kind_without_interval, sampled_models
from .validation import cumulative_repeat_transactions

__all__ = ["expected_purchases_by_period", "aggregate_purchases_by_period", "incremental_repeat_transactions"]


def _period_ends(where: str, periods, period_length) -> np.ndarray:
    """Period ends ``t_1 < t_2 < ...`` (> 0) from a count or a sequence; DataError otherwise."""
    if np.ndim(periods) == 0:
        try:
            count = int(periods)
        except (TypeError, ValueError):
            count = -1
        if count != periods or count < 1:
            raise DataError(f"{where}: periods must be a whole number >= 1 (how many periods of period_length) or "
                            f"an increasing list of period ends, got {periods!r}")
        try:
            length = float(period_length)
        except (TypeError, ValueError):
            length = float("nan")
        if not (np.isfinite(length) and length > 0):
            raise DataError(f"{where}: period_length must be a positive time in the model's unit (e.g. 1 week, "
                            f"or 52 / 12 weeks for months), got {period_length!r}")
        return length * np.arange(1, count + 1, dtype=np.float64)
    try:
        ends = np.asarray(periods, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{where}: periods must be numbers (period ends in the model's time unit)") from None
    if ends.size == 0 or not np.isfinite(ends).all() or (ends <= 0).any() or (np.diff(ends) <= 0).any():
        raise DataError(f"{where}: period ends must be finite, > 0 and strictly increasing (time after the end of "
                        f"each customer's observation, in the model's unit), got {ends.tolist()!r}")
    return ends


def _history_frame(where: str, frequency, recency, T) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    index = next((v.index for v in (frequency, recency, T) if isinstance(v, pd.Series)), None)
    try:
        cols = np.broadcast_arrays(*(np.asarray(v.to_numpy() if isinstance(v, pd.Series) else v, dtype=np.float64)
                                     for v in (frequency, recency, T)))
    except (TypeError, ValueError):
        raise DataError(f"{where}: frequency, recency and T must be numbers with one value per customer") from None
    x, tx, t = (c.reshape(-1) for c in cols)
    if index is None or len(index) != len(x):
        index = pd.RangeIndex(len(x), name="customer_id")
    return index, x, tx, t


def _cumulative(model, ends, x, tx, T, covariates, given=None) -> np.ndarray:
    """``E[X(T, T + t_k)]`` for every customer (rows) and period end (columns), shape ``(n, K)``.

    The first period end is computed on the histories as ``given`` (the model checks them there and names
    an offending customer by its index label; Series keep their index, which matches the covariates'
    rows). Without covariates the other period ends are computed once per distinct history ``(x, t_x, T)``.
    """
    given = given if given is not None else (x, tx, T)
    if covariates is None:
        first = np.asarray(model.expected_purchases(ends[0], *given), dtype=np.float64).reshape(-1)
        codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([x, tx, T]))
        ux, utx, uT = (np.asarray(uniq.get_level_values(i), dtype=np.float64) for i in range(3))
        rest = [np.asarray(model.expected_purchases(t, ux, utx, uT), dtype=np.float64).reshape(-1)[codes]
                for t in ends[1:]]
        return np.column_stack([first, *rest])
    x, tx, T = given
    return np.column_stack([np.asarray(model.expected_purchases(t, x, tx, T, covariates), dtype=np.float64)
                            .reshape(-1) for t in ends])


def _increments(cum: np.ndarray) -> np.ndarray:
    """Per-period values from cumulative ones (first column: from 0); rounding below 0 is set to 0."""
    return np.maximum(np.diff(cum, axis=1, prepend=0.0), 0.0)


def expected_purchases_by_period(model, frequency, recency, T, periods, *, period_length=1.0,
                                 covariates=None) -> pd.DataFrame:
    """Expected repeat purchases of each customer in each period of a horizon after its history.

    Parameters
    ----------
    model: a fitted transaction model (``BetaGeo``, ``ModifiedBetaGeo``,
        ``ParetoNBD``, ``GGomNBD``; ``BetaGeoBetaBinom`` with ``T`` the
        opportunities observed and periods in opportunities).
    frequency, recency, T: the customers' histories, as for
        ``model.expected_purchases`` (Series indexed by customer_id, arrays
        or scalars), in the model's time unit.
    periods: the number of periods (each ``period_length`` long) or an
        increasing list of period ends ``t_1 < t_2 < ...``, in the model's
        time unit counted from each customer's ``T`` (the end of its
        observation), e.g. ``52`` (weeks of a year for a model in weeks) or
        ``12`` with ``period_length=52 / 12`` (months in weeks).
    period_length: length of one period when ``periods`` is a count.
    covariates: the customers' covariates, for (and only for) a model
        fitted with covariates.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (the index of the input Series, or
    0..n-1), one float column per period, named by the period end ``t_k``
    (column index named ``period_end``); the value is
    ``E[X(T, T + t_k)] - E[X(T, T + t_{k-1})]`` (``t_0 = 0``), the expected
    repeat purchases in that period given the history (BG/NBD: Fader,
    Hardie & Lee 2005, eq. 10; see the module docstring for the others).
    Rows sum to ``model.expected_purchases(t_K, ...)``; every value is >= 0.

    Raises
    ------
    DataError: periods that are not > 0 and increasing, a bad
        ``period_length``, or a history the model refuses (as ``fit`` would).
    NotFittedError: the model is not fitted.
    """
    where = "expected_purchases_by_period"
    ends = _period_ends(where, periods, period_length)
    index, x, tx, t = _history_frame(where, frequency, recency, T)
    values = _increments(_cumulative(model, ends, x, tx, t, covariates, (frequency, recency, T)))
    return pd.DataFrame(values, index=index, columns=pd.Index(ends, name="period_end"))


@renamed_keywords(seed="random_state")
def aggregate_purchases_by_period(model, frequency, recency, T, periods, *, period_length=1.0, covariates=None,
                                  interval=None, kind="confidence", n_draws=200, random_state=0) -> pd.DataFrame:
    """Expected repeat purchases of all the given customers together, in each period of a horizon.

    The column sums of :func:`expected_purchases_by_period` (same
    parameters), with their running total.

    ``interval=0.9``: adds ``lower`` / ``upper`` (per period) and
    ``cumulative_lower`` / ``cumulative_upper``, a 90 % interval of the kind
    ``kind`` from ``n_draws`` parameter draws from the fit's asymptotic
    distribution (seeded by ``random_state``, old name ``seed`` deprecated; :mod:`segwork.clv.intervals`):

    * ``kind="confidence"`` (the default, as before): for the *expected*
      totals, the central 90 % of the aggregate recomputed per draw
      (parameter uncertainty only);
    * ``kind="prediction"``: for the purchases that will actually be made:
      per draw every customer's future is simulated once
      (:meth:`~segwork.clv.transaction.TransactionModel.simulate_purchases`)
      and summed, so the interval also holds the customers' purchase and
      dropout noise, which for a few thousand customers is as large as the
      parameter uncertainty. Its ends are simulated totals (whole numbers).

    Returns
    -------
    DataFrame indexed by ``period_end`` (``t_k``, time after each customer's
    ``T`` in the model's unit) with ``period_start`` (``t_{k-1}``),
    ``expected_purchases`` (sum over customers in that period) and
    ``cumulative`` (sum up to ``t_k``), plus the interval columns.

    Raises
    ------
    DataError: as :func:`expected_purchases_by_period`; a bad ``interval``.
    ConvergenceError: an interval was asked for but the fit has no
        covariance (singular observed information).
    """
    where = "aggregate_purchases_by_period"
    ends = _period_ends(where, periods, period_length)
    index, x, tx, t = _history_frame(where, frequency, recency, T)
    given = (frequency, recency, T)
    per_period = _increments(_cumulative(model, ends, x, tx, t, covariates, given)).sum(axis=0)
    out = pd.DataFrame({"period_start": np.r_[0.0, ends[:-1]], "expected_purchases": per_period,
                        "cumulative": np.cumsum(per_period)}, index=pd.Index(ends, name="period_end"))
    if interval is None:
        check_kind_without_interval(where, kind)
        return out
    level = check_level(where, interval)
    q = [(1 - level) / 2, (1 + level) / 2]
    if check_kind(where, kind) == "prediction":
        cum = np.stack([sim.sum(axis=1) for sim in model.simulate_purchase_draws(ends, *given, covariates,
                                                                                 n_draws=n_draws, random_state=random_state)])
        out["lower"], out["upper"] = np.quantile(np.diff(cum, axis=1, prepend=0), q, axis=0, method="inverted_cdf")
        out["cumulative_lower"], out["cumulative_upper"] = np.quantile(cum, q, axis=0, method="inverted_cdf")
        return out
    draws = np.stack([_increments(_cumulative(m, ends, x, tx, t, covariates, given)).sum(axis=0)
                      for m in sampled_models(model, n_draws, random_state)])
    out["lower"], out["upper"] = np.quantile(draws, q, axis=0)
    out["cumulative_lower"], out["cumulative_upper"] = np.quantile(np.cumsum(draws, axis=1), q, axis=0)
    return out


def incremental_repeat_transactions(transactions: pd.DataFrame, model, **kwargs) -> pd.DataFrame:
    """Repeat purchases of the cohort in each calendar period, actual vs the model (the incremental tracking plot).

    The per-period counterpart of
    :func:`segwork.clv.validation.cumulative_repeat_transactions` (same
    parameters: ``calibration_end``, ``observation_end``, ``time_unit``,
    ``customer_col``, ``date_col``), computed as the differences of its
    cumulative curves, so the two always agree. The model's values are
    unconditional (``expected_purchases_new`` from each customer's first
    purchase), as there.

    Returns
    -------
    DataFrame, one row per period, with ``period_start`` and ``date`` (the
    period's end; periods are ``(period_start, date]``, one ``time_unit``
    each from the cohort's first purchase; the last one ends at the
    observation end and can be shorter), ``t`` (time units from the cohort's
    first purchase to the period end), ``length`` (the period's length in
    time units), ``actual`` and ``predicted`` (repeat purchases in the
    period) and ``period`` (``"holdout"`` when the period ends after the
    calibration end, so a period holding the calibration end counts as
    holdout; ``"calibration"`` otherwise).

    Raises
    ------
    DataError: as :func:`~segwork.clv.validation.cumulative_repeat_transactions`.
    """
    cum = cumulative_repeat_transactions(transactions, model, **kwargs)
    unit = TIME_UNITS[kwargs.get("time_unit", "weeks")]
    # whole periods from the cohort's first purchase, and the observation end (the cumulative table also
    # has the calibration end, which would split a period in two: the split is dropped here)
    t_all = cum["t"].to_numpy()
    keep = np.abs(t_all - np.round(t_all)) < 1e-9
    keep[-1] = True
    cum = cum[keep]
    t = cum["t"].to_numpy()
    start = cum["date"].iloc[0] - pd.Timedelta(days=float(t[0]) * unit)
    return pd.DataFrame({
        "period_start": pd.to_datetime(np.r_[np.datetime64(start, "ns"), cum["date"].to_numpy()[:-1]]),
        "date": cum["date"].to_numpy(),
        "t": t,
        "length": np.diff(t, prepend=0.0),
        "actual": np.diff(cum["actual"].to_numpy(), prepend=0.0),
        "predicted": np.diff(cum["predicted"].to_numpy(), prepend=0.0),
        "period": cum["period"].to_numpy(),
    })
