"""ExplainDefection: why a customer may leave, what keeping the customer is worth and what to do.

Customers come by id (known to the model folder: the answer is the folder's
``defection/`` row, made by :func:`segwork.act.explain.explain_defection` when
the folder was built, the same numbers ``segwork export retention`` writes)
or by history: transactions (through the one gate,
:func:`segwork.io.clean_transactions`, under the rules SegmentCustomers and
``segwork score`` use), the profile's static drivers as attributes and the
time-varying drivers as ``driver`` periods. A customer by history is
explained with the folder's fitted models and the data set's assumptions,
nothing refitted:

* with drivers: the stored time-varying Pareto/NBD on the customer's data
  (:meth:`segwork.clv.TimeVaryingParetoNBD.with_data`), the status-quo and
  what-if paths of :class:`segwork.act.FuturePaths` with the data set's
  ``carry_weeks`` and means, :func:`segwork.act.customer_reasons`;
* without drivers: P(alive) and CLV of the folder's CLV models
  (:func:`segwork.models.value.value_columns`), no reasons;

then the relationship type of the folder's relationship typer (as
ClassifyRelationship) and :func:`segwork.act.explain.explained_customers` for
the action. A known customer sent by history with its own data gets the
numbers it gets by id (tested).

Every problem of the request (unknown customer, attribute or driver, a level
or value the model does not know, dates after asOf, a customer whose every
transaction the cleaning rules drop) is refused in one fault naming the
customer, the field and the value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from lxml import etree

from ..clv.margin import value_label
from ..act.defection import DefectionFit, FuturePaths
from ..act.explain import explained_customers
from ..act.retention import customer_reasons
from ..errors import DataError
from ..features.rfm import rfm_summary
from ..features.table import customer_table
from ..models.store import ModelStore
from ..models.value import value_columns
from .elements import add, qname, request_date, response, text_of, through_the_gate
from .faults import ServiceFault

__all__ = ["explain_defection", "MAX_PROBLEMS_SHOWN"]

WHERE = "ExplainDefection"
#: At most this many problems are spelt out in one fault (with how many more).
MAX_PROBLEMS_SHOWN = 10


class _Refusal:
    """The problems of one request, refused together (each names the customer, the field and the value)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.kinds: set[str] = set()

    def add(self, cid: str, text: str, kind: str = "value") -> None:
        self.items.append(f"customer {cid!r}: {text}")
        self.kinds.add(kind)

    @property
    def code(self) -> str:
        """UnknownCustomer when every problem is a customer by id the folder does not know, else InvalidRequest."""
        return "UnknownCustomer" if self.kinds == {"unknown"} else "InvalidRequest"

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = "; ".join(self.items[:MAX_PROBLEMS_SHOWN])
        more = len(self.items) - MAX_PROBLEMS_SHOWN
        raise ServiceFault(self.code, f"{WHERE}: {shown}" + (f"; and {more} more problem(s)" if more > 0 else ""),
                           limit=6000)


def _levels_text(levels) -> str:
    return ", ".join(repr(str(v)) for v in levels)


