"""Campaign targeting: pick the customers most worth contacting, by segment and expected value.

Target marketing aims a campaign at the customers most likely to respond and
worth the most when they do, rather than at everyone: cheaper than mass
marketing and less of a nuisance to those left out (CRM.md). The expected
profit of contacting a customer is

``expected_profit = response_rate x value x margin_on_value - cost_per_contact``

where ``value`` is what a response is worth (by default the customer's
predicted CLV, already a margin when it was computed with a margin) and
``response_rate`` the assumed probability that the customer responds, per
segment or the same for everyone. Customers are ranked by expected profit;
those with a positive expected profit are selected, optionally capped by a
budget or a number of contacts.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError
from ..segment.base import Segmentation

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
        out (permission marketing), e.g. ``"email_opt_in"``.

    Returns
    -------
    DataFrame of the selected customers, best first, indexed by
    customer_id, with ``segment`` (when given), ``value``,
    ``response_rate``, ``expected_profit`` and ``cumulative_profit``.
    """
    if value not in table.columns:
        raise DataError(f"select_targets: the value column {value!r} is not in the table "
                        f"(available: {', '.join(map(str, table.columns))}); prepare_table adds 'clv'")
    if cost_per_contact < 0:
        raise DataError(f"select_targets: cost_per_contact={cost_per_contact} must be >= 0")
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
    if opt_in_column is not None:
        if opt_in_column not in table.columns:
            raise DataError(f"select_targets: the opt-in column {opt_in_column!r} is not in the table")
        allowed = table[opt_in_column].astype("boolean").fillna(False).astype(bool)
        frame = frame[allowed.reindex(frame.index).to_numpy()]
    if isinstance(response_rate, Mapping):
        rates = frame["segment"].map({str(k): float(v) for k, v in response_rate.items()}).fillna(0.0)
    else:
        rates = pd.Series(float(response_rate), index=frame.index)
    if ((rates < 0) | (rates > 1)).any():
        raise DataError("select_targets: response rates must lie between 0 and 1")
    frame["response_rate"] = rates
    frame["expected_profit"] = rates * frame["value"] * margin_on_value - cost_per_contact
    frame = frame[frame["expected_profit"] > 0].sort_values("expected_profit", ascending=False, kind="stable")
    if budget is not None:
        n = int(np.floor(budget / cost_per_contact)) if cost_per_contact > 0 else len(frame)
        frame = frame.iloc[:max(n, 0)]
    if max_contacts is not None:
        frame = frame.iloc[:max(int(max_contacts), 0)]
    frame["cumulative_profit"] = frame["expected_profit"].cumsum()
    frame.index.name = "customer_id"
    return frame
