"""Customer lifetime value: discounted expected margin from a transaction and a spend model.

CLV is "a prediction of the net profit attributed to the entire future
relationship with a particular customer". Here it is computed over a finite
``horizon`` in months, month by month:

``CLV = margin * sum_{i=1..horizon} spend * (E[X(t_i)] - E[X(t_{i-1})]) / (1 + d)^i``

* ``E[X(t)]`` is the transaction model's expected number of purchases in the
  next ``t`` time units given the customer's history (``expected_purchases``);
* ``t_i`` is the end of month ``i`` in the model's time unit: one month is
  ``365.25 / 12 = 30.4375`` days, i.e. ``4.348`` weeks;
* ``spend`` is the spend model's expected value per purchase
  (``GammaGamma.expected_spend``), in the data's currency;
* ``d`` is the discount rate *per month*; purchases in month ``i`` are
  discounted by ``(1 + d)^i`` (end of month);
* ``margin`` is the share of revenue that is profit (:data:`segwork.clv.margin.DEFAULT_MARGIN`
  = 0.3 unless given; 1 = expected revenue, not a CLV: :func:`segwork.clv.margin.value_label`).

Heavy-tailed spend
------------------
When the Gamma-Gamma fit finds ``q <= 1`` the population mean spend
``p v / (q - 1)`` is infinite, so the model's expected spend is undefined for
every customer without a repeat purchase (and, when ``p x + q <= 1``, for
repeat buyers with few purchases). :func:`customer_lifetime_value` then keeps
going with a stated fallback (:data:`SPEND_FALLBACK`) and one ``UserWarning``
that says how many customers got which value:

* customers without a repeat purchase get the **median** observed mean spend
  (``monetary_value``) of the repeat buyers of ``summary`` with a positive
  spend: a finite, robust stand-in for the infinite population mean, in the
  slot the population mean takes in the Gamma-Gamma formula;
* repeat buyers whose expected spend is undefined get their own observed mean
  spend of repeat purchases (``monetary_value``).

Everyone else keeps the Gamma-Gamma expected spend, so data with ``q > 1``
give exactly the same CLV as without the fallback.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from .margin import DEFAULT_MARGIN
from .._checks import check_level, check_number, renamed_keywords, require_columns
from ..errors import DataError
from ..features.rfm import TIME_UNITS
from .base import compress
from .transaction import check_history

__all__ = ["customer_lifetime_value", "historical_value", "new_customer_value", "DAYS_PER_MONTH", "SPEND_FALLBACK",
           "MAX_HORIZON_MONTHS"]

#: Days per month used to turn the horizon in months into model time units.
DAYS_PER_MONTH = 365.25 / 12

#: The longest CLV horizon, in months (100 years): the work and memory grow with the horizon (one
#: evaluation of the transaction model per month and distinct history), and no customer relationship is
#: valued beyond a lifetime. The service's WSDL states the same limit.
MAX_HORIZON_MONTHS = 1200

#: What customer_lifetime_value does where the Gamma-Gamma expected spend is undefined (q <= 1).
SPEND_FALLBACK = ("customers without a repeat purchase get the median observed mean spend of the repeat buyers; "
                  "repeat buyers whose expected spend is undefined get their own observed mean spend")


def _heavy_tail_spend(spend: np.ndarray, x: np.ndarray, m: np.ndarray, params: dict, where: str) -> np.ndarray:
    """The expected spend with :data:`SPEND_FALLBACK` where Gamma-Gamma's is undefined (q <= 1), and one warning."""
    undefined = ~np.isfinite(spend)
    repeat = (x > 0) & (m > 0)
    own = undefined & (x > 0)
    others = undefined & ~own
    if others.any() and not repeat.any():
        raise DataError(f"{where}: the Gamma-Gamma spend model has q = {params['q']:.3g} <= 1 (infinite population "
                        "mean spend), so customers without a repeat purchase have no expected spend, and the summary "
                        "has no repeat buyer whose median spend could stand in; pass the summary the model was "
                        "fitted on, or a constant spend per purchase as spend_model")
    median = float(np.median(m[repeat])) if repeat.any() else float("nan")
    out = np.where(own, m, spend)
    out = np.where(others, median, out)
    warnings.warn(
        f"{where}: the Gamma-Gamma spend model has q = {params['q']:.3g} <= 1 (p = {params['p']:.3g}): spend is "
        f"so heavy-tailed that the population mean spend is infinite and the expected spend of "
        f"{int(undefined.sum())} of {x.size} customers is undefined. Their CLV uses a fallback: "
        f"{int(others.sum())} customer(s) without a repeat purchase get the median observed mean spend of the "
        f"repeat buyers ({median:,.2f}); {int(own.sum())} repeat buyer(s) get their own observed mean spend. "
        "Treat their CLV as a rough figure; a longer observation period or capping extreme amounts gives the "
        "spend model more to go on",
        UserWarning, stacklevel=3,
    )
    return out


