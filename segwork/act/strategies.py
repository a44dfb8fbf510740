"""Relationship-type strategies and their assumed profit effects.

Each relationship type (see :mod:`segwork.segment.relationship`) calls for its
own strategy, stated by its targeting, positioning, offer, cost and benefit,
and communication (CRM.md). Each comes with the profit effect that CRM
studies report for it:

=============  ===========================================  ===============
type           strategy                                     assumed effect
=============  ===========================================  ===============
Prospective    convert first-time buyers (acquisition)      +3 to 4 %
Loyal          cross-selling and up-selling, rewards        +2 to 3 %
Vulnerable     churn reduction, service recovery            +15 to 20 %
Win-back       win-back offers to lapsed valuable buyers    +10 to 20 %
=============  ===========================================  ===============

These percentages are **assumptions to show and to change, not laws**: they
are the figures CRM studies report, not something segwork estimates from your
data. Change them with :func:`with_effects` (or build your own
:class:`Strategy`) and every summary that uses them says which figures it
used. The implied profit gain of a type is ``effect x the type's margin``
(see :func:`relationship_summary`, which puts the strategies next to the
types of a relationship segmentation, :mod:`segwork.segment.relationship`).

Retention actions and their costs
---------------------------------
The strategies state their costs in words; the retention list of
:mod:`segwork.act.retention` needs numbers. :data:`DEFAULT_RETENTION_ACTIONS`
gives each retention action a cost per customer, in the data's currency:

=====================  =====  ==============================================
action                 cost   what it does in the defection model
=====================  =====  ==============================================
resolve complaint      25     ends the open complaint now (``open_complaint``)
renew contract         40     a contract from now on (``contract``)
change channel         10     the reference channel from now on (``acquisition_channel``)
win-back contact        5     no driver: the strategy's assumed effect
=====================  =====  ==============================================

Like the effects, these costs are **assumptions to show and to change**
(:data:`COST_SOURCE`, :func:`with_costs`), not figures segwork estimates.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from ..clv.margin import DEFAULT_MARGIN
from .._checks import require_columns
from ..errors import DataError
from ..segment.base import Segmentation
from ..segment.relationship import RELATIONSHIP_TYPES

__all__ = ["Strategy", "DEFAULT_STRATEGIES", "EFFECT_SOURCE", "strategy_table", "with_effects", "relationship_summary",
           "RetentionAction", "DEFAULT_RETENTION_ACTIONS", "COST_SOURCE", "with_costs"]

#: Where the default effect figures come from.
EFFECT_SOURCE = ("CRM studies as summarised in the CRM brief (CRM.md): assumed figures, shown as such; "
                 "change them with segwork.act.strategies.with_effects")

#: Where the default retention action costs come from.
COST_SOURCE = ("assumed costs per customer in the data's currency (a service call with a goodwill gesture, a "
               "renewal incentive, moving the account to another channel, one personal contact), not estimated "
               "from the data; change them with segwork.act.strategies.with_costs")


@dataclass(frozen=True)
class Strategy:
    """What to do with one relationship type, and the profit effect assumed for it.

    Attributes
    ----------
    relationship: the type's name (``"Loyal"``...).
    goal: the strategy in a few words.
    targeting: whom to aim at, and how to pick them.
    positioning: what the company should mean to them.
    offer: what to offer.
    cost_benefit: what it costs, what it brings, and the limit on spending.
    communication: channel, timing and tone.
    effect_low, effect_high: the assumed profit effect as fractions of the
        type's margin (0.15 = +15 %); 0 when no effect is assumed.
    effect_basis: what the effect comes from (shown next to the figure).
    """

    relationship: str
    goal: str
    targeting: str
    positioning: str
    offer: str
    cost_benefit: str
    communication: str
    effect_low: float
    effect_high: float
    effect_basis: str

    @property
    def assumed_effect(self) -> str:
        """The effect range as text, e.g. ``"+15-20 % (assumed)"``."""
        if self.effect_low == 0 and self.effect_high == 0:
            return "none assumed"
        lo, hi = 100 * self.effect_low, 100 * self.effect_high
        rng = f"+{lo:g} %" if lo == hi else f"+{lo:g}-{hi:g} %"
        return f"{rng} (assumed)"


DEFAULT_STRATEGIES: dict[str, Strategy] = {
    "Prospective": Strategy(
        relationship="Prospective",
        goal="acquisition: turn first-time buyers into repeat customers",
        targeting="customers with one purchase, made recently; rank them by predicted value and by how they "
                  "first heard of the company (the acquisition channel that brings the best customers)",
        positioning="the easy, low-risk choice for the next purchase",
        offer="a welcome or second-purchase incentive, onboarding help, a product matched to the first purchase",
        cost_benefit="spend per prospect at most a fraction of the CLV of a converted repeat buyer; most will not "
                     "convert, so keep the cost per contact low",
        communication="an onboarding series in the first weeks after the first purchase, in the channel the "
                      "customer opted in to (permission marketing)",
        effect_low=0.03, effect_high=0.04,
        effect_basis="more prospects converted into customers",
    ),
    "Loyal": Strategy(
        relationship="Loyal",
        goal="cross-selling and up-selling, rewards",
        targeting="active customers (high P(alive)) who buy often; pick the products they do not buy yet from "
                  "their category mix",
        positioning="a partner who knows them: recognition rather than discounts",
        offer="complementary products (cross-selling: 'would you like fries with that?'), upgrades (up-selling: "
              "'super-size it?'), loyalty rewards, early access",
        cost_benefit="low cost per contact and high response; avoid blanket discounts, which give away margin they "
                     "would have paid anyway",
        communication="personalised and permission-based; event-based at key moments (birthday, contract end, "
                      "season)",
        effect_low=0.02, effect_high=0.03,
        effect_basis="cross- and up-selling to loyal customers",
    ),
    "Vulnerable": Strategy(
        relationship="Vulnerable",
        goal="churn reduction and service recovery",
        targeting="valuable customers whose probability of being alive is falling (they have gone quiet for "
                  "longer than their own rhythm); first those with the highest CLV at stake",
        positioning="we value you and fix what went wrong",
        offer="a personal retention offer, a service call, a satisfaction follow-up on recent complaints",
        cost_benefit="worth up to the margin expected to be saved (CLV x the chance the action keeps the customer); "
                     "the most profitable of the four when aimed well",
        communication="personal (account manager, call centre) and prompt: triggered by the lapse event",
        effect_low=0.15, effect_high=0.20,
        effect_basis="churn reduction among vulnerable customers",
    ),
    "Win-back": Strategy(
        relationship="Win-back",
        goal="win back lapsed customers who had value",
        targeting="lapsed customers (low P(alive), or a single old purchase) with high past value",
        positioning="come back: here is what has changed",
        offer="a strong, time-limited win-back offer; ask why they left (customer defection analysis)",
        cost_benefit="one or two contacts, then stop: most lapsed customers will not return, so cap the cost per "
                     "customer well below their past yearly margin",
        communication="direct (e-mail, post) with a clear deadline, where permission allows",
        effect_low=0.10, effect_high=0.20,
        effect_basis="customers won back",
    ),
    "Other": Strategy(
        relationship="Other",
        goal="serve at low cost",
        targeting="no targeted spend: customers outside the four types (lapsed with little value, or alive but "
                  "buying rarely and for little)",
        positioning="convenient self-service",
        offer="the standard offer; mass-marketing content only",
        cost_benefit="keep the cost to serve below the small margin they bring",
        communication="low-cost digital channels, only with permission",
        effect_low=0.0, effect_high=0.0,
        effect_basis="no effect assumed",
    ),
}


def with_effects(strategies: Mapping[str, Strategy] | None = None, effects: Mapping | None = None,
                 **kw_effects: tuple[float, float]) -> dict[str, Strategy]:
    """A copy of ``strategies`` (default :data:`DEFAULT_STRATEGIES`) with changed assumed effects.

    Give ``effects`` as a mapping ``{type: (low, high)}`` (fractions, e.g.
    ``{"Win-back": (0.02, 0.05)}``) and/or as keywords with spaces and hyphens
    written as underscores: ``with_effects(Vulnerable=(0.05, 0.10), Win_back=(0.02, 0.05))``.

    Raises ValueError for an unknown type, a value that is not a
    ``(low, high)`` pair, or one outside ``0 <= low <= high``.
    """
    out = dict(DEFAULT_STRATEGIES if strategies is None else strategies)
    lookup = {k.replace("-", "_").replace(" ", "_").lower(): k for k in out}
    items = {**dict(effects or {}), **kw_effects}
    for key, value in items.items():
        name = lookup.get(str(key).replace("-", "_").replace(" ", "_").lower())
        if name is None:
            raise ValueError(f"with_effects: unknown relationship type {key!r}; known: {', '.join(out)}")
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"with_effects: {key}= must be a (low, high) pair of fractions, e.g. (0.15, 0.20)") from None
        if not 0 <= low <= high:
            raise ValueError(f"with_effects: {key}=({low}, {high}) must satisfy 0 <= low <= high (fractions: 0.15 = 15 %)")
        out[name] = replace(out[name], effect_low=low, effect_high=high)
    return out


def strategy_table(strategies: Mapping[str, Strategy] | None = None) -> pd.DataFrame:
    """The strategies as a table: one row per relationship type, with the assumed effect as text."""
    strategies = DEFAULT_STRATEGIES if strategies is None else strategies
    rows = []
    for name, s in strategies.items():
        row = asdict(s)
        row["relationship"] = name
        row["assumed_effect"] = s.assumed_effect
        rows.append(row)
    return pd.DataFrame(rows).set_index("relationship")


def _mean_p_alive(segmentation, sub: pd.DataFrame, labels: pd.Series, order: list):
    """Mean P(alive) per type and the label of the model behind it (see :func:`relationship_summary`)."""
    params = segmentation.params if isinstance(segmentation, Segmentation) else {}
    p = params.get("p_alive") if isinstance(params.get("p_alive"), pd.Series) else None
    if p is not None:
        model = params.get("p_alive_model") or sub.attrs.get("p_alive_model") or "model not stated"
        p = p.reindex(labels.index)
    elif "p_alive" in sub.columns:
        p, model = sub["p_alive"], sub.attrs.get("p_alive_model", "model not stated")
    else:
        return np.nan, ""
    p = pd.to_numeric(p, errors="coerce")
    if str(model).startswith("BG/NBD"):
        # BG/NBD: P(alive) = 1 for every one-time buyer by construction; its mean over them says nothing
        if "frequency" in sub.columns:
            p = p.where(sub["frequency"].to_numpy() > 0)
            model = f"{model}, repeat buyers only (one-time buyers have P(alive) = 1 by construction)"
        else:
            model = f"{model} (one-time buyers have P(alive) = 1 by construction)"
    return p.groupby(labels.to_numpy(), sort=False).mean().reindex(order), model


def relationship_summary(
    segmentation: Segmentation | pd.Series,
    table: pd.DataFrame,
    *,
    strategies: Mapping[str, Strategy] | None = None,
    margin: float = DEFAULT_MARGIN,
) -> pd.DataFrame:
    """The relationship-type summary: size, value, strategy and the assumed profit effect in money.

    Parameters
    ----------
    segmentation: a relationship :class:`Segmentation` (or its labels).
    table: the customer table (``revenue``; ``clv`` and ``p_alive`` when present).
        ``mean_p_alive`` averages the P(alive) that typed the customers
        (the segmentation's ``params["p_alive"]`` when it has one, else the
        table's ``p_alive``).
    strategies: type -> :class:`~segwork.act.strategies.Strategy` (default
        :data:`~segwork.act.strategies.DEFAULT_STRATEGIES`).
    margin: profit share of revenue, for the segment margin.

    Returns
    -------
    DataFrame indexed by ``relationship`` (types in order) with ``customers``,
    ``share``, ``revenue_share``, ``mean_clv`` (NaN without a ``clv``
    column), ``mean_p_alive``, ``p_alive_model`` (the model behind it, e.g.
    ``"MBG/NBD"``; with the BG/NBD, which gives every one-time buyer
    P(alive) = 1 by construction, the mean is over repeat buyers only and the
    label says so; NaN for a type of one-time buyers only), ``strategy`` (goal), ``offer``,
    ``effect_low``/``effect_high`` (fractions), ``assumed_effect`` (text),
    ``segment_margin`` (margin x the type's revenue to date, the data's
    currency), ``implied_gain_low``/``implied_gain_high`` (= effect x
    segment margin) and ``effect_source`` (the figures are assumptions).
    """
    strategies = DEFAULT_STRATEGIES if strategies is None else strategies
    labels = segmentation.labels if isinstance(segmentation, Segmentation) else segmentation
    labels = labels.astype(str)
    require_columns(table, ["revenue"], "relationship_summary", "build it with segwork.prepare_table",
                    what="customer table")
    sub = table.reindex(labels.index)
    groups = sub.groupby(labels.to_numpy(), sort=False)
    order = [t for t in RELATIONSHIP_TYPES if t in set(labels)] + sorted(set(labels) - set(RELATIONSHIP_TYPES))
    out = pd.DataFrame(index=pd.Index(order, name="relationship"))
    out["customers"] = groups.size().reindex(order).fillna(0).astype(int)
    out["share"] = out["customers"] / out["customers"].sum()
    revenue = groups["revenue"].sum().reindex(order)
    out["revenue_share"] = revenue / sub["revenue"].sum()
    out["mean_clv"] = groups["clv"].mean().reindex(order) if "clv" in sub.columns else np.nan
    out["mean_p_alive"], out["p_alive_model"] = _mean_p_alive(segmentation, sub, labels, order)
    missing = [t for t in order if t not in strategies]
    if missing:
        raise DataError(f"relationship_summary: no strategy for type {missing[0]!r}; known: {', '.join(strategies)}")
    out["strategy"] = [strategies[t].goal for t in order]
    out["offer"] = [strategies[t].offer for t in order]
    out["effect_low"] = [strategies[t].effect_low for t in order]
    out["effect_high"] = [strategies[t].effect_high for t in order]
    out["assumed_effect"] = [strategies[t].assumed_effect for t in order]
    out["segment_margin"] = margin * revenue
    out["implied_gain_low"] = out["effect_low"] * out["segment_margin"]
    out["implied_gain_high"] = out["effect_high"] * out["segment_margin"]
    out["effect_source"] = EFFECT_SOURCE
    return out


@dataclass(frozen=True)
class RetentionAction:
    """One retention action, its assumed cost and the driver it removes (:mod:`segwork.act.retention`).

    Attributes
    ----------
    name: the action in a few words (``"resolve complaint"``).
    cost: the assumed cost per customer, in the data's currency (>= 0).
    driver: the column of the defection model's covariates the action sets
        to its reference level (``"open_complaint"`` -> 0: the complaint is
        resolved now; ``"contract"`` -> its reference level ``annual``); None
        for an action without a driver (the generic win-back contact), whose
        CLV saved is the relationship strategy's assumed effect (its
        ``effect_low``) times the customer's CLV.
    basis: what the cost stands for (shown next to the figure).
    """

    name: str
    cost: float
    driver: str | None
    basis: str


DEFAULT_RETENTION_ACTIONS: dict[str, RetentionAction] = {
    "resolve complaint": RetentionAction(
        "resolve complaint", 25.0, "open_complaint",
        "a service call that closes the complaint, with a small goodwill gesture"),
    "renew contract": RetentionAction(
        "renew contract", 40.0, "contract",
        "a renewal incentive (e.g. a month free) for a customer without a contract to sign one"),
    "change channel": RetentionAction(
        "change channel", 10.0, "acquisition_channel",
        "moving the relationship to the reference channel's service (an acquisition channel cannot be changed "
        "after the fact: the model's effect of the channel is assumed to follow the service)"),
    "win-back contact": RetentionAction(
        "win-back contact", 5.0, None,
        "one personal e-mail, letter or call; no driver removed: the relationship strategy's assumed effect"),
}


def with_costs(actions: Mapping[str, RetentionAction] | None = None, costs: Mapping | None = None,
               **kw_costs: float) -> dict[str, RetentionAction]:
    """A copy of ``actions`` (default :data:`DEFAULT_RETENTION_ACTIONS`) with changed costs.

    Give ``costs`` as a mapping ``{action: cost}`` (the data's currency per
    customer, e.g. ``{"renew contract": 60}``) and/or as keywords with spaces
    and hyphens written as underscores: ``with_costs(resolve_complaint=15)``.

    Raises ValueError for an unknown action or a cost that is not a finite number >= 0.
    """
    out = dict(DEFAULT_RETENTION_ACTIONS if actions is None else actions)
    lookup = {k.replace("-", "_").replace(" ", "_").lower(): k for k in out}
    for key, value in {**dict(costs or {}), **kw_costs}.items():
        name = lookup.get(str(key).replace("-", "_").replace(" ", "_").lower())
        if name is None:
            raise ValueError(f"with_costs: unknown retention action {key!r}; known: {', '.join(out)}")
        try:
            cost = float(value)
        except (TypeError, ValueError):
            cost = float("nan")
        if not (np.isfinite(cost) and cost >= 0):
            raise ValueError(f"with_costs: {key}={value!r} must be a finite cost >= 0 (the data's currency per "
                             "customer)")
        out[name] = replace(out[name], cost=cost)
    return out
