"""The operations of the segmentation service: a validated request element in, a response element out.

Each operation reads the parameters from the request element (already
validated against the WSDL's schema, so present and of the right type),
calls the same library functions a notebook calls on the loaded
:class:`~segwork.models.store.ModelStore`, and builds the response element
with lxml to the WSDL's element names. Refusals raise
:class:`~segwork.service.faults.ServiceFault`; a library :class:`DataError`
becomes a Client fault with the library's own message (e.g. recency > T,
checked by :func:`segwork.clv.transaction.check_history`, the check every
``fit`` makes).

No ``warnings.catch_warnings`` here: it changes process-wide state and the
server answers from several threads (``segwork serve`` ignores warnings for
the whole process; what a client must know is in the answer or the fault).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from lxml import etree

from ..act.strategies import DEFAULT_STRATEGIES, relationship_summary
from ..act.targeting import select_targets
from ..act.view import customer_view
from ..clv.margin import value_label
from ..clv.predict import transaction_model_label
from .._checks import check_number
from ..clv.transaction import MAX_SPEND, check_day_limits, check_history, check_history_in_days
from ..errors import DataError
from ..features.rfm import TIME_UNITS
from ..features.table import customer_table
from .defection import explain_defection
from .elements import add, qname, request_date, response, text_of, through_the_gate, xs_double
from .faults import ServiceFault
from ..models.store import ModelStore
from ..models.value import value_columns

__all__ = ["OPERATIONS", "call", "purchase_propensity", "request_date", "MAX_PROPENSITY_DAYS", "MAX_CUSTOMER_MONTHS"]

#: The longest campaign period of :func:`purchase_propensity`, in days (10 years; the WSDL's horizonDays limit).
MAX_PROPENSITY_DAYS = 3650
#: PredictCustomerValue: most customer-months (customers x horizon) in one request. The CLV evaluates the
#: transaction model once per month and distinct history: 10,000 customers x 1,200 months took 25-47 s of one
#: worker; 1,200,000 customer-months take about 1 s (10,000 customers x 120 months, or 1,000 x 1,200).
MAX_CUSTOMER_MONTHS = 1_200_000

_BEHAVIOUR = ("frequency", "recency", "T", "monetary_value", "days_since_last", "n_transactions", "revenue",
              "mean_amount", "purchase_rate", "p_alive", "clv")


#: Behaviour columns a summary derives approximately (n_transactions = frequency + 1, mean_amount = revenue over
#: that) and a client may give exactly as attributes (customers with several transactions on one day).
_SUMMARY_EXTRAS = ("n_transactions", "mean_amount")


_q, _num, _add, _response, _text = qname, xs_double, add, response, text_of


def _segmentation(store: ModelStore, name: str):
    seg = store.segmentations.get(name)
    if seg is None:
        raise ServiceFault("UnknownSegmentation", f"no segmentation named {name!r}; this service has "
                           f"{', '.join(store.segmentations)} (see ListSegmentations)")
    return seg


def _histories(request, where: str, extra: tuple[str, ...] = (), unit: str = "days") -> pd.DataFrame:
    """The customer histories of a request (``customer`` elements of type History), recency and T converted from
    ``unit`` to days, checked once like ``fit`` checks and for what no customer can have (the checks of
    :func:`segwork.clv.transaction.check_history_in_days`, said in the client's unit)."""
    days_per_unit = TIME_UNITS[unit]
    rows, ids = [], []
    for c in request.iterfind(_q("customer")):
        ids.append(c.findtext(_q("customerId")).strip())
        rows.append([float(c.findtext(_q(n))) for n in ("frequency", "recency", "T", "monetaryValue", *extra)])
    frame = pd.DataFrame(rows, index=pd.Index(ids, name="customer_id"),
                         columns=["frequency", "recency", "T", "monetary_value", *[e.lower() for e in extra]])
    dup = frame.index[frame.index.duplicated()]
    if len(dup):
        raise ServiceFault("InvalidRequest", f"{where}: customer {dup[0]!r} is given twice; give each customer once")
    # checked in the values as sent (recency > T and the like said in the client's unit), the limits in days
    x, tx, t, w, index = check_history(where, frame["frequency"], frame["recency"], frame["T"])
    check_day_limits(where, (x, tx * days_per_unit, t * days_per_unit, w, index), frame["recency"] * days_per_unit,
                     frame["monetary_value"], unit=unit, days_per_unit=days_per_unit)
    frame["recency"] = frame["recency"] * days_per_unit
    frame["T"] = frame["T"] * days_per_unit
    return frame


def _strategy(relationship: str):
    return DEFAULT_STRATEGIES.get(relationship)


# --------------------------------------------------------------------------- operations


def list_segmentations(store: ModelStore, request) -> etree._Element:
    """ListSegmentations: the manifest (data set, period, build time, version) and each segmentation's name, method, size."""
    m = store.manifest
    resp = _response("ListSegmentations")
    _add(resp, "dataset", str(m.get("dataset")))
    start, end = (m.get("date_range") or [None, None])[:2]
    if start:
        _add(resp, "periodStart", start)
    if end:
        _add(resp, "periodEnd", end)
    _add(resp, "created", str(m["created"]))
    _add(resp, "segworkVersion", str(m["segwork_version"]))
    _add(resp, "customers", str(len(store.table)))
    spend = "Gamma-Gamma" if not isinstance(store.spend_model, (int, float)) else "constant spend"
    _add(resp, "valueModel", f"{transaction_model_label(store.transaction_model)} + {spend}, "
                             f"{value_label(store.margin)} over {store.clv_settings['horizon']} "
                             "months")
    _add_model_notes(resp, store)
    for name, seg in store.segmentations.items():
        info = etree.SubElement(resp, _q("segmentation"))
        _add(info, "name", name)
        _add(info, "method", str(seg.method))
        # every segment a customer can be placed in (GetSegmentProfiles lists them all, empty ones with size 0)
        _add(info, "segments", str(len(seg.segments)))
        # every attribute a customer of SegmentCustomers may need for this segmentation (the method text is the
        # library's summary and shortens long feature lists)
        for attr, required, note in _attribute_uses(seg, store.table):
            use = etree.SubElement(info, _q("attribute"))
            _add(use, "name", attr)
            _add(use, "required", "true" if required else "false")
            _add(use, "note", note)
    return resp


def _add_model_notes(resp, store: ModelStore) -> None:
    """``modelNote`` elements: the CLV record's sentences (models, limits, fallbacks; no fallback is silent)."""
    for line in store.clv_record.lines():
        _add(resp, "modelNote", line)


def get_segment_profiles(store: ModelStore, request) -> etree._Element:
    """GetSegmentProfiles: size, share, mean CLV and P(alive) per segment (from the prepared table), the
    profile's leading attributes, and a strategy (relationship types: ``relationship_summary``; other
    segmentations: the strategy of the relationship type most of the segment's customers have)."""
    name = _text(request, "segmentation")
    seg = _segmentation(store, name)
    table = store.table
    labels = seg.labels.astype(str)
    value_col = "clv" if "clv" in table.columns else "revenue"
    sub = table.reindex(labels.index)
    mean_value = sub[value_col].groupby(labels.to_numpy()).mean()
    mean_p = sub["p_alive"].groupby(labels.to_numpy()).mean() if "p_alive" in sub.columns else None
    rel = store.segmentations.get("relationship")
    strategies: dict[str, str] = {}
    if name == "relationship" or rel is None:
        if name == "relationship":
            summary = relationship_summary(seg, table, margin=store.margin)
            strategies = {t: f"{row.strategy}; offer: {row.offer}" for t, row in summary.iterrows()}
    else:  # the strategy of the relationship type most of the segment's customers have
        both = pd.crosstab(labels, rel.labels.astype(str).reindex(labels.index))
        for s in both.index:
            t = both.loc[s].idxmax()
            st = _strategy(t)
            if st is not None:
                strategies[s] = f"{st.goal} (the strategy for {t}, the relationship type of most of its customers)"
    profile = seg.profile if seg.profile is not None else pd.DataFrame()
    resp = _response("GetSegmentProfiles")
    _add(resp, "segmentation", name)
    _add(resp, "method", str(seg.method))
    measure = (f"{value_label(store.margin)} over {store.clv_settings['horizon']} months"
               if value_col == "clv" else "revenue to date")
    _add(resp, "valueMeasure", f"mean {value_col} per customer: {measure} (the data's currency)")
    sizes, shares = seg.sizes, seg.shares
    for i, s in enumerate(seg.segments):
        el = etree.SubElement(resp, _q("segment"))
        _add(el, "segmentId", str(i))
        _add(el, "name", s)
        _add(el, "size", str(int(sizes[s])))
        _add(el, "share", float(shares[s]))
        if int(sizes[s]) > 0:  # an empty segment (size 0) has no mean: the elements are left out, not NaN
            _add(el, "meanValue", float(mean_value[s]))
            if mean_p is not None:
                _add(el, "meanPAlive", float(mean_p[s]))
        desc = profile["leading_attributes"].get(s) if "leading_attributes" in profile.columns else None
        _add(el, "description", "" if desc is None or (isinstance(desc, float) and math.isnan(desc)) else str(desc))
        _add(el, "strategy", strategies.get(s, "no strategy stated"))
    return resp


class _Problems:
    """Every problem of every customer of a SegmentCustomers request, collected before one fault is raised.

    ``add(cid, text, kind)``: a problem of one customer (``text`` a phrase such as "attribute 'cat_beauty'=1.5
    must be a share from 0 to 1"); ``kind`` "asOf" for a customer whose transactions do not fit asOf,
    "transactions" for one whose every transaction the cleaning rules drop (the fault is then InvalidCustomer
    when every problem is of these kinds), else "value". ``sections``: whole sections of
    the fault text that group across customers (unknown names, attributes a segmentation does not read, the
    missing attributes); ``tail``: text put last (the list of known names), cut first when the text is long.
    """

    def __init__(self) -> None:
        self.by_customer: dict[str, list[str]] = {}
        self.kinds: set[str] = set()
        self.sections: list[tuple[int, str]] = []  # (0: before the customers' problems, 1: after, text)
        self.tail: list[str] = []
        self.order: list[str] = []  # the request's order of customers

    def add(self, cid, text: str, kind: str = "value") -> None:
        self.by_customer.setdefault(str(cid), []).append(text)
        self.kinds.add(kind)

    def section(self, text: str, tail: str | None = None, *, first: bool = False) -> None:
        self.sections.append((0 if first else 1, text))
        self.kinds.add("value")
        if tail:
            self.tail.append(tail)

    def __bool__(self) -> bool:
        return bool(self.by_customer or self.sections)

    def raise_if_any(self, limit: int = 10, per_customer: int = 5) -> None:
        """One fault naming every problem (up to ``limit`` customers and ``per_customer`` problems each spelt
        out, with how many more)."""
        if not self:
            return
        # names (unknown, not read) first, then each customer's own problems, then the missing attributes
        parts = [t for p, t in self.sections if p == 0]
        rank = {c: i for i, c in enumerate(self.order)}
        items = sorted(self.by_customer.items(), key=lambda kv: rank.get(kv[0], len(rank)))
        for cid, texts in items[:limit]:
            shown = "; ".join(texts[:per_customer]) + (f"; and {len(texts) - per_customer} more problem(s)"
                                                       if len(texts) > per_customer else "")
            sep = " " if texts[0].startswith(("has ", "is ")) else ": "
            parts.append(f"customer {cid!r}{sep}{shown}")
        if len(items) > limit:
            parts.append(f"and {len(items) - limit} more customer(s) with problems")
        parts += [t for p, t in self.sections if p == 1]
        code = "InvalidCustomer" if self.kinds <= {"asOf", "transactions"} else "InvalidRequest"
        raise ServiceFault(code, "SegmentCustomers: " + ". ".join(parts + self.tail), limit=6000)


def _customers_table(store: ModelStore, request, seg) -> pd.DataFrame:
    """A customer table for the customers of a SegmentCustomers request (transactions or summaries + attributes).

    Every problem of every customer (unknown or unread attribute names, values that are not numbers or out of
    range, shares that do not sum to 1, impossible histories, transactions after asOf or of categories/channels
    the models do not know, missing attributes) is collected and refused in ONE fault (:class:`_Problems`), so
    a client fixes its request in one round trip."""
    where = "SegmentCustomers"
    problems = _Problems()
    as_of_text = _text(request, "asOf")
    as_of = (request_date(as_of_text, "asOf", where) if as_of_text is not None
             else pd.Timestamp((store.manifest.get("date_range") or [None, None])[1]))
    tx_rows, summaries, attributes, order = [], [], {}, []
    q_summary = _q("summary")
    # One pass over each customer's child elements; the schema fixed their order (customerId, transactions |
    # summary, attribute*; summary fields in the order of tns:Summary; attribute = name, value).
    for c in request.iterchildren(_q("customer")):
        kids = list(c.iterchildren(tag=etree.Element))
        cid = kids[0].text.strip()
        if cid in attributes:
            raise ServiceFault("InvalidRequest", f"SegmentCustomers: customer {cid!r} is given twice")
        order.append(cid)
        problems.order.append(cid)
        attributes[cid] = {a[0].text.strip(): a[1].text
                           for a in (list(k.iterchildren(tag=etree.Element)) for k in kids[2:])}
        if kids[1].tag == q_summary:
            summaries.append([cid] + [float(x.text) for x in kids[1].iterchildren(tag=etree.Element)])
        else:
            for t in kids[1].iterchildren(tag=etree.Element):
                tx_rows.append((cid, request_date(t.findtext(_q("date")), "transaction/date", f"{where}: customer "
                                                  f"{cid!r}"), float(t.findtext(_q("amount"))),
                                t.findtext(_q("category")), t.findtext(_q("channel"))))
    known = store.table
    parts = []
    tx = None
    if tx_rows:
        tx = pd.DataFrame(tx_rows, columns=["customer_id", "date", "amount", "category", "channel"])
        tx["date"] = pd.to_datetime(tx["date"])
        # said here in the request's terms (asOf): a customer whose purchases all come after asOf has no
        # history; a transaction after asOf is refused, not dropped in silence (customer_table would drop it)
        # only the customers with a late transaction are looked at one by one (a request has up to 10,000)
        late_ids = tx.loc[tx["date"] > as_of, "customer_id"].unique()
        for cid, own in tx[tx["customer_id"].isin(late_ids)].groupby("customer_id", sort=False)["date"]:
            later = own[own > as_of]
            if later.empty:
                continue
            if len(later) == len(own):
                problems.add(cid, f"has no purchase up to asOf {as_of.date()} (the first is on "
                                  f"{own.min().date()}); give transactions dated up to asOf, or a later asOf", "asOf")
            else:
                days = sorted({d.date().isoformat() for d in later})
                problems.add(cid, f"has {len(later)} transaction(s) after asOf {as_of.date()} (on "
                                  f"{', '.join(days[:3])}{' and more' if len(days) > 3 else ''}); leave them out or "
                                  "give a later asOf", "asOf")
        # a category or channel the models were not built with would be dropped by the segmenter (all shares
        # of the customer 0 and still a cluster): refused naming the known ones
        for col, prefix, what in (("category", "cat_", "categories"), ("channel", "ch_", "channels")):
            names = [c[len(prefix):] for c in known.columns if c.startswith(prefix)]
            given = tx[col].dropna()
            new = given[~given.isin(names)]
            for cid, values in new.groupby(tx.loc[new.index, "customer_id"], sort=False):
                problems.add(cid, f"transaction {col} {_names(pd.unique(values))} is not one of the {what} of the "
                                  f"data the models were built from ({_names(names)})")
        tx = tx[tx["date"] <= as_of]
        for col in ("category", "channel"):
            if tx[col].isna().all():
                tx = tx.drop(columns=col)
            else:
                tx[col] = tx[col].fillna("unknown")
        if len(tx):
            tx, report = through_the_gate(tx, as_of, "SegmentCustomers", problems.add)
            if len(tx):
                parts.append(customer_table(tx, observation_end=as_of, cleaned=report))
    if summaries:
        s = pd.DataFrame(summaries, columns=["customer_id", "frequency", "recency", "T", "monetary_value",
                                             "revenue"]).set_index("customer_id")
        try:
            check_history_in_days(f"{where} (summary)", s["frequency"], s["recency"], s["T"], s["monetary_value"])
        except DataError:  # name the problem of every customer, not only the first one's
            for cid in s.index:
                try:
                    check_history_in_days("summary", s.loc[[cid], "frequency"], s.loc[[cid], "recency"],
                                          s.loc[[cid], "T"], s.loc[[cid], "monetary_value"])
                except DataError as exc:
                    problems.add(cid, str(exc).removeprefix("summary: "))
        s["days_since_last"] = s["T"] - s["recency"]
        s["n_transactions"] = s["frequency"] + 1
        s["mean_amount"] = s["revenue"] / s["n_transactions"]
        # the purchase rate as segwork.features.customer_table defines it: purchase days per 30 days of tenure
        s["purchase_rate"] = (s["frequency"] + 1) / np.maximum(s["T"], 1.0) * 30.0
        parts.append(s)
    if not parts:
        problems.raise_if_any()
    table = pd.concat(parts) if len(parts) > 1 else parts[0]
    missing = [c for c in order if c not in table.index]
    for cid in missing:  # no transaction up to asOf (said above)
        if cid not in problems.by_customer:
            problems.add(cid, f"has no purchase up to {as_of.date()}; give transactions dated up to asOf", "asOf")
    table = table.reindex(order)
    summary_ids = {row[0] for row in summaries}
    tx_ids = table.index.difference(pd.Index(list(summary_ids), dtype=object))
    # Category and channel shares: customer_table computed them from the customers' transactions, for the
    # categories and channels the batch has; a customer sent as transactions never bought in the others
    # (share 0), when the transactions name categories (channels) at all. Shares of summary customers cannot
    # be derived: they are given as attributes or refused below where the segmentation needs them.
    derivable = {"cat_": tx is not None and "category" in tx.columns,
                 "ch_": tx is not None and "channel" in tx.columns}
    for col in known.columns:
        if col.startswith(("cat_", "ch_")):
            if col not in table.columns:
                table[col] = np.nan
            if derivable["cat_" if col.startswith("cat_") else "ch_"]:
                table.loc[tx_ids, col] = table.loc[tx_ids, col].fillna(0.0)
    given = pd.DataFrame.from_dict(attributes, orient="index", dtype=object).reindex(table.index)
    _refuse_unknown_attributes(attributes, known, seg, problems)
    readable = set(_known_attributes(known))
    bad_values = pd.DataFrame(False, index=table.index, columns=list(given.columns))
    for name in given.columns:
        if name not in readable and name not in _BEHAVIOUR:
            continue  # unknown: said above
        holders = given.index[given[name].notna()]
        if name in _BEHAVIOUR and (name not in _SUMMARY_EXTRAS or not set(holders) <= summary_ids):
            for bad in holders:
                if name in _SUMMARY_EXTRAS and bad in summary_ids:
                    continue
                how = ("a field of the summary (tns:revenue), not an attribute" if name == "revenue"
                       and bad in summary_ids else "computed by the service; give it in the summary or as "
                       "transactions" if name not in _SUMMARY_EXTRAS else "computed from the transactions; it "
                       "may be given as an attribute of a customer sent as a summary only")
                problems.add(bad, f"attribute {name!r} is {how}")
            if name not in _SUMMARY_EXTRAS:
                continue
        values = given[name]
        numeric = name in _SUMMARY_EXTRAS or name.startswith(("cat_", "ch_")) or (
            name in known.columns and pd.api.types.is_numeric_dtype(known[name])
            and not pd.api.types.is_bool_dtype(known[name]))
        if name in _SUMMARY_EXTRAS:
            values = values.where(values.index.isin(list(summary_ids)))
        if numeric:
            converted = pd.to_numeric(values, errors="coerce")
            wrong = converted.isna() & values.notna()
            for bad in wrong.index[wrong.to_numpy()]:
                problems.add(bad, f"attribute {name!r} must be a number, got {values[bad]!r}")
            values = converted.astype(float)
            out = _check_attribute_numbers(name, values, known, problems)
            bad_values[name] = wrong | out
        if name in table.columns:  # a summary's exact value replaces the derived one where given
            table[name] = values.where(values.notna(), table[name])
        else:
            table[name] = values
    _check_share_sums(table, bad_values, problems)
    for col in known.columns:  # profile and survey fields not given: unknown (NaN), as Segmentation.predict asks
        if col not in table.columns and col not in _BEHAVIOUR and not col.startswith(("cat_", "ch_")):
            numeric = pd.api.types.is_numeric_dtype(known[col]) and not pd.api.types.is_bool_dtype(known[col])
            table[col] = pd.Series(np.nan if numeric else None, index=table.index,
                                   dtype=float if numeric else object)
    # a value given but refused above is not also reported missing
    present = table.copy()
    for name in bad_values.columns:
        if name in present.columns and bad_values[name].any():
            present.loc[bad_values[name].to_numpy(), name] = 0.0
    present = present.loc[[c for c in present.index if c not in missing]]
    _refuse_missing_attributes(seg, present, problems)
    problems.raise_if_any()
    days = table[["frequency", "recency", "T", "monetary_value"]]
    values = value_columns(store, days)
    table["p_alive"], table["clv"] = values["p_alive"], values["clv"]
    table.attrs.update(known.attrs)
    return table


#: Category (channel) shares of a customer must sum to 1 within this tolerance (or all be 0: no purchases).
#: 0.01 lets shares rounded to 3 decimals through (6 categories: at most 0.003 off) and refuses what is not a
#: split of the customer's purchases (every share set to 1: a sum of 6).
SHARE_SUM_TOLERANCE = 0.01


def _check_share_sums(table: pd.DataFrame, bad_values: pd.DataFrame, problems: _Problems) -> None:
    """The category shares (cat_*) of a customer sum to 1 (within :data:`SHARE_SUM_TOLERANCE`) or are all 0 (a
    customer without purchases); the same for the channel shares (ch_*). Checked where all shares of the group
    are known (given or derived) and none was refused already."""
    for prefix, what in (("cat_", "category"), ("ch_", "channel")):
        cols = [c for c in table.columns if c.startswith(prefix)]
        if not cols:
            continue
        shares = table[cols].astype(float)
        refused = bad_values[[c for c in cols if c in bad_values.columns]].any(axis=1) if any(
            c in bad_values.columns for c in cols) else pd.Series(False, index=table.index)
        full = shares.notna().all(axis=1) & ~refused
        total = shares.sum(axis=1)
        wrong = full & ~(((total - 1.0).abs() <= SHARE_SUM_TOLERANCE) | (shares == 0).all(axis=1))
        for cid in table.index[wrong.to_numpy()]:
            problems.add(cid, f"the {what} shares ({prefix}...) sum to {total[cid]:g}; they must sum to 1 "
                              f"(within {SHARE_SUM_TOLERANCE:g}), or all be 0 for a customer without purchases")


def _check_attribute_numbers(name: str, values: pd.Series, known: pd.DataFrame, problems: _Problems) -> pd.Series:
    """Numeric attributes of SegmentCustomers: finite; shares (cat_, ch_) 0..1; survey answers (q01_...) and
    the summary extras within what the data the models were built from has (a survey's scale). Every customer
    with a value out of range is added to ``problems``; returns the mask of those customers."""
    given = values.dropna()
    out = pd.Series(False, index=values.index)
    if given.empty:
        return out
    low, high, what = -np.inf, np.inf, "a finite number"
    if name.startswith(("cat_", "ch_")):
        low, high, what = 0.0, 1.0, "a share from 0 to 1"
    elif _is_survey_item(name) and name in known.columns:
        low, high = float(known[name].min()), float(known[name].max())
        what = f"an answer on the survey's scale, {low:g} to {high:g}"
    elif name == "n_transactions":
        low, high, what = 1.0, 1e6, "a number of transactions from 1 to 1,000,000"
    elif name == "mean_amount":
        low, high, what = 0.0, MAX_SPEND, f"a mean amount from 0 to {MAX_SPEND:g}"
    bad = ~np.isfinite(given) | (given < low) | (given > high)
    for cid in given.index[bad.to_numpy()]:
        problems.add(cid, f"attribute {name!r}={given[cid]:g} must be {what}")
        out[cid] = True
    return out


def _needed_columns(seg) -> list[str]:
    """The table columns a segmentation's ``predict`` reads: its features, and those of the model that places
    customers the segmenter itself does not (the needs segmentation's behaviour classifier)."""
    cols = list(seg.features or [])
    unplaced = getattr(seg, "unplaced_model", None)
    cols += [str(c) for c in getattr(unplaced, "feature_names_in_", [])]
    return list(dict.fromkeys(cols))


def _is_measure(name: str) -> bool:
    """An attribute that only places a customer: the summary extras, the shares and the survey answers."""
    return name in _SUMMARY_EXTRAS or name.startswith(("cat_", "ch_")) or _is_survey_item(name)


def _is_survey_item(name: str) -> bool:
    return re.match(r"q\d+_", name) is not None


def _known_attributes(known: pd.DataFrame) -> list[str]:
    """The attribute names SegmentCustomers takes: the profile, permission, share and survey columns of the data
    the models were built from, and the summary extras (behaviour the service computes is not an attribute)."""
    return [c for c in known.columns if c not in _BEHAVIOUR] + list(_SUMMARY_EXTRAS)


def _names(names, limit: int = 60) -> str:
    """Names quoted and comma-separated; past ``limit``, the first ``limit`` and how many more."""
    names = list(names)
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _read_attributes(seg) -> list[str]:
    """The attribute names a segmentation reads (what ListSegmentations lists and a client may give for it):
    the columns its ``predict`` reads (:func:`_needed_columns`, from the fitted models' feature names) that are
    not computed by the service, and the profile fields its a priori rules read."""
    cols = [c for c in _needed_columns(seg) if c not in _BEHAVIOUR or c in _SUMMARY_EXTRAS]
    rules = getattr(seg.segmenter, "rules_", None) or []
    cols += [c for r in rules for c in r["where"]]
    return list(dict.fromkeys(cols))


def _refuse_unknown_attributes(attributes: dict[str, dict], known: pd.DataFrame, seg, problems: _Problems) -> None:
    """Refuse (InvalidRequest) attribute names the data the models were built from does not have: a misspelt
    name (``agee_band``) would otherwise be dropped, and the customer segmented as if it had not been given.
    The fault names every unknown name (with the nearest known name, if any) and the known names.

    A measure the segmentation does not read (``n_transactions`` for k-means, a share for RFM: see
    :func:`_is_measure`) is refused too, naming what it reads: a measure is sent only to place the customer, so
    the client believes it has an effect. Profile and permission fields (``region``) are the customer's record,
    which a CRM sends as it is to every segmentation: taken by all, read where ListSegmentations lists them."""
    import difflib

    names = _known_attributes(known)
    reads = _read_attributes(seg)
    holders_of: dict[str, list] = {}
    unread: dict[str, list] = {}
    for cid, given in attributes.items():  # by name sent, whether its value is empty or not
        for n in given:
            if n not in names and n not in _BEHAVIOUR:
                holders_of.setdefault(n, []).append(cid)
            elif n in names and n not in reads and _is_measure(n):
                unread.setdefault(n, []).append(cid)
    if unread:
        listed = [f"{n!r} (customer {h[0]!r}" + (f" and {len(h) - 1} more" if len(h) > 1 else "") + ")"
                  for n, h in unread.items()]
        problems.section(first=True, text=f"attribute(s) not read by segmentation {seg.name!r}: {'; '.join(listed[:20])}"
                         + (f" and {len(listed) - 20} more" if len(listed) > 20 else "")
                         + (f"; of the measures (n_transactions, mean_amount, shares, survey answers) it reads "
                            f"{_names([r for r in reads if _is_measure(r)]) or 'none'} (see ListSegmentations), "
                            "leave the others out"))
    if not holders_of:
        return
    parts = []
    for n, holders in holders_of.items():
        close = difflib.get_close_matches(n, names, n=1, cutoff=0.6) or [c for c in names if c.lower() == n.lower()]
        parts.append(f"{n!r} (customer {holders[0]!r}" + (f" and {len(holders) - 1} more" if len(holders) > 1 else "")
                     + (f"; did you mean {close[0]!r}?" if close else "") + ")")
    # first of the sections (the known names last of the whole text)
    problems.sections.insert(0, (0, f"unknown attribute name(s) {'; '.join(parts[:20])}"
                                 + (f" and {len(parts) - 20} more" if len(parts) > 20 else "")))
    problems.kinds.add("value")
    problems.tail.append(f"the attributes are: {_names(names)} (names are case-sensitive)")


def _apriori_missing(segmenter, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Column -> customers (mask) for whom the a priori rules need that column and it is not given.

    A rule can still match a customer when none of the conditions on its given attributes fails; then every
    column that rule reads and the customer lacks is needed (it decides whether the customer lands in that
    segment or a later one). Rules are tried in order: a rule the customer fully matches decides, later
    rules need nothing more.
    """
    from ..segment.apriori import rows_matching

    n = len(table)
    undecided = np.ones(n, dtype=bool)
    needed: dict[str, np.ndarray] = {}
    for rule in segmenter.rules_:
        where = rule["where"]
        present = {c: table[c].notna().to_numpy() if c in table.columns else np.zeros(n, dtype=bool)
                   for c in where}
        fails = np.zeros(n, dtype=bool)
        for c, cond in where.items():
            if present[c].any():
                fails |= present[c] & ~rows_matching(table, {c: cond})
        possible = undecided & ~fails
        complete = np.logical_and.reduce([present[c] for c in where]) if where else np.ones(n, dtype=bool)
        for c in where:
            needed.setdefault(c, np.zeros(n, dtype=bool))
            needed[c] |= possible & ~present[c]
        undecided &= ~(possible & complete)
    return {c: m for c, m in needed.items() if m.any()}


def _refuse_unseen_values(segmenter, table: pd.DataFrame, problems: _Problems) -> None:
    """An a priori rule's column with a value not seen when the segmentation was built (``b2c`` for ``B2C``): the
    library sends such a customer to the fallback segment with a warning no client sees; refused here."""
    from ..segment.apriori import as_text

    found = []
    for col, seen in getattr(segmenter, "seen_", {}).items():
        if col not in table.columns:
            continue
        values = as_text(table[col])
        new = values.notna() & ~values.isin(list(seen))
        for value in pd.unique(values[new]):
            cid = values.index[(values == value).to_numpy()][0]
            close = [v for v in seen if v.lower() == str(value).lower()]
            found.append(f"attribute {col!r}={value!r} (customer {cid!r}) is not one of {_names(sorted(seen))}"
                         + (f"; did you mean {close[0]!r}?" if close else ""))
    if found:
        problems.section("; ".join(found[:20]) + (f" and {len(found) - 20} more" if len(found) > 20 else "")
                         + " (values are case-sensitive)")


def _refuse_missing_attributes(seg, table: pd.DataFrame, problems: _Problems) -> None:
    """Refuse (InvalidRequest) customers without attributes the segmentation needs, naming ALL of them at once.

    Needed: the category/channel shares a clustering (k-means; the needs segmentation's behaviour classifier)
    reads and that could not be derived from transactions (a summary without them, or transactions without
    categories/channels); the profile attributes the a priori rules read (see :func:`_apriori_missing`).
    Customers lacking the same attributes are grouped; the fault lists every missing attribute of every group
    (up to 5 groups and 5 customers a group, with how many more).
    """
    missing: dict[str, np.ndarray] = {}
    own = list(seg.features or [])
    # the model for customers the segmenter does not place (needs: no survey answer at all) reads its columns
    # for those customers only; a customer with answers needs none of them
    unplaced = (table[own].isna().all(axis=1).to_numpy() if own and getattr(seg, "unplaced_model", None) is not None
                else np.ones(len(table), dtype=bool))
    for col in _needed_columns(seg):
        if col.startswith(("cat_", "ch_")) and col in table.columns and table[col].isna().any():
            lacks = table[col].isna().to_numpy() & (True if col in own else unplaced)
            if lacks.any():
                missing[col] = lacks
    if hasattr(seg.segmenter, "rules_"):
        missing.update(_apriori_missing(seg.segmenter, table))
        _refuse_unseen_values(seg.segmenter, table, problems)
    if not missing:
        return
    cols = list(missing)
    groups: dict[tuple[str, ...], list] = {}
    for i, cid in enumerate(table.index):
        lacks = tuple(c for c in cols if missing[c][i])
        if lacks:
            groups.setdefault(lacks, []).append(cid)
    parts = []
    for lacks, cids in list(groups.items())[:5]:
        who = (f"customer {cids[0]!r}" if len(cids) == 1 else
               f"customers {_names(cids, 5)}")
        parts.append(f"{who} lack{'s' if len(cids) == 1 else ''} {_names(lacks)}")
    if len(groups) > 5:
        rest = sum(len(c) for c in list(groups.values())[5:])
        parts.append(f"and {rest} more customer(s) lack some of these")
    hints = []
    if any(c.startswith("cat_") for c in cols):
        hints.append("category shares (cat_...): send the customers' transactions with their categories, or give "
                     "the shares as attributes (0 to 1, summing to 1)")
    if any(c.startswith("ch_") for c in cols):
        hints.append("channel shares (ch_...): send the transactions with their channels, or give the shares as "
                     "attributes (0 to 1, summing to 1)")
    if getattr(seg, "unplaced_model", None) is not None and any(c.startswith(("cat_", "ch_")) for c in cols):
        hints.append("or give the customer's survey answers (" + ", ".join(seg.features[:2]) + ", ...): a customer "
                     "with survey answers is placed by them and needs no shares")
    profile = [c for c in cols if not c.startswith(("cat_", "ch_"))]
    if profile:
        notes = {a: note for a, _req, note in _attribute_uses(seg, table) if a in profile}
        needed = [f"{c!r} " + ("always" if notes.get(c, "").startswith("read by every") else
                               notes.get(c, "").split(";")[0].replace("required ", "only ")) for c in profile]
        hints.append("profile attributes: " + ", ".join(needed) + " (see ListSegmentations)")
    problems.section(f"segmentation {seg.name!r} needs attributes the request lacks ({len(cols)}: {_names(cols)}): "
                     f"{'; '.join(parts)}. {'; '.join(hints)}")


def _attribute_uses(seg, known: pd.DataFrame) -> list[tuple[str, bool, str]]:
    """(attribute, required, note) for every attribute a segmentation's ``predict`` reads (ListSegmentations)."""
    out: list[tuple[str, bool, str]] = []
    own = set(seg.features or [])
    for col in _needed_columns(seg):  # the fitted models' feature names: the list cannot drift from them
        unplaced_only = col not in own  # read by the behaviour classifier only (needs: customers without answers)
        when = " (for a customer without survey answers)" if unplaced_only else ""
        if col in _SUMMARY_EXTRAS:
            derived = ("revenue / (frequency + 1)" if col == "mean_amount" else "frequency + 1")
            out.append((col, not unplaced_only, f"computed from the transactions; for a customer sent as a summary "
                                                f"{derived}, or the exact value given as this attribute{when}"))
            continue
        if col in _BEHAVIOUR:
            source = {"frequency": "the summary's frequency", "revenue": "the summary's revenue",
                      "recency": "the summary's recency", "T": "the summary's T",
                      "monetary_value": "the summary's monetaryValue",
                      "days_since_last": "T - recency of the summary",
                      "purchase_rate": "(frequency + 1) / T x 30 of the summary"}.get(col, "the service's models")
            out.append((col, not unplaced_only, f"computed by the service from the transactions, or {source}; not "
                                                f"given as an attribute{when}"))
            continue
        if col.startswith(("cat_", "ch_")):
            kind = "categories" if col.startswith("cat_") else "channels"
            if col in own:
                out.append((col, True, f"share 0 to 1; derived when the customer is sent as transactions with "
                                       f"{kind}, else required"))
            else:
                out.append((col, False, f"share 0 to 1; required for a customer without survey answers (placed "
                                        f"from behaviour); derived when it is sent as transactions with {kind}"))
        elif _is_survey_item(col):
            scale = ""
            if col in known.columns and known[col].notna().any():
                scale = f" on the scale {float(known[col].min()):g} to {float(known[col].max()):g}"
            out.append((col, False, f"survey answer{scale}; a customer without any answer is placed from "
                                    "behaviour (the cat_/ch_ shares)"))
        else:
            out.append((col, False, "profile attribute; unknown if not given"))
    rules = getattr(seg.segmenter, "rules_", None)
    if rules:
        from ..segment.apriori import format_condition

        seen = getattr(seg.segmenter, "seen_", {})
        for col in dict.fromkeys(c for r in rules for c in r["where"]):
            readers = [r for r in rules if col in r["where"]]
            values = f"; values: {', '.join(sorted(seen[col]))}" if col in seen else ""
            if len(readers) == len(rules):
                out.append((col, True, f"read by every a priori rule{values}"))
                continue
            first = readers[0]["where"]
            common = {k: v for k, v in first.items()
                      if k != col and all(r["where"].get(k) == v for r in readers)}
            when = f"when {format_condition(common)}" if common else "by some of the a priori rules"
            out.append((col, False, f"required {when}{values}"))
    return out


def segment_customers(store: ModelStore, request) -> etree._Element:
    """SegmentCustomers: a customer table of the request's customers (``customer_table`` of their
    transactions, or their summaries), P(alive)/CLV from the stored models, then ``Segmentation.predict``."""
    name = _text(request, "segmentation")
    seg = _segmentation(store, name)
    table = _customers_table(store, request, seg)
    labels = seg.predict(table)
    distance = _distances(seg, table)
    position = {s: i for i, s in enumerate(seg.segments)}
    resp = _response("SegmentCustomers")
    _add(resp, "segmentation", name)
    for i, (cid, label) in enumerate(zip(table.index, labels.to_numpy())):
        a = etree.SubElement(resp, _q("assignment"))
        _add(a, "customerId", str(cid))
        _add(a, "segmentId", str(position.get(str(label), -1)))
        _add(a, "segmentName", str(label))
        if distance is not None and np.isfinite(distance[i]):
            _add(a, "distance", float(distance[i]))
    return resp


def _distances(seg, table: pd.DataFrame) -> np.ndarray | None:
    """For a centroid clustering (k-means, the needs segmentation's k-means on factor scores): each customer's
    distance to the centre of the cluster the segmenter places it in, in the space the segmenter assigns in
    (``segmenter.preprocess``: standardized features, or the needs factor scores). NaN for a customer the
    segmenter does not place itself (the needs segmentation's non-respondents, placed from behaviour by a
    classifier: no centre of theirs exists; before, the median-imputed answers gave every one the same
    distance) and for one sent to the fallback segment (a category not seen when it was built); the
    element is then left out. None for a segmentation without centres (RFM, a priori, value, relationship)."""
    segmenter = seg.segmenter
    if seg.features is None or not hasattr(segmenter, "preprocess"):
        return None
    model = getattr(segmenter, "model_", None)
    if not hasattr(model, "cluster_centers_") or not hasattr(model, "transform"):
        return None
    X = table[seg.features]
    out = np.full(len(table), np.nan)
    place = np.ones(len(table), dtype=bool)
    if hasattr(segmenter, "unseen_categories"):
        place &= ~np.asarray(segmenter.unseen_categories(X)[0], dtype=bool)
    if not place.any():
        return out
    codes = np.asarray(segmenter.predict(X.loc[place]), dtype=int)
    rows = np.flatnonzero(place)
    placed = codes >= 0
    if placed.any():
        to_centres = np.asarray(model.transform(segmenter.preprocess(X.iloc[rows[placed]])), dtype=float)
        out[rows[placed]] = to_centres[np.arange(placed.sum()), codes[placed]]
    return out


def predict_customer_value(store: ModelStore, request) -> etree._Element:
    """PredictCustomerValue: histories checked like ``fit`` checks them, converted to weeks, then the stored
    transaction model's P(alive) and expected purchases over ``horizon`` months, the spend model's expected
    spend and ``customer_lifetime_value`` (the data's currency)."""
    unit = _text(request, "timeUnit")
    horizon = int(_text(request, "horizon"))
    n = sum(1 for _ in request.iterchildren(_q("customer")))
    if n * horizon > MAX_CUSTOMER_MONTHS:
        raise ServiceFault("BatchTooLarge", f"PredictCustomerValue: {n:,} customers x horizon {horizon:,} months = "
                           f"{n * horizon:,} customer-months, over this service's limit of {MAX_CUSTOMER_MONTHS:,}; "
                           f"send at most {MAX_CUSTOMER_MONTHS // horizon:,} customers with this horizon")
    discount = _text(request, "discountRate")
    margin = _text(request, "margin")
    days = _histories(request, "PredictCustomerValue", unit=unit)
    v = value_columns(store, days, horizon, None if discount is None else float(discount),
                       None if margin is None else float(margin))
    resp = _response("PredictCustomerValue")
    _add(resp, "model", transaction_model_label(store.transaction_model)
         + (" + Gamma-Gamma" if not isinstance(store.spend_model, (int, float)) else " + constant spend"))
    _add(resp, "horizon", str(horizon))
    _add_model_notes(resp, store)
    used = store.margin if margin is None else float(margin)
    _add(resp, "modelNote", f"clv: {value_label(used)} over {horizon} months, in the data's currency"
                            + (" (the folder's margin)" if margin is None else ""))
    for cid, row in zip(v.index, v.itertuples(index=False)):
        el = etree.SubElement(resp, _q("value"))
        _add(el, "customerId", str(cid))
        _add(el, "expectedPurchases", row.expected_purchases)
        _add(el, "pAlive", row.p_alive)
        _add(el, "expectedSpend", row.expected_spend)
        _add(el, "clv", row.clv)
    return resp


def classify_relationship(store: ModelStore, request) -> etree._Element:
    """ClassifyRelationship: the stored relationship typer's ``predict`` (its fitted model and cuts) on
    histories in days; days since last purchase = T - recency, purchase rate as ``customer_table`` defines it."""
    seg = _segmentation(store, "relationship")
    hist = _histories(request, "ClassifyRelationship", extra=("revenue",))
    hist["days_since_last"] = hist["T"] - hist["recency"]
    hist["n_transactions"] = hist["frequency"] + 1
    # the purchase rate as segwork.features.customer_table defines it: purchase days per 30 days of tenure
    hist["purchase_rate"] = (hist["frequency"] + 1) / np.maximum(hist["T"], 1.0) * 30.0
    typer = seg.segmenter
    types = seg.predict(hist)
    p = typer.p_alive(hist)
    resp = _response("ClassifyRelationship")
    _add(resp, "model", str(getattr(typer, "p_alive_model_", transaction_model_label(typer.model_))))
    for cid in hist.index:
        t = str(types[cid])
        st = _strategy(t)
        el = etree.SubElement(resp, _q("relationship"))
        _add(el, "customerId", str(cid))
        _add(el, "relationship", t)
        _add(el, "pAlive", float(p[cid]))
        _add(el, "strategy", st.goal if st else "no strategy stated")
        _add(el, "offer", st.offer if st else "")
    return resp


def purchase_propensity(store: ModelStore, horizon_days: int = 30) -> pd.Series:
    """P(purchase in the next ``horizon_days`` days) of every customer of the served table.

    The served transaction model's expected purchases ``E`` in the period
    (from the table's frequency, recency and T in days, converted to the
    model's weeks) give ``p_buy = 1 - exp(-E)``, the same score as
    :func:`segwork.act.clv_propensity` at the data's last day.

    Returns a float Series (0..1) named ``p_buy`` indexed like ``store.table``.
    Raises DataError for ``horizon_days`` that is not a whole number of days
    from 1 to :data:`MAX_PROPENSITY_DAYS` (3650), naming the value and the limit.
    """
    check_number("purchase_propensity", "horizon_days", horizon_days, low=1, high=MAX_PROPENSITY_DAYS, integer=True,
                 unit="days")
    t = store.table
    week = TIME_UNITS["weeks"]
    expected = np.asarray(store.transaction_model.expected_purchases(
        int(horizon_days) / week, t["frequency"].to_numpy(dtype=float), t["recency"].to_numpy(dtype=float) / week,
        t["T"].to_numpy(dtype=float) / week), dtype=float)
    return pd.Series(-np.expm1(-expected), index=t.index, name="p_buy")


def select_campaign_targets(store: ModelStore, request) -> etree._Element:
    """SelectCampaignTargets: ``segwork.act.select_targets`` on the prepared table with its ``clv``.

    With ``responseRate`` the assumed rate is used (as before); without it
    each customer's :func:`purchase_propensity` for ``horizonDays`` (default
    30) times ``incrementalShare`` (default 1). ``channel`` leaves out
    customers without its permission flag and reports how many.
    """
    seg = _segmentation(store, _text(request, "segmentation"))
    segments = [s.text.strip() for s in request.iterfind(_q("segment"))] or None
    budget = _text(request, "budget")
    max_contacts = _text(request, "maxContacts")
    rate = _text(request, "responseRate")
    channel = _text(request, "channel")
    if rate is not None:
        score = {"response_rate": float(rate)}
    else:
        score = {"propensity": purchase_propensity(store, int(_text(request, "horizonDays", "30"))),
                 "incremental_share": float(_text(request, "incrementalShare", "1"))}
    # margin: the profit share of revenue, as everywhere (PredictCustomerValue, the exports, the pages): the
    # targets' value is the CLV at that margin. The folder's clv is at the folder's margin and CLV is linear in
    # the margin, so it is rescaled (a folder at margin 1 gives clv x margin, as before the one margin).
    margin = float(_text(request, "margin"))
    stored = store.margin
    if stored <= 0:
        raise ServiceFault("InvalidRequest", f"SelectCampaignTargets: the models' CLV was computed at margin "
                           f"{stored:g}, which cannot be rescaled to margin {margin:g}; rebuild the models with a "
                           "margin above 0")
    table = store.table.assign(clv=store.table["clv"] * (margin / stored))
    targets = select_targets(table, seg, segments=segments, value="clv", **score, channel=channel,
                             cost_per_contact=float(_text(request, "costPerContact")),
                             margin_on_value=1.0,
                             budget=None if budget is None else float(budget),
                             max_contacts=None if max_contacts is None else int(max_contacts))
    resp = _response("SelectCampaignTargets")
    _add(resp, "contacts", str(len(targets)))
    _add(resp, "totalExpectedProfit", float(targets["expected_profit"].sum()) if len(targets) else 0.0)
    for rank, (cid, row) in enumerate(targets.iterrows(), start=1):
        el = etree.SubElement(resp, _q("target"))
        _add(el, "rank", str(rank))
        _add(el, "customerId", str(cid))
        _add(el, "segment", str(row["segment"]))
        _add(el, "value", float(row["value"]))
        _add(el, "expectedProfit", float(row["expected_profit"]))
        _add(el, "cumulativeProfit", float(row["cumulative_profit"]))
        if "p_buy" in targets.columns:
            _add(el, "pBuy", float(row["p_buy"]))
    if channel is not None:
        _add(resp, "leftOutNoPermission", str(int(targets.attrs["left_out_no_permission"])))
    return resp


def _attribute_text(value) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def get_customer_view(store: ModelStore, request) -> etree._Element:
    """GetCustomerView: :func:`segwork.act.customer_view` on the prepared table and every segmentation: the
    customer's figures (``clv`` named by ``valueLabel``, the folder's margin), segment in every segmentation,
    relationship type and its strategy; profile, permission, mix and survey fields as name/value attributes."""
    cid = _text(request, "customerId")
    if cid not in store.table.index:
        raise ServiceFault("UnknownCustomer", f"GetCustomerView: no customer {cid!r} in the data the models were "
                           f"built from ({store.manifest.get('dataset')})")
    view = customer_view(cid, store.table, store.segmentations, margin=store.margin)
    figures = view.figures
    relationship = view.relationship if "relationship" in store.segmentations else "unknown"
    resp = _response("GetCustomerView")
    _add(resp, "customerId", cid)
    _add(resp, "frequency", str(int(figures["frequency"])))
    for el, col in (("recency", "recency"), ("T", "T"), ("daysSinceLast", "days_since_last"),
                    ("monetaryValue", "monetary_value"), ("revenue", "revenue"), ("pAlive", "p_alive"),
                    ("clv", "clv")):
        _add(resp, el, float(figures[col]))
    _add(resp, "valueLabel", view.value_label)
    _add(resp, "relationship", relationship)
    _add(resp, "strategy", view.strategy or "no strategy stated")
    for name, label in view.segments.items():
        m = etree.SubElement(resp, _q("membership"))
        _add(m, "segmentation", name)
        _add(m, "segment", label)
    attributes = view.attributes
    for col in store.table.columns:
        if col in _BEHAVIOUR or col not in attributes:
            continue
        text = _attribute_text(attributes[col])
        if text is not None:
            a = etree.SubElement(resp, _q("attribute"))
            _add(a, "name", str(col))
            _add(a, "value", text)
    return resp


#: operation name -> function(store, request element) -> response element.
OPERATIONS = {
    "SegmentCustomers": segment_customers,
    "GetSegmentProfiles": get_segment_profiles,
    "PredictCustomerValue": predict_customer_value,
    "ClassifyRelationship": classify_relationship,
    "SelectCampaignTargets": select_campaign_targets,
    "GetCustomerView": get_customer_view,
    "ListSegmentations": list_segmentations,
    "ExplainDefection": explain_defection,
}


def call(store: ModelStore, op: str, request) -> etree._Element:
    """Run operation ``op`` on a validated request element; library data errors become Client faults."""
    try:
        return OPERATIONS[op](store, request)
    except DataError as exc:
        raise ServiceFault("InvalidRequest", str(exc)) from None