def _check_settings(where: str, time_unit: str, horizon, margin) -> None:
    """The checks both CLV functions make of their settings: time unit, horizon (whole months, 1 to
    :data:`MAX_HORIZON_MONTHS`) and margin (finite, >= 0); DataError naming the value otherwise."""
    if time_unit not in TIME_UNITS:
        raise DataError(f"{where}: time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)}")
    if not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise DataError(f"{where}: horizon must be a whole number of months >= 1, got {horizon!r}")
    check_number(where, "horizon", horizon, high=MAX_HORIZON_MONTHS, integer=True, unit="months")
    check_number(where, "margin", margin, low=0, unit="share of revenue")


@renamed_keywords(seed="random_state")
def customer_lifetime_value(
    transaction_model,
    spend_model,
    summary: pd.DataFrame,
    horizon: int = 12,
    time_unit: str = "weeks",
    discount_rate: float = 0.01,
    margin: float = DEFAULT_MARGIN,
    covariates: pd.DataFrame | None = None,
    *,
    interval: float | None = None,
    kind: str = "confidence",
    aggregate: bool = False,
    n_draws: int = 200,
    random_state=0,
) -> pd.Series:
    """Discounted expected margin of each customer over the next ``horizon`` months.

    Parameters
    ----------
    transaction_model: a fitted :class:`BetaGeo`, :class:`ModifiedBetaGeo`
        or :class:`ParetoNBD` (anything with
        ``expected_purchases(t, frequency, recency, T)``), fitted on data in
        ``time_unit``.
    spend_model: a fitted :class:`GammaGamma` (anything with
        ``expected_spend(frequency, monetary_value)``), or a number: a
        constant value per purchase. With a Gamma-Gamma ``q <= 1`` the
        customers whose expected spend is undefined get the fallback in the
        module docs (:data:`SPEND_FALLBACK`), with a ``UserWarning``.
    summary: the RFM summary the models describe (columns ``frequency``,
        ``recency``, ``T`` in ``time_unit``, and ``monetary_value`` for a
        spend model), indexed by ``customer_id``.
    horizon: months ahead (whole number >= 1).
    time_unit: the unit of ``recency``/``T`` in ``summary`` and of the
        models' rates: ``"weeks"`` or ``"days"``. A month is 30.4375 days
        (4.348 weeks).
    discount_rate: per month (e.g. 0.01 = 1 % a month, about 12.7 % a year).
    margin: profit share of revenue (default :data:`~segwork.clv.margin.DEFAULT_MARGIN`, 0.3; 1.0 gives
        expected revenue).
    covariates: the customers' covariates (DataFrame indexed by
        customer_id) when the transaction model or the Gamma-Gamma (or both)
        was fitted with covariates; each model fitted with covariates gets
        them (the columns it was fitted with), the other is used as it is.
    interval: e.g. ``0.9``: also return ``lower`` and ``upper``, a 90 %
        interval of the kind ``kind`` from ``n_draws`` joint draws of the
        transaction and spend models' parameters from their asymptotic
        distributions (seeded by ``random_state``, old name ``seed`` deprecated; :mod:`segwork.clv.intervals`).
        ``aggregate=True``: one Series (``clv``, ``lower``, ``upper``) for
        the total over the customers of ``summary`` (e.g. a segment).
    kind: ``"confidence"`` (the default, as before): an interval for the
        *expected* CLV, the central share of the CLV recomputed per draw
        (parameter uncertainty only). ``"prediction"``: an interval for the
        value the customer will actually bring: per draw each customer's
        purchases month by month are simulated from the transaction model
        given the history
        (:meth:`~segwork.clv.transaction.TransactionModel.simulate_purchases`)
        and each purchase's value from the Gamma-Gamma given the customer's
        spend history (:func:`segwork.clv.intervals.simulate_spend`; a
        constant spend stays constant), discounted and times ``margin`` as
        above. Per customer the frame then also has ``coverage``, the share
        of the simulated values inside ``[lower, upper]`` (at least the
        level: a customer who buys nothing in most draws has an interval from
        0, which holds that atom).

    Returns
    -------
    Series ``clv`` indexed like ``summary``, in the data's currency; with
    ``interval`` a DataFrame with ``clv``, ``lower``, ``upper``.

    Raises
    ------
    DataError: an unsupported ``time_unit``, a bad ``horizon`` (not a whole
        number of months from 1 to :data:`MAX_HORIZON_MONTHS` = 1200) or
        ``discount_rate``, a ``margin`` that is negative, NaN or infinite, a missing column, a transaction model without
        ``expected_purchases``; a history the models' ``fit`` refuses
        (recency > T, e.g. recency in days with T in weeks; recency > 0
        without a repeat purchase; negative or missing values), naming the
        customer (:func:`segwork.clv.transaction.check_history`); with
        Gamma-Gamma ``q <= 1``, customers without a repeat purchase in a
        summary that has no repeat buyer to take the median spend from.
    """
    where = "customer_lifetime_value"
    if interval is None:
        from .intervals import check_kind_without_interval

        check_kind_without_interval(where, kind)
    else:
        from .intervals import check_kind, quantile_interval, sampled_models

        check_level(where, interval)
        check_kind(where, kind)
        args = dict(summary=summary, horizon=horizon, time_unit=time_unit, discount_rate=discount_rate,
                    margin=margin, covariates=covariates)
        point = customer_lifetime_value(transaction_model, spend_model, **args)
        s_tx, s_spend, s_sim = np.random.SeedSequence(random_state).spawn(3)  # the first two as before spawn(3) existed
        sp_draws = (sampled_models(spend_model, n_draws, np.random.default_rng(s_spend))
                    if hasattr(spend_model, "_log_params") else [spend_model] * int(n_draws))
        if kind == "prediction":
            return _clv_prediction(where, point, transaction_model, sp_draws, np.random.default_rng(s_tx),
                                   np.random.default_rng(s_sim), interval, aggregate, n_draws, **args)
        tx_draws = sampled_models(transaction_model, n_draws, np.random.default_rng(s_tx))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the point estimate already warned about a fallback
            samples = np.array([customer_lifetime_value(mt, ms, **args).to_numpy()
                                for mt, ms in zip(tx_draws, sp_draws)])
        if aggregate:
            return quantile_interval(where, [point.sum()], samples.sum(axis=1)[:, None], interval, "clv",
                                     index=pd.Index(["total"])).iloc[0]
        return quantile_interval(where, point.to_numpy(), samples, interval, "clv", index=summary.index)
    _check_settings(where, time_unit, horizon, margin)
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise DataError(f"{where}: discount_rate must be a finite rate per month > -1, got {discount_rate!r}")
    needed = ["frequency", "recency", "T"]
    constant_spend = isinstance(spend_model, numbers.Real)
    if not constant_spend:
        needed.append("monetary_value")
    require_columns(summary, needed, where, "build it with segwork.features.rfm_summary", what="summary")
    if not hasattr(transaction_model, "expected_purchases"):
        raise DataError(f"{where}: transaction_model must be a fitted BetaGeo/ModifiedBetaGeo/ParetoNBD")

    # The same check as the models' fit (and every prediction), here naming the customer of the summary.
    x, tx, T, _, _ = check_history(where, summary["frequency"], summary["recency"], summary["T"])
    if constant_spend:
        spend = np.full(len(summary), float(spend_model))
    else:
        spend_cov = {"covariates": covariates} if getattr(spend_model, "covariates_", None) is not None else {}
        spend = np.asarray(spend_model.expected_spend(summary["frequency"], summary["monetary_value"], **spend_cov),
                           dtype=np.float64)
        params = getattr(spend_model, "params_", None)
        if isinstance(params, dict) and params.get("q", np.inf) <= 1 and not np.isfinite(spend).all():
            spend = _heavy_tail_spend(spend, x, summary["monetary_value"].to_numpy(dtype=np.float64), params, where)

    months_per_unit = DAYS_PER_MONTH / TIME_UNITS[time_unit]
    discount = (1.0 + discount_rate) ** np.arange(1, horizon + 1, dtype=np.float64)[:, None]
    tx_cov = getattr(transaction_model, "covariates_", None) is not None
    if tx_cov or (covariates is not None and getattr(spend_model, "covariates_", None) is None):
        # per-customer parameters: month by month on the customers themselves (matched by customer_id)
        cum = np.array([np.asarray(transaction_model.expected_purchases(
            i * months_per_unit, summary["frequency"], summary["recency"], summary["T"], covariates=covariates),
            dtype=np.float64) for i in range(1, horizon + 1)])
        per_month = np.diff(cum, axis=0, prepend=0.0)
        clv = margin * spend * (per_month / discount).sum(axis=0)
        return pd.Series(clv, index=summary.index, name="clv")
    # The expected purchases depend on a customer only through (x, t_x, T): evaluate once per triple.
    data, _ = compress({"x": x, "tx": tx, "T": T}, np.ones(len(x)))
    key = pd.MultiIndex.from_arrays([data["x"], data["tx"], data["T"]])
    rows = key.get_indexer(pd.MultiIndex.from_arrays([x, tx, T]))
    # One call for all months (the model's special functions run once over months x triples).
    t = np.arange(1, horizon + 1, dtype=np.float64)[:, None] * months_per_unit
    cum = np.asarray(transaction_model.expected_purchases(t, data["x"][None, :], data["tx"][None, :],
                                                          data["T"][None, :]), dtype=np.float64)
    cum = np.broadcast_to(cum, (horizon, len(data["x"])))
    per_month = np.diff(cum, axis=0, prepend=0.0)
    value_per_purchase = (per_month / discount).sum(axis=0)  # discounted purchases per triple
    clv = margin * spend * value_per_purchase[rows]
    return pd.Series(clv, index=summary.index, name="clv")


