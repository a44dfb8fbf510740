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

``make_crm`` builds such a campaign in (``Dataset.campaign``, made by
:func:`segwork.datasets.plant_campaign`) with a known true uplift per
segment in its ``truth``; :func:`planted_uplift` reads it so that
:func:`campaign_results` can be checked against it.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError

__all__ = ["campaign_results", "planted_uplift"]

def planted_uplift(campaign: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """The true uplift planted in a synthetic campaign, per segment and overall (what :func:`campaign_results` estimates).

    Parameters
    ----------
    campaign: one row per customer in the campaign with ``customer_id``
        (``make_crm(...).campaign``) and optional ``segment`` (else the
        planted ``truth["segment"]`` is used).
    truth: ``make_crm(...).truth`` with ``campaign_true_uplift`` (added
        response probability of a contact, 0..1), indexed by customer_id.

    Returns
    -------
    Float Series indexed by segment plus ``"all"``: the mean true uplift
    over the campaign's customers (the average effect a random control group
    lets one estimate), named ``planted_uplift``.

    Raises DataError when truth has no planted campaign, the campaign has no
    ``customer_id``, or a campaign customer has no planted uplift.
    """
    if "customer_id" not in campaign.columns:
        raise DataError("planted_uplift: the campaign has no 'customer_id' column (use make_crm(...).campaign)")
    if "campaign_true_uplift" not in truth.columns:
        raise DataError("planted_uplift: truth has no 'campaign_true_uplift' column; only make_crm's truth knows "
                        "the planted uplift (real data has none)")
    t = truth.set_axis(truth.index.astype(str))
    ids = campaign["customer_id"].astype(str)
    up = t["campaign_true_uplift"].reindex(ids)
    if up.isna().any():
        raise DataError(f"planted_uplift: customer {ids[up.isna().to_numpy()].iloc[0]!r} of the campaign has no "
                        "planted uplift in truth; pass the truth of the same data set")
    seg = (campaign["segment"].astype(str).to_numpy() if "segment" in campaign.columns
           else t["segment"].astype(str).reindex(ids).to_numpy())
    up = pd.Series(up.to_numpy(dtype=float), index=ids.to_numpy())
    out = up.groupby(seg).mean()
    out.loc["all"] = float(up.mean())
    out.index.name = "segment"
    return out.rename("planted_uplift")


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
