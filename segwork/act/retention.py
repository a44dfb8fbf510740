"""Why each at-risk customer may leave, what keeping them is worth, and whom to act on first.

For the customers at risk (the relationship types Vulnerable and Win-back of
:mod:`segwork.segment.relationship`, or a given list) and the fitted
defection model (:func:`segwork.act.fit_defection`):

* :func:`customer_reasons`: the drivers that raise each customer's dropout
  rate, each as its factor against a reference customer (every driver at its
  reference level or 0), ranked, with the CLV the customer would keep if the
  driver were removed (what-if future covariate paths,
  :class:`segwork.act.defection.FuturePaths`);
* :func:`retention_list`: the best retention action per customer (CLV saved
  minus its assumed cost, :data:`segwork.act.strategies.DEFAULT_RETENTION_ACTIONS`),
  customers ranked by that retention value;
* :func:`reason_agreement`: on synthetic data, how often the top reason found
  is the top planted reason, next to what a random ranking would give.

The CLV saved is the most worth spending to keep the customer: acting is
worth it while the action costs less.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..clv.margin import DEFAULT_MARGIN
from .._checks import check_number, require_columns
from ..errors import DataError
from ..segment.base import Segmentation
from .defection import DefectionFit, FuturePaths
from .strategies import DEFAULT_RETENTION_ACTIONS, DEFAULT_STRATEGIES, COST_SOURCE, RetentionAction, Strategy

__all__ = ["AT_RISK_TYPES", "CustomerReasons", "ReasonAgreement", "RETENTION_SCHEMA", "customer_reasons",
           "retention_list", "reason_agreement", "driver_words", "rank_retention", "NO_DRIVER_FOUND",
           "NO_DRIVER_FOUND_TEXT", "RANKING_RULE"]

#: The relationship types whose customers are at risk (:mod:`segwork.segment.relationship`).
AT_RISK_TYPES = ("Vulnerable", "Win-back")

#: The retention list's columns: column -> (type, unit, meaning), as :data:`segwork.act.EXPORT_SCHEMAS`.
#: The top reason of an at-risk customer none of whose drivers raises the dropout rate significantly.
NO_DRIVER_FOUND = "no driver found"
#: The reasons text of such a customer (the export's ``reasons`` column): never an empty cell.
NO_DRIVER_FOUND_TEXT = "no driver found: none of the drivers raises this customer's dropout rate significantly"

#: How the retention list is ranked (said in the schema, the export's docs and on page 10).
RANKING_RULE = ("customers whose best action's CLV saved is the defection model's what-if (a driver of theirs "
                "removed) first, by retention value; then those whose only action is the generic contact, whose CLV "
                "saved is an assumed share of their CLV (no driver found, or none with an action), by retention "
                "value; then those not worth acting on (retention value 0), by CLV at risk; ties by customer id")

RETENTION_SCHEMA: dict[str, tuple[str, str, str]] = {
    "rank": ("int", "", "1 = act first: " + RANKING_RULE),
    "customer_id": ("string", "", "the customer's id"),
    "relationship": ("string", "", "relationship type (Vulnerable, Win-back; 'given' for a list of ids)"),
    "top_reason": ("string", "", "the driver that raises the customer's dropout rate most, in words ('no contract', "
                   "'acquisition channel: social', 'open complaint'); '" + NO_DRIVER_FOUND + "' when none raises it "
                   "significantly; "
                   "'not known: the data has no drivers' when reasons cannot be given"),
    "reason_multiplier": ("float", "factor", "the top reason's factor on the dropout rate against a reference "
                          "customer, at the observation end; 1 when no driver was found; empty without drivers"),
    "action": ("string", "", "the retention action with the highest retention value; 'none' when no action "
               "saves more than it costs"),
    "clv_saved": ("float", "currency", "expected CLV (margin x revenue, the margin stated with the "
                  "list) the action keeps over the horizon"),
    "action_cost": ("float", "currency", "the action's assumed cost per customer"),
    "retention_value": ("float", "currency", "clv_saved - action_cost"),
    "p_alive": ("float", "probability 0..1", "P(alive) at the observation end: the time-varying Pareto/NBD with the "
              "drivers; without drivers, the prepared table's transaction model"),
    "clv": ("float", "currency", "expected CLV (margin x revenue) over the horizon as is "
            "(status-quo path): the value at risk"),
    "saved_basis": ("string", "", "where clv_saved comes from: the model's what-if, or an assumed effect"),
}


def driver_words(driver: str) -> str:
    """A driver's name in words for a list or a page: ``"contract[none]"`` -> ``"no contract"``,
    ``"acquisition_channel[social]"`` -> ``"acquisition channel: social"``, ``"open_complaint"`` -> ``"open
    complaint"``, ``"none"`` (no reason) -> :data:`NO_DRIVER_FOUND`; ``""`` stays ``""``. The model's names
    (``column[level]``, as :meth:`segwork.act.DefectionFit.drivers` names them) stay in the drivers table and
    :class:`CustomerReasons`, where they are matched against planted and fitted effects."""
    driver = "" if driver is None or (isinstance(driver, float) and np.isnan(driver)) else str(driver)
    if driver in ("", "none"):
        return NO_DRIVER_FOUND if driver == "none" else ""
    if driver.endswith("]") and "[" in driver:
        column, level = driver[:-1].split("[", 1)
        column = column.replace("_", " ")
        return f"no {column}" if level.lower() in ("none", "no", "false") else f"{column}: {level}"
    return driver.replace("_", " ")


def rank_retention(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (columns ``customer_id``, ``retention_value``, ``saved_basis``, ``clv``) sorted by
    :data:`RANKING_RULE`, with ``rank`` (1 first) as its first column and a fresh index.

    The tiers keep an assumed effect from outbidding an estimate: the generic contact saves an assumed share of
    the customer's CLV (15 % for Vulnerable), more than most single drivers are worth over a year, so without
    them the customers with no driver found would head the list on an assumption."""
    value = frame["retention_value"].to_numpy(dtype=float)
    model = frame["saved_basis"].astype(str).str.startswith("model what-if").to_numpy()
    tier = np.where(value <= 0, 2, np.where(model, 0, 1))
    key = np.where(tier == 2, -frame["clv"].to_numpy(dtype=float), -value)
    out = frame.assign(_tier=tier, _key=key).sort_values(["_tier", "_key", "customer_id"], kind="mergesort")
    out = out.drop(columns=["_tier", "_key", *(["rank"] if "rank" in out.columns else [])]).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


