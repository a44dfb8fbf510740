"""The planted defection world of ``make_crm(..., defection=True)``: a time-varying Pareto/NBD with known drivers.

Why customers leave is planted here, so that the defection analyses (static
and time-varying covariate models, the survival cross-check, per-customer
reasons) can be checked against a known truth. The process is the Pareto/NBD
with time-varying covariates of Bachmann, Meierer & Näf (2021), "The role of
time-varying contextual factors in latent attrition models for customer base
analysis", *Marketing Science* 40(4) (CLVTools' ``pnbd`` with dynamic
covariates), with rates constant within each week of the grid.

The process (time in weeks; week ``k`` of the grid is the 7 days from
``start + 7k days``; customer ``i``'s clock starts at the start of its
acquisition day, the day of its first purchase, and the window ends at the
end of the ``end`` day):

* **Baseline rates**, one gamma each for the whole base (not per segment, so
  a Pareto/NBD with these covariates is correctly specified):
  ``lambda0_i ~ Gamma(r, rate alpha)`` purchases per week and
  ``mu0_i ~ Gamma(s, rate beta)`` dropouts per week, independent
  (:data:`HETEROGENEITY`).
* **Drivers** multiply the rates: in week ``k``
  ``lambda_i(k) = lambda0_i exp(b' x_i + b_tv' z_i(k))`` and
  ``mu_i(k) = mu0_i exp(g' x_i + g_tv' z_i(k))``, where ``x_i`` are the
  static drivers (one-hot columns of :data:`STATIC_DRIVERS`, reference level
  first in sorted order as ``OneHotEncoder(drop="first")`` names them) and
  ``z_i(k)`` the time-varying ones of week ``k`` (:data:`TIME_VARYING_DRIVERS`).
  The multipliers ``exp(.)`` are in :func:`planted_effects`.
* **Dropout**: a continuous-time hazard. With ``H_i(t)`` the integral of
  ``mu_i`` from the acquisition to ``t`` (a sum of week rate x exposed part
  of the week, in weeks) and ``E_i ~ Exp(1)``, the customer leaves at the
  first ``tau_i`` with ``H_i(tau_i) = E_i`` (solved exactly inside the week
  where it happens), so ``P(alive at t | path) = exp(-H_i(t))`` and, over
  ``mu0_i``, ``P(alive at t) = (beta / (beta + A_i(t)))^s`` with ``A_i(t)`` the
  integral of ``exp(g' x_i + g_tv' z_i(u))``.
* **Purchases**: the first purchase on the acquisition day, then an
  inhomogeneous Poisson process at rate ``lambda_i(t)`` while alive, up to
  the end of the window: in each week of the grid the count is
  ``Poisson(lambda_i(k) x alive part of the week in weeks)`` and the times are
  uniform in that alive part; a purchase is dated on the day its time falls
  in (so nobody buys after their ``dropout_date``).
* **Time-varying drivers** (exogenous: drawn independently of ``mu0``,
  ``lambda0``, ``E`` and the alive state, so they are valid covariates), from
  the week of the first purchase through the week that contains ``end``:
  ``open_complaint``: a new complaint starts with probability
  :data:`COMPLAINT_ONSET` per customer-week and stays open a
  Geometric(1 / :data:`COMPLAINT_MEAN_WEEKS`) number of weeks (its first
  week included); a week is open when any complaint is, so ``l`` weeks after
  the first week it is open with probability
  ``1 - prod_{j=0..l} (1 - q (1 - 1/m)^j)`` (``q`` the onset, ``m`` the mean).
  ``marketing_contact``: customers with ``email_opt_in`` are contacted in a
  random :data:`CONTACT_SHARE` of their weeks, others never.
* **Exit survey**: :data:`EXIT_SURVEY_SHARE` of the customers who left
  answer; their stated reason is :data:`EXIT_REASONS` of their
  ``top_planted_reason`` with probability :data:`STATED_TOP_REASON`, else one
  of the other texts (:data:`EXIT_REASONS` values and :data:`NO_REASON`)
  uniformly.

Heterogeneity (:data:`HETEROGENEITY`, weeks): ``r = 1.2, alpha = 5.5``: the
mean baseline purchase rate ``r / alpha`` is 0.22 per week; with the region
and contact multipliers the live customer-weeks buy at about 0.25 per week;
``r`` near 1 keeps a spread of rates as wide as that of the planted segments
(occasional gifters to bargain hunters). ``s = 2.0, beta = 450``: the mean
baseline dropout rate is 0.0044 per week and the mean baseline lifetime
``beta / (s - 1) = 450`` weeks (``s > 1`` so it is finite; a customer without
a contract, x2.0, expects half that). With the dropout multipliers (70 %
without a contract, social x1.6, tv x1.3, open complaints x4.0) about 39 % of
the customers have left by the end of the default two-year window (customers
are acquired over its first 80 %; measured on ``make_crm(20000,
random_state=0, defection=True)``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import require_columns
from .errors import DataError

__all__ = [
    "HETEROGENEITY",
    "STATIC_DRIVERS",
    "TIME_VARYING_DRIVERS",
    "COMPLAINT_ONSET",
    "COMPLAINT_MEAN_WEEKS",
    "CONTACT_SHARE",
    "EXIT_SURVEY_SHARE",
    "STATED_TOP_REASON",
    "EXIT_REASONS",
    "NO_REASON",
    "DefectionWorld",
    "contract_type",
    "planted_effects",
    "simulate_defection",
]

#: Gamma heterogeneity of the baseline rates, per week: lambda0 ~ Gamma(r, rate alpha), mu0 ~ Gamma(s, rate beta).
HETEROGENEITY: dict[str, float] = {"r": 1.2, "alpha": 5.5, "s": 2.0, "beta": 450.0}

#: Static drivers: column of ``customers`` -> (reference level, {other level: (dropout multiplier, purchase
#: multiplier)}). Every other level is listed (1.0 = no effect); the reference is the first level in sorted order.
STATIC_DRIVERS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "contract": ("annual", {"none": (2.0, 1.0)}),
    "acquisition_channel": ("email", {"referral": (1.0, 1.0), "search": (1.0, 1.0), "social": (1.6, 1.0),
                                      "tv": (1.3, 1.0)}),
    "region": ("central", {"east": (1.0, 1.0), "north": (1.0, 1.0), "south": (1.0, 1.3), "west": (1.0, 1.0)}),
}
#: Time-varying drivers (0/1 per customer-week): name -> (dropout multiplier, purchase multiplier) while it is 1.
TIME_VARYING_DRIVERS: dict[str, tuple[float, float]] = {
    "open_complaint": (4.0, 0.8),
    "marketing_contact": (1.0, 1.5),
}
#: P(a new complaint starts) per customer-week.
COMPLAINT_ONSET = 0.015
#: Mean number of weeks a complaint stays open (geometric, at least its first week).
COMPLAINT_MEAN_WEEKS = 3.0
#: Share of the weeks in which a customer with ``email_opt_in`` gets a marketing contact.
CONTACT_SHARE = 0.25
#: Share of the customers who left that answer the exit survey.
EXIT_SURVEY_SHARE = 0.4
#: P(the stated exit reason is the text of the customer's top planted reason).
STATED_TOP_REASON = 0.6
#: The plain-word exit reason of each driver that can be a customer's top planted reason ("none": no driver raised
#: their dropout).
EXIT_REASONS: dict[str, str] = {
    "open_complaint": "my complaint was not resolved",
    "contract[none]": "nothing kept me: I had no contract",
    "acquisition_channel[social]": "I only came for an offer I saw on social media",
    "acquisition_channel[tv]": "I only came for an offer I saw on TV",
    "none": "my needs changed",
}
#: The stated reason of an exit-survey answer that gives none.
NO_REASON = "no reason given"


@dataclass(frozen=True)
class DefectionWorld:
    """What :func:`simulate_defection` draws, for ``make_crm`` to turn into a :class:`segwork.datasets.Dataset`.

    Attributes
    ----------
    customer, day: one entry per purchase (the first purchase included): the
        customer's row position in ``customers`` and the day number from
        ``start`` (int arrays, unsorted).
    truth: indexed by ``customer_id`` (the order of ``customers``):
        ``purchase_rate`` (lambda0, per week), ``dropout_rate`` (mu0, per week),
        ``alive`` (bool, not left by the end of the window), ``dropout_date``
        (day of leaving, NaT when alive), ``top_planted_reason`` (str).
    dynamic_covariates: ``customer_id`` (str), ``period_start`` (datetime),
        ``open_complaint``, ``marketing_contact`` (0/1 float); one row per
        customer and week, sorted by customer and week.
    exit_survey: ``customer_id``, ``exit_date``, ``stated_reason``, sorted by customer.
    planted_effects: see :func:`planted_effects`.
    """

    customer: np.ndarray
    day: np.ndarray
    truth: pd.DataFrame
    dynamic_covariates: pd.DataFrame
    exit_survey: pd.DataFrame
    planted_effects: pd.DataFrame


def contract_type(contract_end: pd.Series) -> pd.Series:
    """The static driver ``contract``: ``"annual"`` where a contract end date is known, else ``"none"``.

    ``contract_end`` is ``make_crm``'s column (NaT for the 70 % without a
    contract). Returns a categorical Series (categories ``annual``, ``none``)
    with the same index.
    """
    levels = np.where(contract_end.notna().to_numpy(), "annual", "none")
    return pd.Series(pd.Categorical(levels, categories=["annual", "none"]), index=contract_end.index)


def planted_effects() -> pd.DataFrame:
    """The planted multipliers, one row per driver level (reference excluded) and process.

    Columns: ``driver`` (the design column name, ``"contract[none]"``,
    ``"open_complaint"``), ``process`` (``"dropout"`` / ``"purchase"``; both
    for every driver), ``multiplier`` (float, 1.0 = no effect) and ``kind``
    (``"static"`` / ``"time-varying"``). ``attrs["heterogeneity"]`` holds
    :data:`HETEROGENEITY` (r, alpha, s, beta, per week).
    """
    rows = []
    for column, (_reference, levels) in STATIC_DRIVERS.items():
        for level, multipliers in levels.items():
            rows += [(f"{column}[{level}]", process, m, "static") for process, m in zip(("dropout", "purchase"),
                                                                                      multipliers)]
    for name, multipliers in TIME_VARYING_DRIVERS.items():
        rows += [(name, process, m, "time-varying") for process, m in zip(("dropout", "purchase"), multipliers)]
    frame = pd.DataFrame(rows, columns=["driver", "process", "multiplier", "kind"])
    frame.attrs["heterogeneity"] = dict(HETEROGENEITY)
    return frame


def _static_log_multipliers(customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list]:
    """Per customer: summed log dropout and log purchase multipliers, and (driver name, log dropout) per column."""
    n = len(customers)
    log_drop, log_buy, per_column = np.zeros(n), np.zeros(n), []
    for column, (reference, levels) in STATIC_DRIVERS.items():
        values = customers[column].astype(str).to_numpy()
        known = {reference, *levels}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataError(f"simulate_defection: column {column!r} has the level {unknown[0]!r}; the planted "
                            f"drivers know {sorted(known)} (see segwork.defection_data.STATIC_DRIVERS)")
        table = {reference: (1.0, 1.0), **levels}
        drop = np.log(np.array([table[v][0] for v in values]))
        log_drop += drop
        log_buy += np.log(np.array([table[v][1] for v in values]))
        per_column.append((np.char.add(f"{column}[", np.char.add(values.astype(str), "]")).astype(object), drop))
    return log_drop, log_buy, per_column


def simulate_defection(customers: pd.DataFrame, *, start, end,
                       random_state: int | np.random.Generator = 0) -> DefectionWorld:
    """Draw the planted defection world (see the module docstring) for ``customers``.

    Parameters
    ----------
    customers: one row per customer with ``customer_id``, ``signup_date``
        (the acquisition day, when the first purchase happens; within the
        window), ``email_opt_in`` (bool) and the static driver columns of
        :data:`STATIC_DRIVERS` (``contract``: see :func:`contract_type`).
    start, end: the observation window (inclusive days).
    random_state: seed or numpy Generator; every draw of the world comes from it
        (``make_crm`` passes ``default_rng([random_state, 2])``).

    Returns
    -------
    :class:`DefectionWorld`. Memory and time grow with customers x weeks
    (about 1 s for 20,000 customers x 105 weeks).

    Raises
    ------
    DataError: a column is missing, a static driver has an unknown level, or
        a signup date lies outside the window.
    """
    require_columns(customers, ["customer_id", "signup_date", "email_opt_in", *STATIC_DRIVERS],
                    "simulate_defection", "pass make_crm's customers with the contract column (contract_type)",
                    what="customers")
    rng = np.random.default_rng(random_state)
    start_ts, end_ts = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    span_days = (end_ts - start_ts).days + 1
    n_weeks = (span_days - 1) // 7 + 1  # through the week that contains `end`
    first_day = (customers["signup_date"] - start_ts).dt.days.to_numpy()
    outside = (first_day < 0) | (first_day >= span_days)
    if outside.any():
        raise DataError(f"simulate_defection: signup_date {customers['signup_date'].iloc[np.argmax(outside)]} "
                        f"of customer {customers['customer_id'].iloc[np.argmax(outside)]} lies outside the window "
                        f"{start_ts.date()}..{end_ts.date()}")
    n = len(customers)
    ids = customers["customer_id"].astype(str).to_numpy(dtype=object)
    h = HETEROGENEITY
    lambda0 = rng.gamma(h["r"], 1.0 / h["alpha"], n)
    mu0 = rng.gamma(h["s"], 1.0 / h["beta"], n)

    # The weekly grid: week k is [7k, 7k + 7) days, cut to the window; a customer's weeks start at its first purchase.
    weeks = np.arange(n_weeks)
    active = weeks[None, :] >= (first_day // 7)[:, None]
    lo = np.maximum(7.0 * weeks[None, :], first_day[:, None])          # start of the exposed part (day)
    hi = np.minimum(7.0 * weeks + 7.0, float(span_days))[None, :]      # its end (day)
    exposure = np.clip(hi - lo, 0.0, None) / 7.0                       # weeks

    # Time-varying drivers, independent of everything else.
    onset = (rng.random((n, n_weeks)) < COMPLAINT_ONSET) & active
    lasts = rng.geometric(1.0 / COMPLAINT_MEAN_WEEKS, size=(n, n_weeks))
    complaint = np.maximum.accumulate(np.where(onset, weeks + lasts, -1), axis=1) > weeks
    del onset, lasts
    opted_in = customers["email_opt_in"].astype(bool).to_numpy()
    contact = (rng.random((n, n_weeks)) < CONTACT_SHARE) & opted_in[:, None] & active
    z = {"open_complaint": complaint, "marketing_contact": contact}

    static_drop, static_buy, per_column = _static_log_multipliers(customers)
    log_drop, log_buy = static_drop[:, None] + np.zeros(n_weeks), static_buy[:, None] + np.zeros(n_weeks)
    for name, (m_drop, m_buy) in TIME_VARYING_DRIVERS.items():
        log_drop += np.log(m_drop) * z[name]
        log_buy += np.log(m_buy) * z[name]

    # Dropout: the first time the cumulative hazard reaches an Exp(1) draw.
    mu = mu0[:, None] * np.exp(log_drop)
    hazard = np.cumsum(mu * exposure, axis=1)
    threshold = rng.exponential(size=n)
    left = hazard[:, -1] >= threshold
    rows = np.arange(n)
    k_out = np.where(left, np.argmax(hazard >= threshold[:, None], axis=1), n_weeks - 1)
    before = hazard[rows, k_out] - mu[rows, k_out] * exposure[rows, k_out]
    tau = np.where(left, lo[rows, k_out] + 7.0 * (threshold - before) / mu[rows, k_out], np.inf)
    tau = np.minimum(tau, np.where(left, hi[0, k_out], np.inf))  # rounding: inside its week
    del hazard, mu

    # Purchases: Poisson counts per week over the alive part, uniform times within it.
    alive_hi = np.minimum(hi, tau[:, None])
    alive_width = np.clip(alive_hi - lo, 0.0, None)
    counts = rng.poisson(lambda0[:, None] * np.exp(log_buy) * alive_width / 7.0)
    who, week = np.nonzero(counts)
    repeat = counts[who, week]
    customer = np.repeat(who, repeat)
    time = np.repeat(lo[who, week], repeat) + rng.random(customer.size) * np.repeat(alive_width[who, week], repeat)
    day = np.minimum(np.floor(time).astype(np.int64), span_days - 1)
    customer = np.concatenate([rows, customer])
    day = np.concatenate([first_day.astype(np.int64), day])

    # The top planted reason: the largest log dropout multiplier acting at the dropout time (or at the end).
    names = np.column_stack([column_names for column_names, _ in per_column]
                            + [np.full(n, name, dtype=object) for name in TIME_VARYING_DRIVERS])
    logs = np.column_stack([column_logs for _, column_logs in per_column]
                           + [np.log(m_drop) * z[name][rows, k_out] for name, (m_drop, _) in TIME_VARYING_DRIVERS.items()])
    best = np.argmax(logs, axis=1)
    top = np.where(logs[rows, best] > 0, names[rows, best], "none").astype(object)

    dropout_day = np.where(left, np.floor(np.where(left, tau, 0.0)), 0).astype(np.int64)
    dropout_date = pd.Series(start_ts + pd.to_timedelta(dropout_day, unit="D")).where(left)
    index = pd.Index(ids.astype(str), name="customer_id")
    truth = pd.DataFrame({"purchase_rate": lambda0, "dropout_rate": mu0, "alive": ~left,
                          "dropout_date": dropout_date.to_numpy(), "top_planted_reason": pd.array(top, dtype=str)},
                         index=index)

    who, week = np.nonzero(active)
    dynamic = pd.DataFrame({
        "customer_id": pd.Series(ids[who], dtype=str),
        "period_start": start_ts + pd.to_timedelta(7 * week, unit="D"),
        "open_complaint": complaint[who, week].astype(float),
        "marketing_contact": contact[who, week].astype(float),
    })
    return DefectionWorld(customer=customer, day=day, truth=truth, dynamic_covariates=dynamic,
                          exit_survey=_exit_survey(rng, ids, left, dropout_date, top),
                          planted_effects=planted_effects())


def _exit_survey(rng, ids, left, dropout_date, top) -> pd.DataFrame:
    """Answers of a random EXIT_SURVEY_SHARE of the customers who left (see the module docstring)."""
    answers = np.flatnonzero(left & (rng.random(ids.size) < EXIT_SURVEY_SHARE))
    texts = np.array([*EXIT_REASONS.values(), NO_REASON], dtype=object)
    true_text = np.array([EXIT_REASONS[t] for t in top[answers]], dtype=object)
    true_pos = np.array([list(texts).index(t) for t in true_text], dtype=np.int64)
    # another text uniformly: shift the true one's position by 1..len-1
    other = texts[(true_pos + rng.integers(1, texts.size, size=answers.size)) % texts.size]
    stated = np.where(rng.random(answers.size) < STATED_TOP_REASON, true_text, other)
    return pd.DataFrame({
        "customer_id": pd.Series(ids[answers], dtype=str),
        "exit_date": dropout_date.to_numpy()[answers],
        "stated_reason": pd.Series(stated, dtype=str),
    })
