"""Segment migration: where the customers of each segment went between two observation ends.

The same customers are segmented at an earlier and a later observation end
(for example a quarter apart) and compared: the *transition matrix* counts the
customers in each (earlier segment, later segment) pair, its row shares say
where the customers of an earlier segment went, and the *value that moved*
sums a value per customer (CLV, revenue) over each pair. This is the
segment-migration (or "segment flow") analysis CRM teams use to watch whether
retention works (Blattberg, Kim & Neslin 2008, *Database Marketing*, ch. 12 on
customer migration; the transition matrix is that of a first-order Markov
migration model, Pfeifer & Carraway 2000).

:func:`migration` compares two labelings; :func:`migrate` holds each
segmentation's definition fixed (the segmenter fitted at the earlier end places
the customers of the later table with :meth:`Segmentation.predict`), so that a
move is a change in the customer, not in the segment definitions.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .base import Segmentation, as_labels

__all__ = ["Migration", "migration", "migrate", "dataset_at", "NEW_CUSTOMERS", "LEFT_DATA"]

#: The row of the customers found only at the later end (acquired in between).
NEW_CUSTOMERS = "new customers"
#: The column of the customers found only at the earlier end (no longer in the later data).
LEFT_DATA = "not in the later data"


def dataset_at(data, observation_end):
    """The data set as it was known at an earlier ``observation_end``: what the earlier segmentation sees.

    ``data``: a :class:`segwork.datasets.Dataset`; returns a copy whose
    transactions (and dated tables: ``campaign``, ``dynamic_covariates``,
    ``exit_survey``) stop at ``observation_end`` (inclusive) and whose
    ``observation_end`` is that date. The profile, survey and truth are kept
    as they are (undated). Raises DataError for a date that is not a date,
    is after the data's observation end, or leaves no transaction.
    """
    try:
        end = pd.Timestamp(observation_end).normalize()
    except (TypeError, ValueError) as exc:
        raise DataError(f"dataset_at: observation_end={observation_end!r} is not a date ({exc})") from None
    if data.observation_end is not None and end > pd.Timestamp(data.observation_end):
        raise DataError(f"dataset_at: {end.date()} is after the data's observation end "
                        f"({pd.Timestamp(data.observation_end).date()}); choose an earlier date")
    tx = data.transactions[data.transactions["date"] <= end]
    if tx.empty:
        raise DataError(f"dataset_at: no transaction up to {end.date()} (the data start "
                        f"{data.transactions['date'].min().date()}); choose a later date")
    changes = {"transactions": tx, "observation_end": end}
    for field, column in (("campaign", "campaign_date"), ("dynamic_covariates", "period_start"),
                          ("exit_survey", "exit_date")):
        frame = getattr(data, field, None)
        if frame is not None and column in frame.columns:
            changes[field] = frame[pd.to_datetime(frame[column]) <= end]
    return dataclasses.replace(data, **changes)


@dataclass(frozen=True)
class Migration:
    """Where the customers of each segment went between two observation ends (see :func:`migration`).

    ``name``: the segmentation; ``counts``: DataFrame, rows the earlier
    segments (plus :data:`NEW_CUSTOMERS` when some customers are only in the
    later labels), columns the later segments (plus :data:`LEFT_DATA` when
    some are only in the earlier labels), integer customer counts; every
    customer of either date is in exactly one cell. ``shares``: ``counts``
    divided by its row sums (each row sums to 1: where that segment's
    customers went; a row of an empty segment is 0). ``value_before`` /
    ``value_after``: like ``counts``, the sum of the value at the earlier /
    later end of the customers in each cell (the value's unit, e.g. EUR of
    CLV; 0 where the customer has no value at that end), or None when no
    value was given. ``flows``: one row per non-empty cell: ``from``, ``to``,
    ``customers``, ``value_before``, ``value_after`` (NaN without values),
    ``moved`` (from != to). ``summary``: one row per segment: ``before``,
    ``after`` (customers), ``stayed``, ``moved_out``, ``moved_in`` (from
    another segment or new), ``retention`` (stayed / before), and with
    values ``value_out`` (earlier value of those who moved out),
    ``value_in`` (later value of those who moved in), ``value_before`` and
    ``value_after`` (the segment's total at each end). ``stayed_share``:
    share of the customers of both dates who kept their segment.
    ``before_label``/``after_label``: names of the two ends (e.g. dates).
    """

    name: str
    counts: pd.DataFrame
    shares: pd.DataFrame
    value_before: pd.DataFrame | None
    value_after: pd.DataFrame | None
    flows: pd.DataFrame
    summary: pd.DataFrame
    stayed_share: float
    before_label: str = "before"
    after_label: str = "after"

    @property
    def moved(self) -> int:
        """Customers of both dates whose segment changed."""
        both = self.flows[(self.flows["from"] != NEW_CUSTOMERS) & (self.flows["to"] != LEFT_DATA)]
        return int(both.loc[both["moved"], "customers"].sum())


def _order(x, labels: pd.Series) -> list[str]:
    """The segment order of a labeling: the Segmentation's, the categories', else by size (ties by name)."""
    if isinstance(x, Segmentation):
        return [str(s) for s in x.segments]
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype):
        return [str(c) for c in x.cat.categories]
    sizes = labels.value_counts()
    return sorted(sizes.index.astype(str), key=lambda s: (-sizes[s], s))


def _values(value, where: str, customers: pd.Index) -> pd.Series | None:
    if value is None:
        return None
    if not isinstance(value, pd.Series):
        raise DataError(f"migration: {where} must be a Series of values indexed by customer_id, "
                        f"got {type(value).__name__}")
    v = pd.to_numeric(value, errors="coerce")
    v.index = v.index.astype(str)
    if v.index.has_duplicates:
        dup = v.index[v.index.duplicated()][0]
        raise DataError(f"migration: {where} has customer {dup!r} twice; give one value per customer")
    v = v.reindex(customers)
    bad = ~np.isfinite(v.to_numpy(dtype=float))
    if bad.any():
        cid = customers[np.flatnonzero(bad)[0]]
        raise DataError(f"migration: {where} has no finite value for customer {cid!r} ({int(bad.sum())} "
                        "customers in all); give a value (e.g. CLV) for every customer of that date")
    return v


def migration(before, after, *, value_before: pd.Series | None = None, value_after: pd.Series | None = None,
              name: str | None = None, before_label: str = "before", after_label: str = "after") -> Migration:
    """The transition matrix (counts and row shares) and the value that moved between two labelings.

    Parameters
    ----------
    before, after: the segment of each customer at the earlier and at the
        later observation end: a :class:`Segmentation` (its segment order is
        kept) or a Series of names indexed by customer_id (compared as text).
        Customers found at one end only go to the row :data:`NEW_CUSTOMERS` or
        the column :data:`LEFT_DATA`.
    value_before, value_after: optional value per customer at each end
        (e.g. CLV in the data's currency), indexed by customer_id; every
        customer of that end needs a finite value.
    name: the segmentation's name (default: ``before``'s name).
    before_label, after_label: how the two ends are called on a page (e.g. dates).

    Returns
    -------
    :class:`Migration` (its fields are described there).

    Raises
    ------
    DataError: a labeling is not a Segmentation or Series, has a customer
        twice or a missing label; the two have no customer in common; a value
        Series misses a customer or has a non-finite value.

    The matrix is the count form of the first-order Markov migration matrix
    (Pfeifer & Carraway 2000); its row shares estimate the transition
    probabilities of the customers of each earlier segment over this interval.
    """
    for where, x in (("before", before), ("after", after)):
        if isinstance(x, pd.Series) and x.isna().any():
            cid = x.index[x.isna().to_numpy()][0]
            raise DataError(f"migration: the {where} labels have no segment for customer {cid!r}; "
                            "give every customer a segment (a named remainder such as 'Other')")
    la, lb = as_labels(before), as_labels(after)
    for where, lab in (("before", la), ("after", lb)):
        lab.index = lab.index.astype(str)
        if lab.index.has_duplicates:
            raise DataError(f"migration: the {where} labels have customer {lab.index[lab.index.duplicated()][0]!r} "
                            "twice; give one segment per customer")
    common = la.index.intersection(lb.index)
    if len(common) == 0:
        raise DataError("migration: the two labelings have no customer in common; segment the same customers "
                        "at both observation ends (ids compared as text)")
    rows = _order(before, la)
    cols = _order(after, lb)
    if not isinstance(after, Segmentation) and not isinstance(after.dtype, pd.CategoricalDtype):
        cols = [r for r in rows if r in set(cols)] + [c for c in cols if c not in set(rows)]  # diagonal aligned
    new = lb.index.difference(la.index)
    gone = la.index.difference(lb.index)
    src = pd.concat([la, pd.Series(NEW_CUSTOMERS, index=new)]) if len(new) else la
    dst = pd.concat([lb, pd.Series(LEFT_DATA, index=gone)]) if len(gone) else lb
    customers = src.index  # every customer of either end, once
    dst = dst.reindex(customers)
    rows = rows + [r for r in sorted(set(src) - set(rows))] + ([NEW_CUSTOMERS] if len(new) else [])
    rows = list(dict.fromkeys(rows))
    cols = cols + [c for c in sorted(set(dst) - set(cols))] + ([LEFT_DATA] if len(gone) else [])
    cols = list(dict.fromkeys(cols))
    src = pd.Categorical(src.to_numpy(dtype=str), categories=rows)
    dst = pd.Categorical(dst.to_numpy(dtype=str), categories=cols)
    frame = pd.DataFrame({"from": src, "to": dst}, index=customers)
    vb = _values(value_before, "value_before", la.index)
    va = _values(value_after, "value_after", lb.index)
    frame["value_before"] = vb.reindex(customers).fillna(0.0) if vb is not None else np.nan
    frame["value_after"] = va.reindex(customers).fillna(0.0) if va is not None else np.nan
    grouped = frame.groupby(["from", "to"], observed=False)
    counts = grouped.size().unstack("to").reindex(index=rows, columns=cols).fillna(0).astype(int)
    counts.index.name, counts.columns.name = f"{before_label}", f"{after_label}"
    totals = counts.sum(axis=1)
    shares = counts.div(totals.where(totals > 0, 1), axis=0)

    def matrix(col):
        if frame[col].isna().all():
            return None
        out = grouped[col].sum().unstack("to").reindex(index=rows, columns=cols).fillna(0.0)
        out.index.name, out.columns.name = counts.index.name, counts.columns.name
        return out

    mb, ma = matrix("value_before"), matrix("value_after")
    flows = grouped.agg(customers=("from", "size"), value_before=("value_before", "sum"),
                        value_after=("value_after", "sum")).reset_index()
    flows = flows[flows["customers"] > 0].reset_index(drop=True)
    flows["from"], flows["to"] = flows["from"].astype(str), flows["to"].astype(str)
    if mb is None:
        flows["value_before"] = np.nan
    if ma is None:
        flows["value_after"] = np.nan
    flows["moved"] = flows["from"] != flows["to"]
    segments = list(dict.fromkeys([r for r in rows if r != NEW_CUSTOMERS] + [c for c in cols if c != LEFT_DATA]))
    summary = pd.DataFrame(index=pd.Index(segments, name="segment"))
    summary["before"] = counts.sum(axis=1).reindex(segments).fillna(0).astype(int)
    summary["after"] = counts.sum(axis=0).reindex(segments).fillna(0).astype(int)
    diagonal = {s: int(counts.loc[s, s]) if s in counts.index and s in counts.columns else 0 for s in segments}
    summary["stayed"] = pd.Series(diagonal).reindex(segments).astype(int)
    summary["moved_out"] = summary["before"] - summary["stayed"]
    summary["moved_in"] = summary["after"] - summary["stayed"]
    summary["retention"] = summary["stayed"] / summary["before"].where(summary["before"] > 0)
    if mb is not None:
        out_v = {s: float(mb.loc[s].sum() - (mb.loc[s, s] if s in mb.columns else 0.0)) if s in mb.index else 0.0
                 for s in segments}
        summary["value_out"] = pd.Series(out_v)
        summary["value_before"] = mb.sum(axis=1).reindex(segments).fillna(0.0)
    if ma is not None:
        in_v = {s: float(ma[s].sum() - (ma.loc[s, s] if s in ma.index else 0.0)) if s in ma.columns else 0.0
                for s in segments}
        summary["value_in"] = pd.Series(in_v)
        summary["value_after"] = ma.sum(axis=0).reindex(segments).fillna(0.0)
    stayed = sum(diagonal.values())
    name = name or (before.name if isinstance(before, Segmentation) else (la.name or "segmentation"))
    return Migration(name=str(name), counts=counts, shares=shares, value_before=mb, value_after=ma, flows=flows,
                     summary=summary, stayed_share=stayed / len(common), before_label=before_label,
                     after_label=after_label)


def migrate(segmentations: Mapping[str, Segmentation], later: pd.DataFrame, *, value_column: str | None = "clv",
            earlier: pd.DataFrame | None = None, before_label: str = "before",
            after_label: str = "after") -> dict[str, Migration]:
    """The migration of every segmentation, its definition held fixed between the two ends.

    Parameters
    ----------
    segmentations: name -> :class:`Segmentation` built at the earlier
        observation end (e.g. :func:`segwork.segment.default_segmentations`
        on the table prepared at that end).
    later: the customer table prepared at the later end (the columns each
        segmentation reads); each segmentation's fitted segmenter places its
        customers (:meth:`Segmentation.predict`), with the cuts, rules,
        centroids and models learnt at the earlier end.
    value_column: the value column (e.g. ``"clv"``) of ``earlier`` and
        ``later`` summed per cell; None or a column missing from a table:
        no value at that end.
    earlier: the table the segmentations were built on (for its values).
    before_label, after_label: names of the two ends on a page.

    Returns
    -------
    dict name -> :class:`Migration`, in the order given.

    Raises
    ------
    DataError: a segmentation without a segmenter, or ``later`` lacks a
        column it reads (from :meth:`Segmentation.predict`); as :func:`migration`.
    """
    def value(table):
        if table is None or value_column is None or value_column not in table.columns:
            return None
        return table[value_column]

    out = {}
    for name, seg in segmentations.items():
        placed = seg.predict(later).astype(str)
        order = [str(x) for x in seg.segments]
        order += sorted(set(placed) - set(order))
        after = pd.Series(pd.Categorical(placed, categories=order), index=placed.index, name=name)
        out[name] = migration(seg, after, value_before=value(earlier), value_after=value(later), name=name,
                              before_label=before_label, after_label=after_label)
    return out