@dataclass(frozen=True)
class CustomerReasons:
    """The reasons of each at-risk customer (:func:`customer_reasons`).

    ``reasons``: long table, one row per customer and reason, ranked: ``customer_id``, ``relationship``,
    ``rank`` (1 = strongest), ``driver`` (``"contract[none]"``, ``"open_complaint"``; ``"none"`` with one
    row for a customer without a reason), ``column`` (the driver's column), ``multiplier`` (its factor on the
    customer's dropout rate against the reference customer, ``exp(g_k (z_ik - z_ref,k))`` at the
    observation end; 1 for ``"none"``), ``clv_kept`` (CLV, as margin in the data's currency, the customer
    keeps over the horizon with the driver removed, minus the CLV as is; 0 for ``"none"``).
    ``customers``: one row per customer (index customer_id): ``relationship``, ``p_alive``, ``clv`` (as is),
    ``top_reason``, ``reason_multiplier``, ``dropout_multiplier`` (the product of every driver's factor: the
    customer's dropout rate against the reference customer's), ``n_active`` (drivers not at their reference).
    ``active``: bool DataFrame customers x dropout drivers (not at the reference at the observation end), for
    :func:`reason_agreement`'s random ranking. ``settings``: how the reasons were chosen (test, alpha,
    horizon, margin, the status-quo path assumption).
    """

    reasons: pd.DataFrame
    customers: pd.DataFrame
    active: pd.DataFrame
    settings: dict


