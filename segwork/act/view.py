"""Single customer view: everything known about one customer in one place (CRM.md "Acting on segments")."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ..clv.margin import DEFAULT_MARGIN, value_label
from ..errors import DataError
from ..segment.base import Segmentation
from .strategies import DEFAULT_STRATEGIES, Strategy

__all__ = ["HISTORY_COLUMNS", "VALUE_COLUMNS", "CustomerView", "customer_view"]

#: Transaction-history summary columns of the prepared table (days, the data's currency).
HISTORY_COLUMNS = ("n_transactions", "revenue", "mean_amount", "days_since_last", "T")
#: RFM and model columns (frequency in repeat purchase days, recency/T in days, money in the data's currency).
VALUE_COLUMNS = ("frequency", "recency", "monetary_value", "purchase_rate", "p_alive", "clv", "expected_purchases",
                 "p_buy")


@dataclass(frozen=True)
class CustomerView:
    """Everything known about one customer (:func:`customer_view`); a typed result, not a dict of names.

    ``customer_id`` (text); ``profile``: column -> value (the table's
    non-behaviour columns, survey answers included); ``permissions``:
    ``*_opt_in`` column -> bool; ``mix``: ``cat_*`` / ``ch_*`` share of
    purchases by category and channel (0..1); ``history`` and ``value``:
    :data:`HISTORY_COLUMNS` / :data:`VALUE_COLUMNS` present in the table ->
    float (days, the data's currency); ``segments``: segmentation name ->
    label (None where the customer has none); ``relationship``: the type or
    None; ``strategy`` (its goal) and ``offer``, or None; ``triggers`` and
    ``recommendations``: row dicts of the pending events and offers (empty
    lists when none were given); ``value_label``: what ``value["clv"]`` is,
    :func:`segwork.clv.margin.value_label` of the table's margin (e.g.
    ``"CLV (margin 30 %)"``, ``"expected revenue"`` at margin 1).
    """

    customer_id: str
    profile: dict
    permissions: dict
    mix: dict
    history: dict
    value: dict
    segments: dict
    relationship: str | None
    strategy: str | None
    offer: str | None
    triggers: list
    recommendations: list
    value_label: str = value_label(DEFAULT_MARGIN)

    @property
    def figures(self) -> dict:
        """``history`` and ``value`` in one mapping (column -> float)."""
        return {**self.history, **self.value}

    @property
    def attributes(self) -> dict:
        """``profile``, ``permissions`` and ``mix`` in one mapping (column -> value)."""
        return {**self.profile, **self.permissions, **self.mix}


def customer_view(customer_id, table: pd.DataFrame,
                  segmentations: Mapping[str, Segmentation | pd.Series] | None = None, *,
                  relationship: str = "relationship", strategies: Mapping[str, Strategy] | None = None,
                  triggers: pd.DataFrame | None = None,
                  recommendations: pd.DataFrame | None = None, margin: float = DEFAULT_MARGIN) -> CustomerView:
    """One customer's profile, permissions, history, value, segments, relationship, triggers and offers.

    Parameters
    ----------
    customer_id: the customer (compared as text with the table's index).
    table: the prepared customer table (:func:`segwork.prepare_table`),
        indexed by customer_id; optional ``expected_purchases`` / ``p_buy``
        columns (from :mod:`segwork.act.propensity`) are shown too.
    segmentations: name -> :class:`Segmentation` or label Series.
    relationship: the name of the relationship-type segmentation among them.
    strategies: relationship type -> :class:`Strategy` (default
        :data:`DEFAULT_STRATEGIES`).
    triggers: rows of :func:`segwork.act.triggers` (pending events).
    recommendations: rows of :func:`segwork.act.recommend` (offers).
    margin: the profit share of revenue the table's ``clv`` was computed at
        (the ``margin`` given to :func:`segwork.prepare.prepare_table`, default
        :data:`~segwork.clv.margin.DEFAULT_MARGIN`); it names the value
        (``CustomerView.value_label``), it does not change a number.

    Returns
    -------
    A :class:`CustomerView` (its fields are described there).

    Raises
    ------
    DataError: the customer is not in the table (naming it and the fix); ``margin`` not a finite number >= 0.
    """
    label = value_label(margin)
    cid = str(customer_id)
    index = table.index.astype(str)
    if cid not in index:
        raise DataError(f"customer_view: no customer {cid!r} in the table ({len(table)} customers); "
                        "check the id, or prepare the table from data that includes them")
    row = table.iloc[index.get_loc(cid)]
    behaviour = set(HISTORY_COLUMNS) | set(VALUE_COLUMNS)
    permissions = {c: bool(row[c]) for c in table.columns if str(c).endswith("_opt_in") and pd.notna(row[c])}
    mix = {str(c): float(row[c]) for c in table.columns if str(c).startswith(("cat_", "ch_")) and pd.notna(row[c])}
    profile = {}
    for c in table.columns:
        if c in behaviour or c in permissions or c in mix:
            continue
        v = row[c]
        if v is None or v is pd.NA or (not isinstance(v, str) and pd.isna(v)):
            continue
        profile[str(c)] = v
    history = {c: float(row[c]) for c in HISTORY_COLUMNS if c in table.columns}
    value = {c: float(row[c]) for c in VALUE_COLUMNS if c in table.columns}
    segments = {}
    for name, seg in (segmentations or {}).items():
        labels = seg.labels if isinstance(seg, Segmentation) else seg
        labels = labels.copy()
        labels.index = labels.index.astype(str)
        segments[str(name)] = str(labels[cid]) if cid in labels.index else None
    rel = segments.get(relationship)
    st = (DEFAULT_STRATEGIES if strategies is None else strategies).get(rel) if rel is not None else None

    def rows(frame):
        if frame is None or len(frame) == 0:
            return []
        return frame[frame["customer_id"].astype(str) == cid].to_dict("records")

    return CustomerView(customer_id=cid, profile=profile, permissions=permissions, mix=mix, history=history,
                        value=value, segments=segments, relationship=rel, strategy=st.goal if st else None,
                        offer=st.offer if st else None, triggers=rows(triggers),
                        recommendations=rows(recommendations), value_label=label)