def _read(store: ModelStore, request, as_of: pd.Timestamp, refusal: _Refusal):
    """The request's customers: ``order`` (ids), ``by_id`` (ids), and for the customers by history their
    transaction rows, attributes and driver periods."""
    stored = store.defection
    doc = stored.document
    known = stored.customers.index
    static = dict(doc.get("static") or {})
    events = list(doc.get("time_varying") or [])
    ranges = doc.get("driver_ranges") or {}
    order, by_id, tx_rows, attributes, periods = [], [], [], {}, []
    seen = set()
    for c in request.iterchildren(qname("customer")):
        cid = text_of(c, "customerId")
        if cid in seen:
            refusal.add(cid, "is given twice; give each customer once")
            continue
        seen.add(cid)
        order.append(cid)
        given_attrs = [(text_of(a, "name"), a.findtext(qname("value"))) for a in c.iterchildren(qname("attribute"))]
        given_drivers = list(c.iterchildren(qname("driver")))
        txs = c.find(qname("transactions"))
        if txs is None:
            if cid not in known:
                refusal.add(cid, f"is not a customer of the data the models were built from "
                                 f"({store.manifest.get('dataset')}); send the customer's transactions (and profile) "
                                 "to explain a new customer", "unknown")
            elif given_attrs or given_drivers:
                what = [f"attribute {n!r}" for n, _ in given_attrs] + [f"driver {text_of(d, 'name')!r}"
                                                                      for d in given_drivers]
                refusal.add(cid, f"is given by id (no transactions), so the stored profile and drivers are used and "
                                 f"{', '.join(what[:5])} would be ignored; leave them out, or send the transactions too")
            else:
                by_id.append(cid)
            continue
        for t in txs.iterchildren(qname("transaction")):
            tx_rows.append((cid, request_date(t.findtext(qname("date")), "transaction/date",
                                              f"{WHERE}: customer {cid!r}"), float(t.findtext(qname("amount")))))
        attrs = {}
        for name, value in given_attrs:
            if name in attrs:
                refusal.add(cid, f"attribute {name!r} is given twice")
            elif not stored.available:
                refusal.add(cid, f"attribute {name!r}={value!r}: the served models have no drivers ({stored.note}); "
                                 "leave the attributes out")
            elif name not in static:
                drivers = "; ".join(f"{k} ({_levels_text(v)})" for k, v in static.items()) or "none"
                refusal.add(cid, f"attribute {name!r} is not a profile driver of the served defection model; its "
                                 f"profile drivers are {drivers} (names are case-sensitive)")
            elif value not in static[name]:
                refusal.add(cid, f"attribute {name!r}={value!r} is not one of {_levels_text(static[name])}")
            else:
                attrs[name] = value
        lacking = [k for k in static if k not in attrs and not any(n == k for n, _ in given_attrs)]
        if stored.available and lacking:
            refusal.add(cid, "lacks the profile driver(s) " + "; ".join(
                f"{k!r} (one of {_levels_text(static[k])})" for k in lacking) + "; give them as attributes")
        attributes[cid] = attrs
        for d in given_drivers:
            name, value = text_of(d, "name"), float(text_of(d, "value"))
            start_text, end_text = text_of(d, "from"), text_of(d, "to")
            if not stored.available:
                refusal.add(cid, f"driver {name!r}: the served models have no drivers ({stored.note}); leave the "
                                 "drivers out")
                continue
            if name not in events:
                refusal.add(cid, f"driver {name!r} is not a time-varying driver of the served defection model; its "
                                 f"time-varying drivers are {', '.join(map(repr, events)) or 'none'}")
                continue
            low, high = ranges.get(name, (value, value))
            if not low <= value <= high:
                refusal.add(cid, f"driver {name!r} value={value:g} is outside the values the model was fitted on "
                                 f"({low:g} to {high:g})")
                continue
            start = request_date(start_text, "driver/from", f"{WHERE}: customer {cid!r}") if start_text else None
            end = request_date(end_text, "driver/to", f"{WHERE}: customer {cid!r}") if end_text else as_of
            if end > as_of:
                refusal.add(cid, f"driver {name!r} to={end.date()} is after asOf {as_of.date()}; the drivers describe "
                                 "the history up to asOf")
                continue
            if start is not None and start > end:
                refusal.add(cid, f"driver {name!r} from={start.date()} is after to={end.date()}")
                continue
            periods.append((cid, name, value, start, end))
    return order, by_id, tx_rows, attributes, periods


def _after_as_of(tx: pd.DataFrame, as_of: pd.Timestamp, refusal: _Refusal) -> None:
    """A customer by history with a transaction after asOf is refused (the history must end at asOf)."""
    for cid, dates in tx.loc[tx["date"] > as_of].groupby("customer_id", sort=False)["date"]:
        refusal.add(cid, f"transaction date={dates.min().date()} is after asOf {as_of.date()}; leave it out or give "
                         "a later asOf")