def _at_risk(where, customers, types, known: pd.Index) -> pd.Series:
    """Relationship type per at-risk customer (index customer_id, in the model's order)."""
    if isinstance(customers, Segmentation):
        customers = customers.labels
    if isinstance(customers, pd.Series):
        labels = customers.astype(str)
        labels.index = labels.index.astype(str)
        labels = labels[labels.isin(list(types))]
    else:
        if isinstance(customers, (str, bytes)) or not hasattr(customers, "__iter__"):
            raise DataError(f"{where}: customers must be a relationship Segmentation, its labels (Series indexed by "
                            f"customer_id) or a list of customer ids, got {type(customers).__name__}")
        ids = pd.Index([str(c) for c in customers]).unique()
        labels = pd.Series("given", index=ids, dtype=object)
    unknown = labels.index.difference(known)
    if len(unknown):
        raise DataError(f"{where}: {len(unknown)} customer(s) are not in the defection model's fit (e.g. "
                        f"{unknown[0]!r}); give customers of the data it was fitted on")
    labels.index.name = "customer_id"
    return labels.reindex(known[known.isin(labels.index)]).rename("relationship")


def customer_reasons(fit: DefectionFit, customers, *, drivers: pd.DataFrame | None = None, alpha: float = 0.05,
                     types=AT_RISK_TYPES, horizon: int | None = None, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
                     paths: FuturePaths | None = None) -> CustomerReasons:
    """The top drivers of each at-risk customer's elevated dropout, and the CLV they would keep without each.

    Parameters
    ----------
    fit: a :class:`DefectionFit`.
    customers: a relationship :class:`~segwork.segment.Segmentation` or its
        labels (Series of types indexed by customer_id): the customers of
        ``types`` are taken; or a list of customer ids (relationship
        ``"given"``).
    drivers: a :func:`drivers_table` of the same fit: its dropout
        ``p_value`` (likelihood ratio) decides which drivers count. None: the
        Wald test of the model's summary (``settings["test"]`` says which).
    alpha: a driver is a reason when its dropout effect is significant at
        ``alpha`` (None: every driver that raises the rate counts), its
        multiplier is above 1 and the customer is not at its reference.
    horizon, discount_rate, margin: the CLV's months (default: the
        ``paths``' horizon, else 12), monthly discount rate and profit share
        of revenue (as :func:`segwork.act.drivers_table`).
    paths: :class:`segwork.act.defection.FuturePaths` of the fit (made with
        ``horizon`` when None); pass the one given to
        :func:`segwork.act.drivers_table` to reuse its what-ifs.

    A driver's factor is ``exp(g_k (z_ik - z_ref,k))``: ``g_k`` its dropout
    coefficient, ``z_ik`` the customer's value in the week containing the
    observation end, ``z_ref,k`` the reference level (0). Reasons are ranked by
    it. The CLV kept with a driver removed is the customer's CLV on the
    what-if path minus the status quo (:class:`FuturePaths`, where the status
    quo path is stated: static drivers keep their level, a time-varying
    driver its current value for ``carry_weeks`` (the mean episode length,
    the expected remaining duration of a memoryless episode), then the
    customer's earlier mean): a static driver set to its reference level for
    the whole horizon (contract signed now, channel changed), a time-varying
    driver's episode in progress ended now (complaint resolved now; later
    weeks as in the status quo). The past, and so P(alive), is as observed.

    Returns a :class:`CustomerReasons`. Raises DataError for customers not in
    the fit, a bad ``customers`` argument, ``paths`` of another fit or
    horizon, or the checks of the settings.
    """
    where = "customer_reasons"
    if alpha is not None:
        check_number(where, "alpha", alpha, low=0, high=1, low_open=True)
    model = fit.model
    p_alive = model.p_alive()
    known = p_alive.index
    labels = _at_risk(where, customers, types, known)
    table = fit.drivers
    summ = model.summary()
    g = np.array([summ.loc[f"dropout:{d}", "coef"] for d in table["driver"]])
    if drivers is not None:
        require_columns(drivers, ("driver", "process", "p_value"), where, "use segwork.act.drivers_table",
                        what="drivers table")
        p = drivers[drivers["process"] == "dropout"].set_index("driver")["p_value"]
        missing = [d for d in table["driver"] if d not in p.index]
        if missing:
            raise DataError(f"{where}: the drivers table has no dropout row for {missing[0]!r}; pass the "
                            "drivers_table of this fit")
        p = p.reindex(table["driver"]).to_numpy(dtype=float)
        test = drivers.attrs.get("test", "the drivers table's p_value")
    else:
        se = np.array([summ.loc[f"dropout:{d}", "se"] for d in table["driver"]])
        p = stats.chi2.sf((g / se) ** 2, df=1)
        test = "Wald (chi-square, 1 df), from the model's summary"
    paths = FuturePaths.for_fit(where, fit, horizon, paths)
    pos = known.get_indexer(labels.index)
    z = np.zeros((len(pos), len(table)))
    for j, d in enumerate(table["driver"]):
        z[:, j] = paths.current[d][pos]
    factor = np.exp(z * g[None, :])
    active = z != 0
    counts = active & (g[None, :] > 0) & ((p < alpha)[None, :] if alpha is not None else True)
    base = paths.clv(discount_rate=discount_rate, margin=margin)
    kept = np.zeros_like(z)
    for j in np.flatnonzero(counts.any(axis=0)):
        d = table.iloc[j]
        what_if = paths.clv({d["driver"]: "horizon" if d["kind"] == "static" else "episode"},
                            discount_rate=discount_rate, margin=margin)
        kept[:, j] = (what_if - base).to_numpy()[pos]
    rows = []
    ids = labels.index.to_numpy()
    rel = labels.to_numpy()
    for i in range(len(ids)):
        js = np.flatnonzero(counts[i])
        js = js[np.argsort(-factor[i, js], kind="stable")]
        if not len(js):
            rows.append((ids[i], rel[i], 1, "none", None, 1.0, 0.0))
        rows += [(ids[i], rel[i], r + 1, table["driver"].iat[j], table["column"].iat[j], factor[i, j], kept[i, j])
                 for r, j in enumerate(js)]
    reasons = pd.DataFrame(rows, columns=["customer_id", "relationship", "rank", "driver", "column", "multiplier",
                                          "clv_kept"])
    top = reasons[reasons["rank"] == 1].set_index("customer_id")
    per = pd.DataFrame({"relationship": labels, "p_alive": p_alive.reindex(labels.index),
                        "clv": base.reindex(labels.index), "top_reason": top["driver"].reindex(labels.index),
                        "reason_multiplier": top["multiplier"].reindex(labels.index),
                        "dropout_multiplier": factor.prod(axis=1), "n_active": active.sum(axis=1)},
                       index=labels.index)
    settings = {"test": test, "alpha": alpha, "horizon_months": paths.horizon, "discount_rate": discount_rate,
                "margin": margin, "currency": fit.currency, "carry_weeks": dict(paths.carry),
                "status_quo": "static drivers keep their level; a time-varying driver keeps its current value for "
                              "carry_weeks, then the customer's earlier mean"}
    return CustomerReasons(reasons=reasons, customers=per,
                           active=pd.DataFrame(active, index=labels.index, columns=list(table["driver"])),
                           settings=settings)


