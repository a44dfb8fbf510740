"""Why each customer of a data set may leave, in one table: the one computation behind the retention export and the
service's ExplainDefection.

:func:`explain_defection` takes a data set (and optionally its prepared table
and relationship segmentation, when the caller has them already, as
``segwork models build`` does) and returns a :class:`DefectionExplanation`:
for **every** customer P(alive), the relationship type, the CLV as is (the
value at risk: what is lost if the customer leaves now), the reasons (drivers
that raise the customer's dropout rate, each with its factor and the CLV kept
if it were removed) and, for the customers at risk (Vulnerable, Win-back),
the retention action with the highest retention value (CLV saved minus the
action's assumed cost). :func:`retention_frame` is the ranked list of the
customers at risk, the table ``segwork export retention`` writes.

Two cases, said in :attr:`DefectionExplanation.note`, never mixed in silence:

* **the data has drivers** (profile columns of
  :data:`segwork.act.defection.DEFAULT_STATIC_DRIVERS` and/or the weekly table's
  :data:`~segwork.act.defection.DEFAULT_TIME_VARYING_DRIVERS`): the
  time-varying Pareto/NBD of :func:`segwork.act.fit_defection` gives P(alive)
  and the CLV, :func:`segwork.act.customer_reasons` the reasons (a driver
  counts when its dropout effect is significant at ``alpha`` by the Wald test
  of the model's summary, raises the rate and the customer is not at its
  reference level) and :func:`segwork.act.retention_list` the action;
* **no drivers** (CDNOW, a plain transaction file): P(alive) and CLV of the
  prepared table (the MBG/NBD + Gamma-Gamma of :func:`segwork.prepare_table`),
  no reasons, and for the customers at risk only the action without a driver
  (the win-back contact at its relationship strategy's assumed effect).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..clv.margin import DEFAULT_MARGIN
from .._checks import check_number
from ..errors import DataError
from .defection import DEFAULT_STATIC_DRIVERS, DEFAULT_TIME_VARYING_DRIVERS, DefectionFit, FuturePaths, fit_defection
from .retention import (AT_RISK_TYPES, NO_DRIVER_FOUND_TEXT, RANKING_RULE, RETENTION_SCHEMA, CustomerReasons,
                        customer_reasons, driver_words, rank_retention, retention_list)

__all__ = ["DefectionExplanation", "explain_defection", "explained_customers", "retention_frame", "driver_columns",
           "RETENTION_EXPORT_SCHEMA", "NO_DRIVERS_NOTE", "NO_DRIVERS_REASON", "nobody_at_risk"]

#: The columns of :func:`retention_frame` (``segwork export retention``): :data:`segwork.act.RETENTION_SCHEMA`
#: with every reason of the customer spelt out after the top one.
RETENTION_EXPORT_SCHEMA: dict[str, tuple[str, str, str]] = {}
for _name, _spec in RETENTION_SCHEMA.items():
    RETENTION_EXPORT_SCHEMA[_name] = _spec
    if _name == "reason_multiplier":
        RETENTION_EXPORT_SCHEMA["reasons"] = (
            "string", "", "every reason, strongest first: 'driver x factor (CLV kept if removed)', '; '-separated, "
            "drivers in words; '" + NO_DRIVER_FOUND_TEXT + "' or 'not known: the data has no drivers' otherwise")
del _name, _spec

#: What a data set without drivers can and cannot say (the export prints it, the service's modelNote carries it).
NO_DRIVERS_NOTE = ("no reasons: the data has no drivers (no profile columns {static} and no weekly events {events}); "
                   "P(alive) and the value at risk come from the prepared table's transaction and spend models, and "
                   "the at-risk customers get the action without a driver (the win-back contact at its relationship "
                   "strategy's assumed effect). Reasons need a customer profile or events per week")

#: top_reason and reasons of the retention export when the data has no drivers (no reasons can be given).
NO_DRIVERS_REASON = "not known: the data has no drivers"

#: The columns of DefectionExplanation.customers.
_CUSTOMER_COLUMNS = ("relationship", "at_risk", "p_alive", "clv", "top_reason", "reason_multiplier", "reasons",
                     "action", "clv_saved", "action_cost", "retention_value", "saved_basis")


@dataclass(frozen=True)
class DefectionExplanation:
    """:func:`explain_defection`'s result.

    ``customers``: one row per customer of the data (index ``customer_id``,
    in the prepared table's order), columns ``relationship`` (type),
    ``at_risk`` (bool: Vulnerable or Win-back), ``p_alive``, ``clv`` (margin
    over the horizon as is, the data's currency: the value at risk),
    ``top_reason`` (driver; ``"none"`` when no driver raises the customer's
    dropout rate; ``""`` when the data has no drivers), ``reason_multiplier``,
    ``reasons`` (text, see :data:`RETENTION_EXPORT_SCHEMA`), ``action``,
    ``clv_saved``, ``action_cost``, ``retention_value`` (the data's currency)
    and ``saved_basis``; a customer not at risk has action ``"none"`` and 0.
    ``reasons``: long table ``customer_id``, ``rank``, ``driver``, ``process``
    (``"dropout"``), ``multiplier``, ``clv_kept``: every reason of every
    customer (no row for a customer without one). ``fit`` and ``paths``: the
    :class:`~segwork.act.defection.DefectionFit` and its
    :class:`~segwork.act.defection.FuturePaths` (None without drivers).
    ``available``: whether reasons could be given; ``note``: what the numbers
    rest on, one sentence; ``settings``: horizon, discount rate, margin,
    alpha, the test, the action costs, the status-quo assumption.
    """

    customers: pd.DataFrame
    reasons: pd.DataFrame
    fit: DefectionFit | None
    paths: FuturePaths | None
    available: bool
    note: str
    settings: dict


def driver_columns(data) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The static and time-varying driver columns a data set has: those of
    :data:`~segwork.act.defection.DEFAULT_STATIC_DRIVERS` in its customer profile and of
    :data:`~segwork.act.defection.DEFAULT_TIME_VARYING_DRIVERS` in its weekly table (empty tuples when it has
    neither, e.g. CDNOW)."""
    customers = getattr(data, "customers", None)
    dynamic = getattr(data, "dynamic_covariates", None)
    static = tuple(c for c in DEFAULT_STATIC_DRIVERS if customers is not None and c in customers.columns)
    events = tuple(c for c in DEFAULT_TIME_VARYING_DRIVERS if dynamic is not None and c in dynamic.columns)
    return static, events


def _reason_text(reasons: pd.DataFrame, ids: pd.Index, currency: str) -> pd.Series:
    if reasons.empty:
        return pd.Series("", index=ids, dtype=object)
    text = (reasons["driver"] + " x" + reasons["multiplier"].map(lambda v: f"{v:.3g}") + " (CLV kept "
            + reasons["clv_kept"].map(lambda v: f"{v:.2f}") + f" {currency})")
    joined = text.groupby(reasons["customer_id"].to_numpy(), sort=False).agg("; ".join)
    return joined.reindex(ids).fillna("").astype(object)


def _no_reasons() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series(dtype=object), "rank": pd.Series(dtype="int64"),
                         "driver": pd.Series(dtype=object), "column": pd.Series(dtype=object),
                         "multiplier": pd.Series(dtype=float), "clv_kept": pd.Series(dtype=float)})


def explained_customers(per: pd.DataFrame, reasons: pd.DataFrame | None = None, *, currency: str = "",
                        actions=None, available: bool = True) -> pd.DataFrame:
    """The columns of :attr:`DefectionExplanation.customers` from each customer's relationship type, P(alive) and
    CLV, and their reasons: the one step the data set's explanation and the service's customers given by history
    share, so both get the same action and numbers.

    ``per``: index customer_id, columns ``relationship``, ``p_alive``, ``clv`` and, with reasons,
    ``top_reason``, ``reason_multiplier`` (as :attr:`segwork.act.CustomerReasons.customers`). ``reasons``: the
    long reasons (``customer_id``, ``rank``, ``driver``, ``column``, ``multiplier``, ``clv_kept``; no ``"none"``
    rows). ``available=False``: the data has no drivers (``top_reason`` ``""``, no multiplier). The customers
    at risk get :func:`segwork.act.retention_list`'s best action, the others action ``"none"`` and 0.
    ``attrs``: the action costs and their source.
    """
    reasons = _no_reasons() if reasons is None else reasons
    per = per.copy()
    if not available:
        per["top_reason"], per["reason_multiplier"] = "", np.nan
    ids = per.index
    at_risk = per["relationship"].isin(AT_RISK_TYPES).to_numpy()
    risky = CustomerReasons(reasons=reasons[reasons["customer_id"].isin(ids[at_risk])], customers=per[at_risk],
                            active=pd.DataFrame(index=ids[at_risk]), settings={})
    listed = retention_list(risky, actions=actions).set_index("customer_id").reindex(ids)
    out = pd.DataFrame(index=pd.Index(ids.astype(str), name="customer_id"))
    out["relationship"] = per["relationship"].astype(str).to_numpy()
    out["at_risk"] = at_risk
    out["p_alive"] = per["p_alive"].to_numpy(dtype=float)
    out["clv"] = per["clv"].to_numpy(dtype=float)
    out["top_reason"] = per["top_reason"].astype(object).to_numpy()
    out["reason_multiplier"] = per["reason_multiplier"].to_numpy(dtype=float)
    out["reasons"] = _reason_text(reasons, ids, currency).to_numpy()
    out["action"] = listed["action"].fillna("none").to_numpy()
    for col in ("clv_saved", "action_cost", "retention_value"):
        out[col] = listed[col].fillna(0.0).to_numpy(dtype=float)
    out["saved_basis"] = listed["saved_basis"].fillna("not at risk: no retention action").to_numpy()
    out.attrs = {k: v for k, v in listed.attrs.items() if k in ("cost_source", "costs", "generic")}
    return out[list(_CUSTOMER_COLUMNS)]


def explain_defection(data, *, prepared=None, relationship=None, horizon: int = 12, discount_rate: float = 0.01,
                      margin: float = DEFAULT_MARGIN, alpha: float = 0.05, actions=None) -> DefectionExplanation:
    """Every customer's P(alive), relationship type, value at risk, reasons and retention action (module docs).

    Parameters
    ----------
    data: a :class:`segwork.datasets.Dataset`.
    prepared: its :func:`segwork.prepare.prepare` result (made here with
        ``horizon``, ``discount_rate``, ``margin`` when None).
    relationship: its relationship :class:`~segwork.segment.Segmentation`
        (``relationship_segmentation(prepared.table, model=...)`` when None, as
        :func:`segwork.segment.default_segmentations` builds it).
    horizon (months, 1 to 1200), discount_rate (per month, 0 to 1), margin (share of revenue, >= 0): the CLV's.
    alpha: significance level of a reason (0 to 1).
    actions: retention actions (default :data:`segwork.act.strategies.DEFAULT_RETENTION_ACTIONS`).

    Returns a :class:`DefectionExplanation`. Raises DataError for bad
    settings, data whose CLV models cannot be fitted (no repeat buyers), and
    the errors of :func:`segwork.act.fit_defection` (a customer without a
    profile value, gaps in the weekly table, a constant driver ...);
    ConvergenceError when the defection model does not converge.
    """
    where = "explain_defection"
    check_number(where, "alpha", alpha, low=0, high=1, low_open=True)
    if prepared is None:
        from ..prepare import prepare

        prepared = prepare(data, horizon=horizon, discount_rate=discount_rate, margin=margin)
    table = prepared.table
    if "clv" not in table.columns or "p_alive" not in table.columns:
        why = "; ".join(prepared.record.lines()) if getattr(prepared, "record", None) is not None else ""
        raise DataError(f"{where}: the data's CLV models cannot be fitted ({why or 'no repeat buyers'}), so there is "
                        "no P(alive) or value at risk to explain; use data with repeat buyers")
    if relationship is None:
        from ..segment.relationship import relationship_segmentation

        model = prepared.clv.transaction_model if prepared.clv is not None else None
        relationship = relationship_segmentation(table, model=model)
    labels = relationship.labels.astype(str).reindex(table.index)
    labels.index = labels.index.astype(str)
    static, events = driver_columns(data)
    currency = str(getattr(data, "currency", None) or "the data's currency")
    settings = {"horizon_months": int(horizon), "discount_rate": float(discount_rate), "margin": float(margin),
                "alpha": float(alpha), "currency": currency, "at_risk_types": list(AT_RISK_TYPES)}
    if static or events:
        # the spend model prepare fitted (not fitted again): the folder's, so customers by history get its numbers
        spend = prepared.clv.spend_model if prepared.clv is not None else None
        fit = fit_defection(data, static=static, time_varying=events, spend=spend)
        paths = FuturePaths(fit, horizon)
        found = customer_reasons(fit, labels, types=tuple(pd.unique(labels)), alpha=alpha, horizon=horizon,
                                 discount_rate=discount_rate, margin=margin, paths=paths)
        per = found.customers.reindex(labels.index)
        missing = per.index[per["p_alive"].isna().to_numpy()]
        if len(missing):  # every customer of the prepared table has transactions, so the fit has them all
            raise DataError(f"{where}: {len(missing)} customer(s) of the prepared table are not in the defection "
                            f"model's fit (e.g. {missing[0]!r})")
        reasons = found.reasons[found.reasons["driver"] != "none"]
        settings.update(found.settings)
        note = (f"reasons from the time-varying Pareto/NBD (Bachmann, Meierer & Naef 2021) with the drivers "
                f"{', '.join([*static, *events])} on both processes, fitted on {len(per):,} customers; a reason is a "
                f"driver whose dropout effect is significant at {alpha:g} ({found.settings['test']}), raises the "
                "rate and is not at its reference level for the customer")
        available = True
    else:
        fit = paths = None
        per = pd.DataFrame({"relationship": labels, "p_alive": table["p_alive"].to_numpy(dtype=float),
                            "clv": table["clv"].to_numpy(dtype=float)}, index=labels.index)
        reasons = _no_reasons()
        note = NO_DRIVERS_NOTE.format(static="/".join(DEFAULT_STATIC_DRIVERS),
                                      events="/".join(DEFAULT_TIME_VARYING_DRIVERS))
        available = False
    out = explained_customers(per, reasons, currency=currency, actions=actions, available=available)
    settings.update(out.attrs)
    if not out["at_risk"].any():
        settings["why_nobody_at_risk"] = nobody_at_risk(table, relationship, prepared)
    out.attrs = {}
    long = reasons.assign(process="dropout")[["customer_id", "rank", "driver", "process", "multiplier", "clv_kept"]]
    return DefectionExplanation(customers=out, reasons=long.reset_index(drop=True),
                                fit=fit, paths=paths, available=available, note=note, settings=settings)


def nobody_at_risk(table: pd.DataFrame, relationship, prepared=None) -> str:
    """One sentence saying why no customer of ``table`` is at risk (Vulnerable or Win-back): the lowest P(alive)
    of a repeat buyer against the relationship rule's threshold, and, when the transaction model's fit (the
    :class:`segwork.clv.record.FitRecord` of ``prepared``) is at a limit of its dropout process, that it found
    no dropout in the data. ``relationship``: the relationship :class:`~segwork.segment.Segmentation`."""
    params = relationship.params
    repeat = table["frequency"].to_numpy() > 0
    p_alive = table["p_alive"].to_numpy(dtype=float)
    lowest = f"{p_alive[repeat].min():.2f}" if repeat.any() else "none (no repeat buyers)"
    text = (f"nobody is at risk: no customer is Vulnerable or Win-back. The lowest P(alive) of a repeat buyer is "
            f"{lowest} (at risk below {params['p_loyal']:g}) and no one-time buyer of value has been silent for more "
            f"than {params['recent_days']:g} days")
    record = getattr(prepared, "record", None)
    status = record.model("transaction") if record is not None else None
    if status is not None and status.status == "at limit" and repeat.any() and p_alive[repeat].min() > 0.99:
        text += (f". The {status.label} fit found no dropout in these data (its dropout parameters "
                 f"{', '.join(status.limit)} at the limit 'nobody leaves'): the history may be too short, or too "
                 "few customers stopped buying, to see anyone leave")
    return text + "."


def retention_frame(explanation: DefectionExplanation) -> pd.DataFrame:
    """The customers at risk ranked by retention value (highest first, then customer id): the columns of
    :data:`RETENTION_EXPORT_SCHEMA`, in that order.

    ``attrs["counts"]``: ``{"listed": ..., "not at risk": ...}`` (they add up to the customers of the data) and
    ``attrs["not_at_risk"]``: customers per relationship type not listed; ``attrs["note"]``, ``attrs["available"]``;
    ``attrs["clv_basis"]``: the CLV's margin, horizon_months, discount_rate (per month) and currency;
    ``attrs["ranking"]``: :data:`segwork.act.retention.RANKING_RULE`; ``attrs["why_empty"]``: one sentence saying
    why nobody is listed ("" when someone is). ``top_reason`` and ``reasons`` are in words
    (:func:`segwork.act.retention.driver_words`).
    """
    per = explanation.customers
    risky = per[per["at_risk"].to_numpy()]
    out = risky.reset_index()
    # drivers in words, and a reason text in every cell (an empty cell read as "forgotten", not "none found")
    if explanation.available:
        out["top_reason"] = [driver_words(r) for r in out["top_reason"]]
        words = explanation.reasons.assign(driver=[driver_words(d) for d in explanation.reasons["driver"]])
        text = _reason_text(words, pd.Index(out["customer_id"]), explanation.settings.get("currency", ""))
        out["reasons"] = text.replace("", NO_DRIVER_FOUND_TEXT).to_numpy()
    else:
        out["top_reason"] = out["reasons"] = NO_DRIVERS_REASON
    out = rank_retention(out)[list(RETENTION_EXPORT_SCHEMA)]
    not_at_risk = per.loc[~per["at_risk"].to_numpy(), "relationship"].value_counts().sort_index()
    out.attrs = {"counts": {"listed": int(len(out)), "not at risk": int((~per["at_risk"]).sum())},
                 "listed_by_type": risky["relationship"].value_counts().sort_index().to_dict(),
                 "not_at_risk": not_at_risk.to_dict(), "n_customers": int(len(per)),
                 "worth_acting": int((out["retention_value"] > 0).sum()), "note": explanation.note,
                 "available": explanation.available,
                 "clv_basis": {k: explanation.settings[k] for k in ("margin", "horizon_months", "discount_rate",
                                                                     "currency")},
                 "ranking": RANKING_RULE, "why_empty": explanation.settings.get("why_nobody_at_risk", "") if
                 not len(out) else ""}
    return out
