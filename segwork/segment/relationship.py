"""Relationship types: prospective, loyal, vulnerable, win-back, from P(alive), recency and value.

Each customer's relationship with the company is in one of a few states that
call for different strategies (see :mod:`segwork.act.strategies`, whose
:func:`~segwork.act.relationship_summary` puts them next to the types):

* **Prospective**: just became a customer: one purchase, made recently.
* **Loyal**: alive and buying often: P(alive) high and a purchase rate at
  least the typical (median) rate of repeat buyers; customers with a slow
  rhythm but high value (e.g. a few big purchases a year) count too.
* **Vulnerable**: valuable, not lapsed, but the probability of being alive
  is low-ish / falling: below the "alive" threshold.
* **Win-back**: lapsed (P(alive) low; or a single purchase long ago) and had
  value.
* **Other**: the rest (lapsed with little value; alive but buying rarely).

P(alive) comes from a BG/NBD model (:class:`segwork.clv.BetaGeo`) fitted on
the table's ``frequency``, ``recency`` and ``T`` (in weeks): the table's own
``p_alive`` column when it has one (as :func:`segwork.prepare_table`
adds, from the same model), else a fit made here: the probability
that the customer has not silently left, given how often they bought and how
long they have been quiet *for their own rhythm*. BG/NBD lets customers leave
only after a repeat purchase, so it gives one-time buyers P(alive) = 1; for
them the time since their single purchase decides instead (``recent_days``).

Rules, tried in this order (first match wins)::

    Prospective  frequency = 0 and days_since_last <= recent_days
    Win-back     lapsed and value >= value cut
    Loyal        repeat buyer, p_alive >= p_loyal and (purchase_rate >= rate cut or value >= value cut)
    Vulnerable   repeat buyer, p_lapsed <= p_alive < p_loyal and value >= value cut
    Other        the rest

with ``lapsed = (frequency > 0 and p_alive < p_lapsed) or (frequency = 0 and
days_since_last > recent_days)``; the value cut is the ``value_quantile`` of
the value (default the median of historical revenue), the rate cut the
``rate_quantile`` of the purchase rate (purchase days per 30 days) among
repeat buyers. Cuts are learned at fit and reused by ``predict``.

Defaults: ``p_loyal = 0.7``, ``p_lapsed = 0.3``, ``recent_days = 180``. On
``make_crm`` (whose truth says who is still alive) about 95 % of the Win-back
customers have truly left and about 93 % of the Loyal are truly alive (the
base rate is about 57 % alive); see the tests.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import require_columns
from .._checks import check_fitted
from ..clv.predict import bg_nbd_inputs
from ..errors import DataError
from .base import Segmentation

__all__ = ["RelationshipTyper", "relationship_segmentation", "RELATIONSHIP_TYPES"]

#: The types, in display order.
RELATIONSHIP_TYPES = ("Prospective", "Loyal", "Vulnerable", "Win-back", "Other")

_NEEDED = ("frequency", "recency", "T", "days_since_last", "purchase_rate")


_TABLE_HINT = "build it with segwork.features.customer_table"


def _check_table(table: pd.DataFrame, value: str, where: str) -> None:
    require_columns(table, (*_NEEDED, value), where, _TABLE_HINT, what="customer table")


class RelationshipTyper(BaseEstimator):
    """Type each customer's relationship (Prospective, Loyal, Vulnerable, Win-back, Other).

    Parameters
    ----------
    p_loyal: P(alive) at or above which a customer counts as alive (for Loyal).
    p_lapsed: P(alive) below which a repeat buyer counts as lapsed.
    recent_days: a one-time buyer is Prospective while their purchase is at
        most this many days old, lapsed after.
    value: the value column ("had value" / "valuable"), default ``revenue``
        (historical, the data's currency); e.g. ``"clv"``.
    value_quantile: the value cut as a quantile of the value (0.5 = median).
    rate_quantile: the "buying often" cut as a quantile of the purchase rate
        of repeat buyers.
    model: a fitted :class:`segwork.clv.BetaGeo` (time in weeks) giving
        P(alive). None (default): use the table's ``p_alive`` column when it
        has one (e.g. from :func:`segwork.prepare_table`, which fits
        the same BG/NBD), else fit BG/NBD on the table.

    Attributes (after ``fit``)
    --------------------------
    value_cut_, rate_cut_, p_alive_ (Series), p_alive_source_ ("model",
    "table" or "fitted"), labels_, and :meth:`describe` (the rules with the
    fitted cuts). ``model_`` is the BG/NBD (given, or fitted at ``fit`` on the
    table's histories, also when the labels use the table's ``p_alive``);
    ``predict`` takes P(alive) of new customers from it.
    """

    def __init__(self, p_loyal: float = 0.7, p_lapsed: float = 0.3, recent_days: float = 180,
                 value: str = "revenue", value_quantile: float = 0.5, rate_quantile: float = 0.5, model=None):
        self.p_loyal = p_loyal
        self.p_lapsed = p_lapsed
        self.recent_days = recent_days
        self.value = value
        self.value_quantile = value_quantile
        self.rate_quantile = rate_quantile
        self.model = model

    def _validate_params(self) -> None:
        if not 0 <= self.p_lapsed <= self.p_loyal <= 1:
            raise DataError(f"RelationshipTyper: need 0 <= p_lapsed ({self.p_lapsed}) <= p_loyal ({self.p_loyal}) <= 1")
        for name in ("value_quantile", "rate_quantile"):
            q = getattr(self, name)
            if not 0 <= q <= 1:
                raise DataError(f"RelationshipTyper: {name}={q} must lie between 0 and 1")
        if not self.recent_days >= 0:
            raise DataError(f"RelationshipTyper: recent_days={self.recent_days} must be >= 0 (days)")

    def fit(self, table: pd.DataFrame) -> "RelationshipTyper":
        """Get P(alive) (``model``, the table's ``p_alive``, or a BG/NBD fit), learn the cuts, type the customers."""
        self._validate_params()
        _check_table(table, self.value, "RelationshipTyper.fit")
        if len(table) < len(RELATIONSHIP_TYPES):
            raise DataError(f"RelationshipTyper.fit: {len(table)} customer(s) is fewer than the "
                            f"{len(RELATIONSHIP_TYPES)} relationship types; type a larger customer base")
        value = pd.to_numeric(table[self.value], errors="coerce")
        if value.isna().all():
            raise DataError(f"RelationshipTyper.fit: the value column {self.value!r} is all missing")
        if value.isna().any():
            bad = value.index[value.isna()][0]
            raise DataError(f"RelationshipTyper.fit: the value column {self.value!r} is missing for customer {bad!r}")
        given = table["p_alive"] if "p_alive" in table.columns else None
        if self.model is not None:
            self.model_, self.p_alive_source_ = self.model, "model"
        else:
            # Fitted here even when the table brings P(alive) (the same BG/NBD as predict_clv's, so the
            # same numbers): fitting on unique histories takes milliseconds, and predict then places
            # new customers without refitting.
            from ..clv import BetaGeo

            x = bg_nbd_inputs(table)
            self.model_ = BetaGeo().fit(x["frequency"], x["recency"], x["T"])
            usable = given is not None and np.isfinite(pd.to_numeric(given, errors="coerce").to_numpy(dtype=float)).all()
            self.p_alive_source_ = "table" if usable else "fitted"
        self.value_cut_ = float(value.quantile(self.value_quantile))
        repeat = table["frequency"] > 0
        rates = table.loc[repeat, "purchase_rate"] if repeat.any() else table["purchase_rate"]
        self.rate_cut_ = float(rates.quantile(self.rate_quantile))
        if self.p_alive_source_ == "table":
            self.p_alive_ = pd.Series(given.to_numpy(dtype=float), index=table.index, name="p_alive")
        else:
            self.p_alive_ = self._p_alive(table)
        self.labels_ = self._type(table, self.p_alive_)
        return self

    def p_alive(self, table: pd.DataFrame) -> pd.Series:
        """P(alive) of (new) customers from the BG/NBD model (``frequency``, ``recency``, ``T`` in days)."""
        check_fitted(self, "labels_", "fit(table)")
        return self._p_alive(table)

    def _p_alive(self, table: pd.DataFrame) -> pd.Series:
        x = bg_nbd_inputs(table)
        p = self.model_.p_alive(x["frequency"].to_numpy(), x["recency"].to_numpy(), x["T"].to_numpy())
        return pd.Series(np.asarray(p, dtype=float), index=table.index, name="p_alive")

    def _type(self, table: pd.DataFrame, p: pd.Series) -> pd.Series:
        x = table["frequency"].to_numpy(dtype=float)
        quiet = table["days_since_last"].to_numpy(dtype=float)
        rate = table["purchase_rate"].to_numpy(dtype=float)
        value = pd.to_numeric(table[self.value], errors="coerce").to_numpy(dtype=float)
        pa = p.to_numpy(dtype=float)
        one = x == 0
        lapsed = (~one & (pa < self.p_lapsed)) | (one & (quiet > self.recent_days))
        valuable = value >= self.value_cut_
        conditions = [
            one & (quiet <= self.recent_days),
            lapsed & valuable,
            ~lapsed & ~one & (pa >= self.p_loyal) & ((rate >= self.rate_cut_) | valuable),
            ~lapsed & ~one & (pa < self.p_loyal) & valuable,
        ]
        labels = np.select(conditions, list(RELATIONSHIP_TYPES[:1]) + ["Win-back", "Loyal", "Vulnerable"],
                           default="Other")
        return pd.Series(labels.astype(object), index=table.index, name="segment")

    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Relationship types of (new) customers, with the fitted model and cuts."""
        check_fitted(self, "labels_", "fit(table)")
        _check_table(table, self.value, "RelationshipTyper.predict")
        return self._type(table, self.p_alive(table))

    def describe(self) -> pd.DataFrame:
        """The typing rules with the fitted cuts, one row per type, in order."""
        check_fitted(self, "labels_", "fit(table)")
        v, r = f"{self.value} >= {self.value_cut_:,.2f}", f"purchase_rate >= {self.rate_cut_:.3g} per 30 days"
        lapsed = f"(p_alive < {self.p_lapsed:g} with repeat purchases, or one purchase > {self.recent_days:g} days ago)"
        rows = [
            ("Prospective", f"one purchase, made at most {self.recent_days:g} days ago"),
            ("Win-back", f"lapsed {lapsed} and {v}"),
            ("Loyal", f"repeat buyer, p_alive >= {self.p_loyal:g} and ({r} or {v})"),
            ("Vulnerable", f"repeat buyer, {self.p_lapsed:g} <= p_alive < {self.p_loyal:g} and {v}"),
            ("Other", "the rest"),
        ]
        return pd.DataFrame(rows, columns=["relationship", "rule"]).set_index("relationship")


def relationship_segmentation(
    table: pd.DataFrame,
    *,
    p_loyal: float = 0.7,
    p_lapsed: float = 0.3,
    recent_days: float = 180,
    value: str = "revenue",
    value_quantile: float = 0.5,
    rate_quantile: float = 0.5,
    name: str = "relationship",
    model=None,
) -> Segmentation:
    """Relationship types of the customers of a customer table (see the module docs).

    P(alive) comes from ``model`` (a fitted BG/NBD, weeks) when given, else
    the table's ``p_alive`` column when present (as
    :func:`segwork.prepare_table` adds), else a BG/NBD fitted here
    (see :class:`RelationshipTyper`).

    Returns a :class:`Segmentation` named ``name`` with the types as labels;
    ``description`` is the rule table; ``params`` holds the settings, the cuts,
    ``p_alive`` (Series) and ``p_alive_source``. The profile includes the mean ``clv`` when the
    table has a ``clv`` column (see :func:`segwork.clv.predict_clv`).
    """
    typer = RelationshipTyper(p_loyal, p_lapsed, recent_days, value, value_quantile, rate_quantile,
                              model=model).fit(table)
    profile_table = table.copy()
    profile_table["p_alive"] = typer.p_alive_
    return Segmentation(
        typer.labels_, name=name, method="relationship types from BG/NBD P(alive), recency and value",
        description=typer.describe(), segmenter=typer, table=profile_table, order=list(RELATIONSHIP_TYPES),
        params={"p_loyal": p_loyal, "p_lapsed": p_lapsed, "recent_days": recent_days, "value": value,
                "value_cut": typer.value_cut_, "rate_cut": typer.rate_cut_, "p_alive": typer.p_alive_,
                "p_alive_source": typer.p_alive_source_},
    )