def retention_list(reasons: CustomerReasons, *, actions: Mapping[str, RetentionAction] | None = None,
                   strategies: Mapping[str, Strategy] | None = None, generic: str = "fallback") -> pd.DataFrame:
    """The at-risk customers ranked by retention value: the expected CLV saved by the best action minus its cost.

    For each customer the candidate actions are the actions of ``actions``
    (default :data:`segwork.act.strategies.DEFAULT_RETENTION_ACTIONS`) whose
    ``driver`` is the column of one of the customer's reasons: the CLV saved
    is that reason's ``clv_kept``, the model's what-if (``saved_basis``
    names it). The actions without a driver (the generic win-back contact)
    save an assumed share of the customer's CLV: the ``effect_low`` of their
    relationship strategy in ``strategies`` (default
    :data:`segwork.act.strategies.DEFAULT_STRATEGIES`: 15 % Vulnerable,
    10 % Win-back; 0 for a type without a strategy). ``generic``:
    ``"fallback"`` (default) offers them only to a customer without a
    driver-based action, since an assumed effect is not an estimate and
    would otherwise outbid the model's what-ifs (15 % of CLV is more than
    most single drivers are worth over a year); ``"compete"`` offers them to
    everyone. The best action has the highest ``clv_saved - cost`` (the
    cheaper one on a tie); when that is not positive, doing nothing is
    better: ``action`` is ``"none"`` with 0 saved, cost and value, and
    ``saved_basis`` names the best action there was with its CLV saved and
    cost. Costs are assumed figures
    (:data:`segwork.act.strategies.COST_SOURCE`, ``attrs["cost_source"]``).

    Returns a DataFrame with the columns of :data:`RETENTION_SCHEMA`, in that
    order, ranked by :data:`RANKING_RULE` (:func:`rank_retention`), rank 1
    first; ``top_reason`` in words (:func:`driver_words`).
    Raises DataError for an action with a negative or non-finite cost, or an
    unknown ``generic``.
    """
    where = "retention_list"
    if generic not in ("fallback", "compete"):
        raise DataError(f"{where}: generic={generic!r}; use 'fallback' (the generic contact only for customers "
                        "without a driver-based action) or 'compete'")
    actions = dict(DEFAULT_RETENTION_ACTIONS if actions is None else actions)
    strategies = DEFAULT_STRATEGIES if strategies is None else strategies
    for a in actions.values():
        check_number(where, f"the cost of {a.name!r}", a.cost, low=0, unit="the data's currency")
    by_column = {}
    for a in actions.values():
        if a.driver is not None:
            by_column.setdefault(a.driver, []).append(a)
    generic_actions = [a for a in actions.values() if a.driver is None]
    per = reasons.customers
    options = []
    for r in reasons.reasons.itertuples():
        for a in by_column.get(r.column, []):
            options.append((r.customer_id, a.name, float(r.clv_kept), a.cost,
                            f"model what-if: {driver_words(r.driver)} removed"))
    with_driver_action = {o[0] for o in options}
    for cid, row in per.iterrows():
        if generic == "fallback" and cid in with_driver_action:
            continue
        st = strategies.get(row["relationship"])
        effect = st.effect_low if st is not None else 0.0
        for a in generic_actions:
            basis = (f"assumed effect: {100 * effect:g} % of CLV ({row['relationship']} strategy)" if st is not None
                     else f"no strategy for {row['relationship']!r}: no effect assumed")
            options.append((cid, a.name, effect * float(row["clv"]), a.cost, basis))
    opts = pd.DataFrame(options, columns=["customer_id", "action", "clv_saved", "action_cost", "saved_basis"])
    opts["retention_value"] = opts["clv_saved"] - opts["action_cost"]
    opts = opts.sort_values(["customer_id", "retention_value", "action_cost"], ascending=[True, False, True],
                            kind="mergesort")
    best = opts.drop_duplicates("customer_id").set_index("customer_id").reindex(per.index)
    # doing nothing (value 0) beats an action that costs more than it saves: the action is "none", and the basis
    # names the best action there was and what it would have lost
    losing = best["retention_value"] <= 0
    best.loc[losing, "saved_basis"] = [f"not worth acting: the best action, {a}, saves {c:,.2f} for a cost of {k:,.2f}"
                                       for a, c, k in best.loc[losing, ["action", "clv_saved", "action_cost"]]
                                       .itertuples(index=False)]
    none = best["action"].isna()  # no action applies (no driver action and no generic action given)
    best.loc[none, "saved_basis"] = "no action applies"
    best.loc[losing | none, "action"] = "none"
    best.loc[losing | none, ["clv_saved", "action_cost", "retention_value"]] = 0.0
    out = pd.DataFrame({"customer_id": per.index.astype(str), "relationship": per["relationship"].to_numpy(),
                        "top_reason": per["top_reason"].to_numpy(),
                        "reason_multiplier": per["reason_multiplier"].to_numpy(dtype=float),
                        "action": best["action"].to_numpy(), "clv_saved": best["clv_saved"].to_numpy(dtype=float),
                        "action_cost": best["action_cost"].to_numpy(dtype=float),
                        "retention_value": best["retention_value"].to_numpy(dtype=float),
                        "p_alive": per["p_alive"].to_numpy(dtype=float), "clv": per["clv"].to_numpy(dtype=float),
                        "saved_basis": best["saved_basis"].to_numpy()})
    out["top_reason"] = [driver_words(r) for r in out["top_reason"]]
    out = rank_retention(out)[list(RETENTION_SCHEMA)]
    out.attrs = {"cost_source": COST_SOURCE, "costs": {a.name: a.cost for a in actions.values()},
                 "generic": generic, **reasons.settings}
    return out