def _clv_prediction(where, point, transaction_model, spend_draws, tx_rng, sim_rng, interval, aggregate, n_draws, *,
                    summary, horizon, time_unit, discount_rate, margin, covariates):
    """The prediction interval of :func:`customer_lifetime_value`: simulated purchases and spend per draw."""
    from .intervals import outcome_interval, simulate_spend

    months_per_unit = DAYS_PER_MONTH / TIME_UNITS[time_unit]
    ends = np.arange(1, horizon + 1, dtype=np.float64) * months_per_unit
    discount = (1.0 + discount_rate) ** np.arange(1, horizon + 1, dtype=np.float64)[:, None]
    tx_cov = covariates if getattr(transaction_model, "covariates_", None) is not None else None
    futures = transaction_model.simulate_purchase_draws(ends, summary["frequency"], summary["recency"], summary["T"],
                                                        tx_cov, n_draws=n_draws, random_state=tx_rng,
                                                        simulation_random_state=sim_rng)
    rows = []
    for cum, ms in zip(futures, spend_draws):
        counts = np.diff(cum, axis=0, prepend=0)
        if isinstance(ms, numbers.Real):
            money = float(ms) * counts
        else:
            scov = covariates if getattr(ms, "covariates_", None) is not None else None
            money = simulate_spend(ms, counts, summary["frequency"], summary["monetary_value"], scov, rng=sim_rng)
        rows.append(margin * (money / discount).sum(axis=0))
    samples = np.array(rows)
    if aggregate:
        return outcome_interval(where, [point.sum()], samples.sum(axis=1)[:, None], interval, "clv",
                                index=pd.Index(["total"]), coverage=False).iloc[0]
    return outcome_interval(where, point.to_numpy(), samples, interval, "clv", index=summary.index)


