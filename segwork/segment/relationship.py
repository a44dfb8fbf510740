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

P(alive) comes from a transaction model fitted on the table's ``frequency``,
``recency`` and ``T`` (in weeks): by default the MBG/NBD
(:class:`segwork.clv.ModifiedBetaGeo`), the model :func:`segwork.prepare_table`
uses for the table's ``p_alive`` column (the typer takes that column when the
table names the same model in ``table.attrs["transaction_model"]``), else a
fit made here: the probability that the customer has not silently left, given
how often they bought and how long they have been quiet *for their own
rhythm*. In the MBG/NBD one-time buyers can leave as well, so their P(alive)
falls with the time since their purchase and a type's mean P(alive) can be
read as it is shown (the BG/NBD, ``transaction_model="bgnbd"``, gives every
one-time buyer P(alive) = 1 by construction). One-time buyers are still typed
by the time since their single purchase (``recent_days``), which a reader
can check directly.

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
``make_crm`` (whose truth says who is still alive), with the MBG/NBD P(alive),
91-94 % of the Win-back customers have truly left and about 92 % of the Loyal
are truly alive (the base rate is about 57 % alive; with the BG/NBD the
figures were within 0.5 point of these); see the tests.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import require_columns
from .._checks import check_fitted
from ..clv.predict import (DEFAULT_TRANSACTION_MODEL, TRANSACTION_MODELS, bg_nbd_inputs, fit_transaction_model,
                           transaction_model_label)
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
    model: a fitted :class:`segwork.clv.ModifiedBetaGeo`,
        :class:`~segwork.clv.BetaGeo` or :class:`~segwork.clv.ParetoNBD`
        (time in weeks) giving P(alive). None (default): fit
        ``transaction_model`` on the table, and use the table's ``p_alive``
        column when it has one from the same model.
    transaction_model: ``"mbgnbd"``, ``"bgnbd"`` or ``"paretonbd"`` (see
        :data:`segwork.clv.TRANSACTION_MODELS`). None (default): the model
        the table names in ``attrs["transaction_model"]`` (as
        :func:`segwork.prepare_table` sets), else ``"mbgnbd"``.

    Attributes (after ``fit``)
    --------------------------
    value_cut_, rate_cut_, p_alive_ (Series), p_alive_source_ ("model",
    "table" or "fitted"), p_alive_model_ (the model's label, e.g.
    ``"MBG/NBD"``), labels_, and :meth:`describe` (the rules with the fitted
    cuts). ``model_`` is the transaction model (given, or fitted at ``fit``
    on the table's histories, also when the labels use the table's
    ``p_alive``); ``predict`` takes P(alive) of new customers from it.
    A table ``p_alive`` column that does not state its model (no
    ``attrs["transaction_model"]``) is used as it is when
    ``transaction_model`` is None, labelled "the table's p_alive".
    """

    def __init__(self, p_loyal: float = 0.7, p_lapsed: float = 0.3, recent_days: float = 180,
                 value: str = "revenue", value_quantile: float = 0.5, rate_quantile: float = 0.5, model=None,
                 transaction_model: str | None = None):
        self.p_loyal = p_loyal
        self.p_lapsed = p_lapsed
        self.recent_days = recent_days
        self.value = value
        self.value_quantile = value_quantile
        self.rate_quantile = rate_quantile
        self.model = model
        self.transaction_model = transaction_model

    def _validate_params(self) -> None:
        if not 0 <= self.p_lapsed <= self.p_loyal <= 1:
            raise DataError(f"RelationshipTyper: need 0 <= p_lapsed ({self.p_lapsed}) <= p_loyal ({self.p_loyal}) <= 1")
        for name in ("value_quantile", "rate_quantile"):
            q = getattr(self, name)
            if not 0 <= q <= 1:
                raise DataError(f"RelationshipTyper: {name}={q} must lie between 0 and 1")
        if not self.recent_days >= 0:
            raise DataError(f"RelationshipTyper: recent_days={self.recent_days} must be >= 0 (days)")
        if self.transaction_model is not None and self.transaction_model not in TRANSACTION_MODELS:
            raise DataError(f"RelationshipTyper: transaction_model={self.transaction_model!r} is not known; use one "
                            f"of {', '.join(repr(k) for k in TRANSACTION_MODELS)}")

    def fit(self, table: pd.DataFrame) -> "RelationshipTyper":
        """Get P(alive) (``model``, the table's ``p_alive``, or a model fit), learn the cuts, type the customers."""
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
        stated = table.attrs.get("transaction_model")
        if self.model is not None:
            self.model_, self.p_alive_source_ = self.model, "model"
            self.p_alive_model_ = transaction_model_label(self.model)
        else:
            key = self.transaction_model or stated or DEFAULT_TRANSACTION_MODEL
            usable = (given is not None
                      and np.isfinite(pd.to_numeric(given, errors="coerce").to_numpy(dtype=float)).all()
                      and (stated == key or (stated is None and self.transaction_model is None)))
            # Fitted here even when the table brings P(alive) (the same model as predict_clv's, so the
            # same numbers): fitting on unique histories takes milliseconds, and predict then places
            # new customers without refitting. A penalized refit was already said by prepare_table.
            with warnings.catch_warnings():
                if usable:
                    warnings.simplefilter("ignore", UserWarning)
                self.model_ = fit_transaction_model(table, key)
            self.p_alive_source_ = "table" if usable else "fitted"
            if usable and stated is None:
                self.p_alive_model_ = "the table's p_alive (model not stated)"
            elif usable:
                self.p_alive_model_ = table.attrs.get("p_alive_model", transaction_model_label(self.model_))
            else:
                self.p_alive_model_ = transaction_model_label(self.model_)
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
        """P(alive) of (new) customers from the fitted transaction model (``frequency``, ``recency``, ``T`` in days)."""
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
        """Relationship types of (new) customers, with the fitted model and cuts.

        Raises DataError for a table without the needed columns, or with a
        value (``self.value``, e.g. revenue) that is missing, NaN or infinite,
        naming the customer (such a customer would fall into "Other").
        """
        check_fitted(self, "labels_", "fit(table)")
        _check_table(table, self.value, "RelationshipTyper.predict")
        value = pd.to_numeric(table[self.value], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(value)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"RelationshipTyper.predict: {self.value}={value[pos]:g} for customer "
                            f"{table.index[pos]!r} must be a finite value (the data's currency)")
        return self._type(table, self.p_alive(table))

    def describe(self) -> pd.DataFrame:
        """The typing rules with the fitted cuts, one row per type, in order."""
        check_fitted(self, "labels_", "fit(table)")
        v, r = f"{self.value} >= {self.value_cut_:,.2f}", f"purchase_rate >= {self.rate_cut_:.3g} per 30 days"
        pa = f"p_alive ({self.p_alive_model_})"
        lapsed = f"({pa} < {self.p_lapsed:g} with repeat purchases, or one purchase > {self.recent_days:g} days ago)"
        rows = [
            ("Prospective", f"one purchase, made at most {self.recent_days:g} days ago"),
            ("Win-back", f"lapsed {lapsed} and {v}"),
            ("Loyal", f"repeat buyer, {pa} >= {self.p_loyal:g} and ({r} or {v})"),
            ("Vulnerable", f"repeat buyer, {self.p_lapsed:g} <= {pa} < {self.p_loyal:g} and {v}"),
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
    transaction_model: str | None = None,
) -> Segmentation:
    """Relationship types of the customers of a customer table (see the module docs).

    P(alive) comes from ``model`` (a fitted transaction model, weeks) when
    given, else the table's ``p_alive`` column when present and from
    ``transaction_model`` (as :func:`segwork.prepare_table` adds; MBG/NBD by
    default), else a ``transaction_model`` fitted here (see
    :class:`RelationshipTyper`).

    Returns a :class:`Segmentation` named ``name`` with the types as labels;
    ``description`` is the rule table; ``params`` holds the settings, the cuts,
    ``p_alive`` (Series), ``p_alive_source`` and ``p_alive_model`` (the
    model's label, e.g. ``"MBG/NBD"``). The profile includes the mean ``clv`` when the
    table has a ``clv`` column (see :func:`segwork.clv.predict_clv`).
    """
    typer = RelationshipTyper(p_loyal, p_lapsed, recent_days, value, value_quantile, rate_quantile,
                              model=model, transaction_model=transaction_model).fit(table)
    profile_table = table.copy()
    profile_table["p_alive"] = typer.p_alive_
    profile_table.attrs["p_alive_model"] = typer.p_alive_model_
    return Segmentation(
        typer.labels_, name=name, method=f"relationship types from {typer.p_alive_model_} P(alive), recency and value",
        description=typer.describe(), segmenter=typer, table=profile_table, order=list(RELATIONSHIP_TYPES),
        params={"p_loyal": p_loyal, "p_lapsed": p_lapsed, "recent_days": recent_days, "value": value,
                "value_cut": typer.value_cut_, "rate_cut": typer.rate_cut_, "p_alive": typer.p_alive_,
                "p_alive_source": typer.p_alive_source_, "p_alive_model": typer.p_alive_model_},
    )