def _weekly_table(doc: dict, clean: pd.DataFrame, attributes: dict, periods: list, as_of: pd.Timestamp,
                  refusal: _Refusal) -> pd.DataFrame:
    """The long table of the customers by history on the model's weekly grid, from the week of their first purchase
    through the week containing asOf: static drivers from the attributes (a 0/1 column per level but the
    reference, named ``column[level]``, as :func:`segwork.act.fit_defection` makes them), each
    time-varying driver its value in the weeks a driver period touches, else 0. Two periods of one driver that
    touch a week with different values are refused (naming the customer, the driver and the week)."""
    origin = pd.Timestamp(doc["grid"]["origin"])
    first = clean.groupby("customer_id", sort=True)["date"].min().dt.normalize()
    k0 = ((first - origin).dt.days // 7).to_numpy()
    kE = (as_of - origin).days // 7
    counts = np.maximum(kE - k0 + 1, 0)
    ids = np.repeat(first.index.to_numpy(dtype=object), counts)
    k = np.concatenate([np.arange(a, kE + 1) for a in k0]) if len(k0) else np.zeros(0, dtype=int)
    table = pd.DataFrame({"customer_id": ids, "period_start": origin + pd.to_timedelta(7 * k, unit="D")})
    for col, levels in doc["static"].items():  # as fit_defection: one 0/1 column per level but the reference
        given = np.asarray([attributes[c][col] for c in ids], dtype=object)
        for lev in levels[1:]:
            table[f"{col}[{lev}]"] = (given == lev).astype(np.float64)
    # the rows of each customer are consecutive weeks from k0: a period sets the rows of the weeks it touches
    start = dict(zip(first.index, np.r_[0, np.cumsum(counts)[:-1]]))
    week0 = dict(zip(first.index, k0))
    values = {col: np.zeros(len(table)) for col in doc["time_varying"]}
    set_by = {col: np.full(len(table), np.nan) for col in doc["time_varying"]}
    for cid, name, value, begin, end in periods:
        lo = kE if begin is None else (begin - origin).days // 7  # default: the week containing asOf
        hi = (end - origin).days // 7
        lo, hi = max(lo, week0[cid]), min(hi, kE)
        if lo > hi:
            continue
        rows = slice(start[cid] + lo - week0[cid], start[cid] + hi - week0[cid] + 1)
        clash = np.flatnonzero(~np.isnan(set_by[name][rows]) & (set_by[name][rows] != value))
        if len(clash):
            week = (origin + pd.Timedelta(days=7 * (lo + int(clash[0])))).date()
            refusal.add(cid, f"driver {name!r} has two periods with different values ({set_by[name][rows][clash[0]]:g} "
                             f"and {value:g}) in the week starting {week}; give one value per week")
            continue
        values[name][rows] = value
        set_by[name][rows] = value
    for col, v in values.items():
        table[col] = v
    return table


def _with_drivers(store: ModelStore, clean: pd.DataFrame, table: pd.DataFrame, labels: pd.Series,
                  as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P(alive), CLV and reasons of the customers by history from the stored time-varying Pareto/NBD."""
    stored = store.defection
    doc, settings = stored.document, stored.settings
    try:
        model = stored.model.with_data(clean[["customer_id", "date"]], table, observation_end=as_of)
    except DataError as exc:
        raise ServiceFault("InvalidRequest", f"{WHERE}: {exc}") from None
    ids = model.p_alive().index
    spend_model = store.spend_model
    if isinstance(spend_model, (int, float)):
        spend = pd.Series(float(spend_model), index=ids)
    else:  # as fit_defection: the Gamma-Gamma's expected spend of the summary in days (the folder's spend model)
        summary = rfm_summary(clean, observation_end=as_of, time_unit="days").reindex(ids)
        spend = pd.Series(np.asarray(spend_model.expected_spend(summary["frequency"], summary["monetary_value"]),
                                     dtype=float), index=ids)
    static = tuple(doc["static"])
    fit = DefectionFit(model=model, transactions=clean[["customer_id", "date", "amount"]], covariates=table,
                       observation_end=as_of, static=static, time_varying=tuple(doc["time_varying"]),
                       levels={c: tuple(v) for c, v in doc["static"].items()}, spend=spend,
                       spend_basis=doc.get("spend_basis", ""), currency=doc.get("currency", ""))
    horizon = int(settings["horizon_months"])
    paths = FuturePaths(fit, horizon, carry_weeks=doc["carry_weeks"], means=doc["mean_over_customer_weeks"])
    found = customer_reasons(fit, labels, types=tuple(pd.unique(labels)), alpha=float(settings["alpha"]),
                             horizon=horizon, discount_rate=float(settings["discount_rate"]),
                             margin=float(settings["margin"]), paths=paths)
    return found.customers.reindex(labels.index), found.reasons[found.reasons["driver"] != "none"]


def _by_history(store: ModelStore, tx_rows, attributes, periods, as_of, refusal: _Refusal):
    """The explained customers (DefectionExplanation.customers columns) and reasons of the customers by history."""
    tx = pd.DataFrame(tx_rows, columns=["customer_id", "date", "amount"])
    tx["date"] = pd.to_datetime(tx["date"])
    _after_as_of(tx, as_of, refusal)
    clean, report = through_the_gate(tx, as_of, WHERE, refusal.add)
    refusal.raise_if_any()
    hist = customer_table(clean, observation_end=as_of, cleaned=report)
    typer = store.segmentations["relationship"]
    labels = typer.predict(hist).astype(str)
    labels.index = labels.index.astype(str)
    stored = store.defection
    settings = stored.settings
    if stored.available:
        table = _weekly_table(stored.document, clean, attributes, periods, as_of, refusal)
        refusal.raise_if_any()
        per, reasons = _with_drivers(store, clean, table, labels, as_of)
    else:
        days = hist[["frequency", "recency", "T", "monetary_value"]]
        v = value_columns(store, days, int(settings["horizon_months"]), float(settings["discount_rate"]),
                          float(settings["margin"]))
        per = pd.DataFrame({"relationship": labels, "p_alive": v["p_alive"], "clv": v["clv"]}, index=labels.index)
        reasons = None
    out = explained_customers(per, reasons, currency=settings.get("currency", ""), available=stored.available)
    return out, reasons


def explain_defection(store: ModelStore, request) -> etree._Element:
    """ExplainDefection: per customer P(alive), relationship type, value at risk, the reasons with their effects and
    the CLV kept without each, the retention action with its cost and the retention value (module docs)."""
    stored = store.defection
    if stored is None:
        raise ServiceFault("NotAvailable", f"{WHERE}: this model folder was built without the defection part; "
                           "rebuild it with 'segwork models build'")
    as_of_text = text_of(request, "asOf")
    end = pd.Timestamp((store.manifest.get("date_range") or [None, None])[1])
    as_of = request_date(as_of_text, "asOf", WHERE) if as_of_text is not None else end
    refusal = _Refusal()
    order, by_id, tx_rows, attributes, periods = _read(store, request, as_of, refusal)
    if by_id and as_of != end:  # a stored answer is as of the end of the built data: not moved in silence
        for cid in by_id:
            refusal.add(cid, f"is given by id, whose answer is as of the end of the data the models were built from "
                             f"({end.date()}), not asOf {as_of.date()}; leave asOf out, or send the customer's "
                             "transactions to explain it as of asOf")
    refusal.raise_if_any()
    frames, reasons = [], []
    if by_id:
        frames.append(stored.customers.loc[by_id].assign(source="id"))
        reasons.append(stored.reasons[stored.reasons["customer_id"].isin(by_id)])
    if tx_rows:
        got, found = _by_history(store, tx_rows, attributes, periods, as_of, refusal)
        frames.append(got.assign(source="history"))
        if found is not None and len(found):
            reasons.append(found.assign(process="dropout"))
    answers = pd.concat(frames).reindex(order)
    long = pd.concat(reasons) if reasons else None
    settings = stored.settings
    resp = response(WHERE)
    add(resp, "model", stored.document.get("model") or "the folder's CLV models (no drivers)")
    add(resp, "horizon", str(int(settings.get("horizon_months", store.clv_settings.get("horizon", 12)))))
    add(resp, "reasonsAvailable", "true" if stored.available else "false")
    add(resp, "modelNote", stored.note)
    margin = float(settings["margin"])  # explain_defection records it, with or without drivers
    add(resp, "modelNote", f"value at risk: the expected {value_label(margin)} (the folder's margin; over the "
                           "horizon, the data's currency) as is, "
                           "what is lost if the customer leaves now; action costs are assumed figures: "
                           + ", ".join(f"{k} {v:g}" for k, v in (settings.get("costs") or {}).items()))
    by_customer = {cid: g.sort_values("rank") for cid, g in long.groupby("customer_id")} if long is not None else {}
    for cid, row in answers.iterrows():
        el = etree.SubElement(resp, qname("explanation"))
        add(el, "customerId", str(cid))
        add(el, "source", str(row["source"]))
        add(el, "pAlive", float(row["p_alive"]))
        add(el, "relationship", str(row["relationship"]))
        add(el, "valueAtRisk", float(row["clv"]))
        for r in by_customer.get(cid, pd.DataFrame()).itertuples():
            reason = etree.SubElement(el, qname("reason"))
            add(reason, "rank", str(int(r.rank)))
            add(reason, "driver", str(r.driver))
            add(reason, "process", "dropout")
            add(reason, "multiplier", float(r.multiplier))
            add(reason, "clvKept", float(r.clv_kept))
        add(el, "action", str(row["action"]))
        add(el, "actionCost", float(row["action_cost"]))
        add(el, "clvSaved", float(row["clv_saved"]))
        add(el, "retentionValue", float(row["retention_value"]))
        add(el, "savedBasis", str(row["saved_basis"]))
    return resp