def historical_value(
    transactions: pd.DataFrame,
    margin: float = DEFAULT_MARGIN,
    *,
    customer_col: str = "customer_id",
    amount_col: str = "amount",
) -> pd.Series:
    """Margin to date per customer: ``margin * sum(amount)`` over all their transactions.

    Returns a Series ``historical_value`` indexed by ``customer_id`` (sorted),
    in the data's currency; a simple, model-free value for value tiers.
    """
    where = "historical_value"
    require_columns(transactions, (customer_col, amount_col), where, what="transactions")
    amount = pd.to_numeric(transactions[amount_col], errors="coerce")
    if amount.isna().any():
        pos = int(np.flatnonzero(amount.isna().to_numpy())[0])
        raise DataError(f"{where}: column {amount_col!r} has a missing or non-numeric value "
                        f"{transactions[amount_col].iloc[pos]!r}; clean with segwork.io.read_transactions")
    out = (amount * margin).groupby(transactions[customer_col].astype(str)).sum().sort_index()
    out.index.name = "customer_id"
    return out.rename("historical_value")


def new_customer_value(
    transaction_model,
    spend_model,
    horizon: int = 12,
    time_unit: str = "weeks",
    discount_rate: float = 0.01,
    margin: float = DEFAULT_MARGIN,
    *,
    acquired_in: int = 0,
    include_first_purchase: bool = True,
    covariates: pd.DataFrame | None = None,
):
    """Expected discounted value of a customer not yet acquired (the unconditional expectation).

    A customer acquired (first purchase) at the end of month ``acquired_in``
    from now, followed for ``horizon`` months after that:

    ``value = margin * spend * [1{first} / (1 + d)^k + sum_{i=1..horizon} (E[X(t_i)] - E[X(t_{i-1})]) / (1 + d)^(k + i)]``

    with ``k = acquired_in``, ``E[X(t)]`` the transaction model's expected
    repeat purchases within ``t`` of the first purchase for a new customer
    (``expected_purchases_new``: BG/NBD eq. 7 of Fader, Hardie & Lee 2005;
    Pareto/NBD: Schmittlein et al. 1987), ``t_i`` the end of month ``i`` in
    the model's time unit (a month is 30.4375 days) and ``spend`` the
    population mean spend per purchase (``GammaGamma.population_mean_spend``)
    or a constant. ``include_first_purchase`` counts the acquisition purchase
    itself (at month ``k``).

    ``covariates``: for a model fitted with covariates (the transaction
    model, the Gamma-Gamma or both), one row per profile (e.g. per
    acquisition channel): returns a Series indexed like it (the value of a
    new customer with those covariates; the Gamma-Gamma's spend is then
    ``population_mean_spend(covariates)``). Otherwise returns a float.

    Raises DataError for a bad horizon, discount rate, time unit or
    ``acquired_in``, or a spend model with an infinite mean spend (q <= 1).
    """
    where = "new_customer_value"
    _check_settings(where, time_unit, horizon, margin)
    if not isinstance(acquired_in, numbers.Integral) or acquired_in < 0:
        raise DataError(f"{where}: acquired_in must be a whole number of months >= 0, got {acquired_in!r}")
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise DataError(f"{where}: discount_rate must be a finite rate per month > -1, got {discount_rate!r}")
    if isinstance(spend_model, numbers.Real):
        spend = float(spend_model)
    else:
        if getattr(spend_model, "covariates_", None) is not None:
            spend = np.asarray(spend_model.population_mean_spend(covariates), dtype=np.float64)
        else:
            spend = float(spend_model.population_mean_spend())
        if not np.isfinite(spend).all():
            raise DataError(f"{where}: the spend model's population mean spend is infinite (Gamma-Gamma q <= 1); "
                            "pass a constant spend per purchase instead")
    months_per_unit = DAYS_PER_MONTH / TIME_UNITS[time_unit]
    # the covariates go to the transaction model when it was fitted with them (or nothing else takes them,
    # so that it says they are not expected)
    tx_cov = covariates is not None and (getattr(transaction_model, "covariates_", None) is not None
                                         or getattr(spend_model, "covariates_", None) is None)
    steps = [transaction_model.expected_purchases_new(i * months_per_unit, covariates=covariates)
             if tx_cov else transaction_model.expected_purchases_new(i * months_per_unit)
             for i in range(1, horizon + 1)]
    cum = np.array([np.asarray(s, dtype=np.float64).reshape(-1) for s in steps])
    per_month = np.diff(cum, axis=0, prepend=0.0)
    k = acquired_in
    discount = (1.0 + discount_rate) ** (k + np.arange(1, horizon + 1, dtype=np.float64))[:, None]
    value = (per_month / discount).sum(axis=0)
    if include_first_purchase:
        value = value + 1.0 / (1.0 + discount_rate) ** k
    value = margin * spend * value
    if covariates is not None:
        return pd.Series(value, index=covariates.index, name="new_customer_value")
    return float(value[0])