@dataclass(frozen=True)
class ReasonAgreement:
    """:func:`reason_agreement`'s result.

    ``agreement``: share of the at-risk customers whose top found reason is
    their top planted reason; ``random_baseline``: its expected value under a
    random ranking (see :func:`reason_agreement`); ``n_customers``;
    ``by_relationship``: the same three per relationship type (DataFrame).
    """

    agreement: float
    random_baseline: float
    n_customers: int
    by_relationship: pd.DataFrame


def reason_agreement(reasons: CustomerReasons, truth) -> ReasonAgreement:
    """How often the top found reason is the top planted reason, and what a random ranking would give.

    ``truth``: ``Dataset.truth`` (or any frame / Series indexed by
    customer_id) with ``top_planted_reason`` (the driver with the largest
    planted dropout multiplier acting on the customer when they left or at the
    end, ``"none"`` when none raises it).

    The random baseline is computed, not simulated: a random ranking puts
    each of the customer's active drivers (not at their reference level at
    the observation end, whatever their effect) first with equal chance, so
    it agrees with probability ``1{planted in active} / n_active``, and says
    ``"none"`` for a customer without an active driver (agreeing when the
    planted reason is ``"none"``). Both are averaged over the customers.

    Raises DataError when ``truth`` lacks ``top_planted_reason`` or a customer.
    """
    where = "reason_agreement"
    if isinstance(truth, pd.Series):
        planted = truth
    else:
        require_columns(truth, ("top_planted_reason",), where, "use the truth of make_crm(..., defection=True)",
                        what="truth")
        planted = truth["top_planted_reason"]
    planted = planted.astype(str)
    planted.index = planted.index.astype(str)
    per = reasons.customers
    missing = per.index.difference(planted.index)
    if len(missing):
        raise DataError(f"{where}: {len(missing)} customer(s) have no planted reason in truth (e.g. {missing[0]!r})")
    planted = planted.reindex(per.index)
    hit = (per["top_reason"].astype(str) == planted).to_numpy(dtype=float)
    active = reasons.active
    n_active = active.sum(axis=1).to_numpy()
    cols = pd.Index(active.columns)
    j = cols.get_indexer(planted)
    in_active = np.where(j >= 0, active.to_numpy()[np.arange(len(j)), np.maximum(j, 0)], False)
    random = np.where(n_active > 0, in_active / np.maximum(n_active, 1), (planted == "none").to_numpy())
    frame = pd.DataFrame({"hit": hit, "random": random.astype(float), "relationship": per["relationship"].to_numpy()})
    by = frame.groupby("relationship", sort=True).agg(agreement=("hit", "mean"), random_baseline=("random", "mean"),
                                                      n_customers=("hit", "size"))
    return ReasonAgreement(agreement=float(hit.mean()) if len(hit) else float("nan"),
                           random_baseline=float(random.mean()) if len(random) else float("nan"),
                           n_customers=int(len(hit)), by_relationship=by)
