"""Campaign measurement: actual against plan, with a random control group.

A campaign contacts a *treatment* group and leaves a random *control* group
uncontacted. The control group shows what would have happened anyway, so
the campaign's effect is the **uplift** (incremental response rate)

``uplift = rate_treatment - rate_control``

with a normal-approximation (Wald) interval for a difference of two
proportions, ``uplift +- z * sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0)``
(Agresti, *Categorical Data Analysis*, 3rd ed., 2013, sec. 3.1), and the
**incremental profit** ``uplift x n_treatment x value_per_response -
cost_per_contact x n_treatment`` (CRM.md "Measuring what was done").

:func:`simulate_campaign` plants such a campaign on synthetic data (from
``make_crm(...).truth``) with a known true uplift per segment, so that
:func:`campaign_results` can be checked against it. ``make_crm`` itself is
not changed (its frames for a seed stay as they are).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError

__all__ = ["DEFAULT_UPLIFT", "simulate_campaign", "campaign_results"]

#: True uplift (added response probability) per planted segment of make_crm, an assumption of the simulation.
DEFAULT_UPLIFT: dict[str, float] = {"loyal premium": 0.02, "bargain hunters": 0.08, "convenience seekers": 0.05,
                                    "tech enthusiasts": 0.04, "occasional gifters": 0.10}


def simulate_campaign(truth: pd.DataFrame, date, *, window_days: int = 30, control_share: float = 0.2,
                      uplift: Mapping[str, float] | None = None, seed: int = 0) -> pd.DataFrame:
    """A past campaign on synthetic customers: random control group, responses with a planted uplift.

    Every customer alive at ``date`` (truth's ``dropout_date``) is in the
    campaign; a random ``control_share`` of them is not contacted. A
    customer's response probability without contact is their true chance of
    buying within ``window_days``, ``p0 = 1 - exp(-purchase_rate x days / 7)``;
    with contact ``p1 = min(1, p0 + uplift[segment])``.

    Parameters
    ----------
    truth: ``make_crm(...).truth`` (``segment``, ``purchase_rate`` per
        week, ``dropout_date``), indexed by customer_id.
    date: the campaign date; window_days: the response window in days.
    control_share: share held out as control, in (0, 1).
    uplift: segment -> added response probability (default
        :data:`DEFAULT_UPLIFT`; segments missing from it get 0).
    seed: seed of the group draw and the responses (same seed, same frame).

    Returns
    -------
    DataFrame indexed by customer_id with ``segment``, ``group``
    (``"treatment"``/``"control"``), ``responded`` (bool), ``p_control``,
    ``p_treatment`` and ``true_uplift`` (= p_treatment - p_control).
    ``attrs["true_uplift"]``: the planted mean uplift over the treatment group.

    Raises DataError for a truth table without those columns or a bad share.
    """
    needed = {"segment", "purchase_rate", "dropout_date"}
    if not isinstance(truth, pd.DataFrame) or not needed <= set(truth.columns):
        raise DataError("simulate_campaign: needs make_crm's truth table (segment, purchase_rate, dropout_date)")
    if not 0 < control_share < 1:
        raise DataError(f"simulate_campaign: control_share={control_share!r} must lie strictly between 0 and 1")
    ts = pd.Timestamp(date).normalize()
    alive = truth["dropout_date"].isna() | (truth["dropout_date"] > ts)
    t = truth[alive]
    if len(t) == 0:
        raise DataError(f"simulate_campaign: no customer is alive on {ts.date()}")
    rng = np.random.default_rng(seed)
    seg = t["segment"].astype(str)
    up = seg.map(dict(DEFAULT_UPLIFT if uplift is None else uplift)).fillna(0.0).to_numpy(dtype=float)
    p0 = -np.expm1(-t["purchase_rate"].to_numpy(dtype=float) * window_days / 7.0)
    p1 = np.minimum(1.0, p0 + up)
    control = rng.random(len(t)) < control_share
    p = np.where(control, p0, p1)
    out = pd.DataFrame({"segment": seg.to_numpy(), "group": np.where(control, "control", "treatment"),
                        "responded": rng.random(len(t)) < p, "p_control": p0, "p_treatment": p1,
                        "true_uplift": p1 - p0}, index=t.index.astype(str))
    out.index.name = "customer_id"
    out.attrs["true_uplift"] = float(out.loc[~control, "true_uplift"].mean())
    return out


def _row(resp: pd.Series, group: pd.Series, z: float, value: float, cost: float, planned_rate) -> dict:
    treat, ctrl = resp[group == "treatment"], resp[group == "control"]
    n1, n0 = len(treat), len(ctrl)
    if n1 == 0 or n0 == 0:
        return {"n_treatment": n1, "n_control": n0}
    p1, p0 = float(treat.mean()), float(ctrl.mean())
    se = float(np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0))
    u = p1 - p0
    row = {"n_treatment": n1, "n_control": n0, "rate_treatment": p1, "rate_control": p0, "uplift": u,
           "uplift_low": u - z * se, "uplift_high": u + z * se, "incremental_responses": u * n1,
           "incremental_profit": u * n1 * value - cost * n1}
    if planned_rate is not None:
        row["planned_uplift"] = planned_rate
        row["planned_profit"] = planned_rate * n1 * value - cost * n1
    return row


def campaign_results(campaign: pd.DataFrame, *, value_per_response: float = 0.0, cost_per_contact: float = 0.0,
                     planned_uplift: float | Mapping[str, float] | None = None,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Response of contacted vs control, the uplift with its interval and the incremental profit, per segment and overall.

    Parameters
    ----------
    campaign: one row per customer with ``group`` (``"treatment"`` /
        ``"control"``), ``responded`` (bool) and optional ``segment``.
    value_per_response: margin of one response (the data's currency).
    cost_per_contact: cost of one contact (the data's currency).
    planned_uplift: the plan's incremental response rate (one number or
        per segment), compared with the actual one.
    confidence: of the interval (0.95 = 95 %).

    Returns
    -------
    DataFrame indexed by segment plus ``"all"`` with ``n_treatment``,
    ``n_control``, ``rate_treatment``, ``rate_control``, ``uplift``,
    ``uplift_low``, ``uplift_high`` (rates 0..1), ``incremental_responses``
    and ``incremental_profit`` (currency); with a plan also
    ``planned_uplift`` and ``planned_profit``. A segment without a control
    (or treatment) customer has NaN figures.

    Raises DataError for missing columns, unknown groups, no control group
    or a confidence outside (0, 1).
    """
    for col in ("group", "responded"):
        if col not in campaign.columns:
            raise DataError(f"campaign_results: column {col!r} is missing (columns: "
                            f"{', '.join(map(str, campaign.columns))})")
    groups = set(campaign["group"].astype(str))
    if not groups <= {"treatment", "control"}:
        raise DataError(f"campaign_results: group {sorted(groups - {'treatment', 'control'})[0]!r} is not "
                        "'treatment' or 'control'")
    if "control" not in groups or "treatment" not in groups:
        raise DataError("campaign_results: the campaign needs both a treatment and a control group; without a "
                        "control the uplift cannot be measured")
    if not 0 < confidence < 1:
        raise DataError(f"campaign_results: confidence={confidence!r} must lie in (0, 1)")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    resp = campaign["responded"].astype(bool).astype(float)
    group = campaign["group"].astype(str)
    rows = {}
    if "segment" in campaign.columns:
        for seg, idx in campaign.groupby(campaign["segment"].astype(str)).groups.items():
            plan = planned_uplift.get(seg) if isinstance(planned_uplift, Mapping) else planned_uplift
            rows[seg] = _row(resp[idx], group[idx], z, value_per_response, cost_per_contact, plan)
    overall_plan = None if isinstance(planned_uplift, Mapping) else planned_uplift
    rows["all"] = _row(resp, group, z, value_per_response, cost_per_contact, overall_plan)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "segment"
    return out
