"""Campaign targeting: pick the customers most worth contacting, by segment and expected value.

Target marketing aims a campaign at the customers most likely to respond and
worth the most when they do, rather than at everyone: cheaper than mass
marketing and less of a nuisance to those left out (CRM.md). The expected
profit of contacting a customer is

``expected_profit = response_rate x value x margin_on_value - cost_per_contact``

where ``value`` is what a response is worth (by default the customer's
predicted CLV, already a margin when it was computed with a margin) and
``response_rate`` the probability that the contact makes the customer buy.
It is either assumed (per segment or the same for everyone) or, better,
estimated per customer from a purchase-propensity score
(:mod:`segwork.act.propensity`):

``response_rate = p_buy x incremental_share``

where ``incremental_share`` is the share of the predicted purchases the
contact causes (1 = every predicted purchase is credited to the campaign,
an upper bound; a campaign with a control group measures it, CRM.md
"Measuring what was done"). Customers are ranked by expected incremental
profit; selection stops where the expected margin no longer covers the
contact cost (expected profit <= 0), optionally earlier at a budget or a
number of contacts. Customers without permission for the channel are left
out and counted (``result.attrs["left_out_no_permission"]``).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._checks import check_number
from ..errors import DataError
from ..segment.base import Segmentation
from .channels import permitted

__all__ = ["select_targets"]


def select_targets(
    table: pd.DataFrame,
    segmentation: Segmentation | pd.Series | None = None,
    *,
    segments: list[str] | None = None,
    value: str = "clv",
    response_rate: float | Mapping[str, float] = 0.05,
    cost_per_contact: float = 1.0,
    margin_on_value: float = 1.0,
    budget: float | None = None,
    max_contacts: int | None = None,
    opt_in_column: str | None = None,
    channel: str | None = None,
    propensity: str | pd.Series | None = None,
    incremental_share: float = 1.0,
) -> pd.DataFrame:
    """Rank customers by the expected profit of contacting them and select the campaign targets.

    Parameters
    ----------
    table: customer table with the ``value`` column (e.g. from
        :func:`segwork.prepare_table`, which adds ``clv``).
    segmentation: optional segments (a :class:`Segmentation` or labels) used
        to restrict to ``segments`` and for per-segment response rates.
    segments: only customers in these segments are candidates.
    value: column with what a response is worth (the data's currency).
    response_rate: assumed response probability (0..1), one number or a
        mapping segment -> rate (segments missing from it get 0).
    cost_per_contact: cost of one contact (the data's currency).
    margin_on_value: share of ``value`` that is profit (1 when ``value`` is
        already a margin, e.g. CLV computed with a margin).
    budget: maximum total contact cost; ``max_contacts``: maximum number of
        contacts. Best expected profit first.
    opt_in_column: a boolean column; customers without permission are left
        out (permission marketing), e.g. ``"email_opt_in"``; their number is
        in ``result.attrs["left_out_no_permission"]``.
    channel: the campaign's contact channel (``"email"``, ``"sms"``,
        ``"phone"``, ``"post"``): the same as ``opt_in_column="<channel>_opt_in"``.
    propensity: P(buy in the campaign period) per customer (0..1): a column
        of ``table`` or a Series indexed by customer_id, e.g.
        ``clv_propensity(...)["p_buy"]``. Replaces ``response_rate`` (which
        must then stay at its default); every candidate needs a score.
    incremental_share: share (0..1] of the predicted purchases caused by
        the contact; only with ``propensity``.

    Returns
    -------
    DataFrame of the selected customers, best first, indexed by
    customer_id, with ``segment`` (when given), ``value``,
    ``response_rate``, ``expected_profit`` and ``cumulative_profit``; with
    ``propensity`` also ``p_buy``. ``attrs``: ``left_out_no_permission``
    (int), ``n_candidates`` (before the profit cut) and ``n_unprofitable``.

    Raises
    ------
    DataError: a column is missing, a value or score is missing or outside
        0..1, an unknown segment, a negative, NaN or infinite cost, margin,
        budget or max_contacts (naming the parameter and the value), per-segment rates without a
        segmentation, both ``propensity`` and a non-default
        ``response_rate``, or a channel without its permission column.
    """
    if value not in table.columns:
        raise DataError(f"select_targets: the value column {value!r} is not in the table "
                        f"(available: {', '.join(map(str, table.columns))}); prepare_table adds 'clv'")
    where = "select_targets"
    check_number(where, "cost_per_contact", cost_per_contact, low=0, unit="the data's currency")
    check_number(where, "margin_on_value", margin_on_value, low=0, unit="share of value")
    if budget is not None:
        check_number(where, "budget", budget, low=0, unit="the data's currency")
    if max_contacts is not None:
        check_number(where, "max_contacts", max_contacts, low=0, integer=True, unit="contacts")
    frame = pd.DataFrame({"value": pd.to_numeric(table[value], errors="coerce")}, index=table.index)
    if frame["value"].isna().any():
        bad = frame.index[frame["value"].isna()][0]
        raise DataError(f"select_targets: the value of customer {bad!r} is missing")
    if segmentation is not None:
        labels = segmentation.labels if isinstance(segmentation, Segmentation) else segmentation
        labels = labels.astype(str)
        frame["segment"] = labels.reindex(frame.index)
        if segments is not None:
            unknown = sorted(set(segments) - set(labels))
            if unknown:
                raise DataError(f"select_targets: segment {unknown[0]!r} does not occur (segments: "
                                f"{', '.join(sorted(set(labels)))})")
            frame = frame[frame["segment"].isin(segments)]
    elif segments is not None or isinstance(response_rate, Mapping):
        raise DataError("select_targets: segments and per-segment response rates need a segmentation")
    left_out = 0
    if opt_in_column is not None or channel is not None:
        allowed = permitted(table, channel, column=opt_in_column, where="select_targets")
        allowed = allowed.reindex(frame.index).to_numpy()
        left_out = int((~allowed).sum())
        frame = frame[allowed]
    if propensity is not None:
        if isinstance(response_rate, Mapping) or response_rate != 0.05:
            raise DataError("select_targets: give either propensity or response_rate, not both")
        if not 0 < incremental_share <= 1:
            raise DataError(f"select_targets: incremental_share={incremental_share} must lie in (0, 1]")
        if isinstance(propensity, str):
            if propensity not in table.columns:
                raise DataError(f"select_targets: the propensity column {propensity!r} is not in the table "
                                "(segwork.act.propensity computes p_buy)")
            score = table[propensity]
        else:
            score = propensity
        score = pd.to_numeric(score.reindex(frame.index), errors="coerce")
        if score.isna().any():
            raise DataError(f"select_targets: customer {score.index[score.isna()][0]!r} has no propensity score")
        if ((score < 0) | (score > 1)).any():
            raise DataError("select_targets: propensity scores must lie between 0 and 1 (a probability)")
        frame["p_buy"] = score.astype(float)
        rates = frame["p_buy"] * float(incremental_share)
    elif isinstance(response_rate, Mapping):
        rates = frame["segment"].map({str(k): float(v) for k, v in response_rate.items()}).fillna(0.0)
    else:
        rates = pd.Series(float(response_rate), index=frame.index)
    outside = (rates < 0) | (rates > 1) | ~np.isfinite(rates)
    if outside.any():
        raise DataError(f"select_targets: response rates must lie between 0 and 1 (a probability), got "
                        f"{float(rates[outside].iloc[0]):g}")
    frame["response_rate"] = rates
    frame["expected_profit"] = rates * frame["value"] * margin_on_value - cost_per_contact
    n_candidates = len(frame)
    frame = frame[frame["expected_profit"] > 0].sort_values("expected_profit", ascending=False, kind="stable")
    n_unprofitable = n_candidates - len(frame)
    if budget is not None:
        n = int(np.floor(budget / cost_per_contact)) if cost_per_contact > 0 else len(frame)
        frame = frame.iloc[:max(n, 0)]
    if max_contacts is not None:
        frame = frame.iloc[:max(int(max_contacts), 0)]
    frame["cumulative_profit"] = frame["expected_profit"].cumsum()
    frame.index.name = "customer_id"
    frame.attrs = {"left_out_no_permission": left_out, "n_candidates": n_candidates,
                   "n_unprofitable": n_unprofitable}
    return frame
