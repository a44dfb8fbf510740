"""Export for a CRM: segment memberships, target, trigger and retention lists as CSV or Parquet with a fixed schema.

:data:`EXPORT_SCHEMAS` documents every column (type, unit, meaning); the
frames :func:`export_frame` returns have exactly those columns in that
order, so a CRM import can be set up once. ``segwork export`` writes them,
atomically (:func:`write_export`: a reader never sees half a file).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_write_bytes
from .._checks import renamed_keywords
from ..clv.margin import DEFAULT_MARGIN, value_label
from ..errors import DataError
from .explain import RETENTION_EXPORT_SCHEMA

__all__ = ["EXPORT_KINDS", "EXPORT_SCHEMAS", "export_frame", "transaction_log", "write_export"]

EXPORT_KINDS = ("segments", "targets", "triggers", "retention")

#: kind -> column -> (type, unit, meaning).
EXPORT_SCHEMAS: dict[str, dict[str, tuple[str, str, str]]] = {
    "segments": {
        "customer_id": ("string", "", "the customer's id in the source data"),
        "segmentation": ("string", "", "the segmentation (rfm, value, relationship, clustering, ...)"),
        "segment": ("string", "", "the customer's segment in it"),
    },
    "targets": {
        "rank": ("int", "", "1 = best expected incremental profit"),
        "customer_id": ("string", "", "the customer's id"),
        "p_buy": ("float", "probability 0..1", "P(purchase in the campaign period), transaction model"),
        "value": ("float", "currency", "mean spend per purchase, the data's currency"),
        "expected_profit": ("float", "currency", "p_buy x incremental share x value x margin - cost per contact"),
        "cumulative_profit": ("float", "currency", "running total of expected_profit down the list"),
    },
    "triggers": {
        "customer_id": ("string", "", "the customer's id"),
        "date": ("date", "YYYY-MM-DD", "when to act"),
        "event": ("string", "", "birthday, contract_end, purchase_anniversary or lapse"),
        "reason": ("string", "", "why, with the numbers"),
        "segment": ("string", "", "the customer's RFM segment"),
        "relationship": ("string", "", "relationship type (Prospective, Loyal, Vulnerable, Win-back, Other) at the "
                                       "observation end"),
        "action": ("string", "", "the recommended action"),
    },
    # the customers at risk ranked by retention value, with their reasons (segwork.act.explain.retention_frame)
    "retention": RETENTION_EXPORT_SCHEMA,
}


@renamed_keywords(seed="random_state", cutoff="observation_end")
def export_frame(kind: str, data, *, random_state: int = 0, observation_end=None, horizon_days: int = 30,
                 cost_per_contact: float = 1.0, margin: float = DEFAULT_MARGIN, incremental_share: float = 0.2,
                 channel: str = "email") -> pd.DataFrame:
    """The export table of one kind for a data set.

    Parameters
    ----------
    kind: ``"segments"`` (every default segmentation of the prepared table),
        ``"targets"`` (customers worth contacting for the next
        ``horizon_days``, scored by MBG/NBD) or ``"triggers"`` (events in the
        ``horizon_days`` after ``observation_end``). Both respect the permission for
        ``channel`` when the data has customer profiles. ``"retention"``: the
        customers at risk (Vulnerable, Win-back) ranked by retention value,
        with their reasons (:func:`segwork.act.explain.explain_defection`,
        CLV as ``margin`` x revenue over 12 months at 1 % a month, the margin
        of the targets and of notebook 10; data without drivers: P(alive) and value at risk only, said
        in ``attrs["note"]``); its ``attrs`` hold the counts
        (:func:`segwork.act.explain.retention_frame`).
    data: a :class:`segwork.datasets.Dataset`.
    random_state: random state of the clustering segmentations (old name ``seed``).
    observation_end: the day the histories end, the day the lists are made (default: the
        data's last day; old name ``cutoff``). The old names still work with a
        FutureWarning until segwork 0.3.
    cost_per_contact (currency), margin (share of revenue;
    :data:`segwork.clv.margin.DEFAULT_MARGIN` by default, the margin of every
    page; 1 gives expected revenue), incremental_share (0..1): the
    targeting assumptions; ``margin`` also sets the retention list's and the
    segments' CLV.
    channel: the contact channel of the list (``email``, ``sms``, ``phone``,
        ``post``): customers without ``<channel>_opt_in`` are left out (their
        number is in ``result.attrs["left_out_no_permission"]``). Data without
        customer profiles (CDNOW) carries no permissions; nobody is left out.

    Returns a DataFrame with the columns of ``EXPORT_SCHEMAS[kind]``. Its
    ``attrs`` say where every customer went: ``n_customers`` (the customers
    at the observation end: those with a purchase; for triggers also the
    profile's customers without one) and ``counts`` (an ordered dict: what
    happened -> customers), whose values add up to ``n_customers`` for
    every kind (segments: every customer in each segmentation; targets:
    listed, left out without permission, left out as unprofitable;
    triggers: with an event, with an event but no permission, without an
    event; retention: listed, not at risk). Also
    ``left_out_no_permission``; targets: ``n_unprofitable`` and
    ``n_candidates`` and the assumptions (``margin``, ``incremental_share``,
    ``cost_per_contact``); triggers: ``n_events`` (rows; a customer can have
    several); segments: ``segmentations`` and ``value_label`` (what the
    value tiers rank by, :func:`segwork.clv.margin.value_label`).

    Raises DataError for an unknown kind, or what the underlying steps raise
    (e.g. triggers without customer profiles, a profile without the
    channel's permission column).
    """
    if kind not in EXPORT_KINDS:
        raise DataError(f"export: unknown kind {kind!r}; choose one of {', '.join(EXPORT_KINDS)}")
    tx = data.transactions
    cut = pd.Timestamp(observation_end).normalize() if observation_end is not None else tx["date"].max().normalize()
    if kind == "retention":
        from .explain import explain_defection, retention_frame

        return retention_frame(explain_defection(data, margin=margin))
    where = f"export {kind}"
    if kind == "segments":
        from ..prepare import prepare_table
        from ..segment import default_segmentations

        table = prepare_table(data, margin=margin)
        segs = default_segmentations(table, random_state=random_state)
        parts = [pd.DataFrame({"customer_id": s.labels.index.astype(str), "segmentation": name,
                               "segment": s.labels.astype(str).to_numpy()}) for name, s in segs.items()]
        out = pd.concat(parts, ignore_index=True)
        left_out = 0
        n_customers = len(table)
        counts = {f"in each of the {len(segs)} segmentations ({', '.join(segs)}), one row each": n_customers}
        extra = {"segmentations": list(segs), "value_label": value_label(margin)}
    elif kind == "targets":
        from ..features import customer_table
        from .propensity import clv_propensity
        from .targeting import select_targets

        table = customer_table(tx, data.customers, observation_end=cut)
        p = clv_propensity(tx, cut, horizon_days)["p_buy"]
        sel = select_targets(table, value="mean_amount", propensity=p, incremental_share=incremental_share,
                             margin_on_value=margin, cost_per_contact=cost_per_contact,
                             channel=channel if data.customers is not None else None)
        left_out = sel.attrs["left_out_no_permission"]
        out = sel.reset_index()
        out.insert(0, "rank", range(1, len(out) + 1))
        n_customers = len(table)
        permission = (f"left out without {channel} permission" if data.customers is not None
                      else "left out without permission (none: the data has no permission flags)")
        counts = {"listed": len(out), permission: left_out,
                  "left out as unprofitable: expected profit at most 0 (P(buy) x incremental share x mean spend x "
                  "margin does not cover the contact cost)": sel.attrs["n_unprofitable"]}
        extra = {"n_unprofitable": int(sel.attrs["n_unprofitable"]), "n_candidates": int(sel.attrs["n_candidates"]),
                 "margin": float(margin), "incremental_share": float(incremental_share),
                 "cost_per_contact": float(cost_per_contact),
                 # named as export retention names it (the data set's currency label), not "the data's currency"
                 "currency": str(data.currency)}
    else:
        from ..features import customer_table
        from .triggers import labelled_triggers

        if data.customers is None:
            raise DataError("export triggers: the data set has no customer profiles (birthdays, contract ends); "
                            "use a data set with a customers table")
        table = customer_table(tx, data.customers, observation_end=cut)
        # the RFM segment and relationship type of every customer at the observation end (MBG/NBD P(alive),
        # recency, value), as the segments export and the service type them; notebook 08 builds its list the same way
        out = labelled_triggers(tx, data.customers, table, cut + pd.Timedelta(days=1),
                                cut + pd.Timedelta(days=horizon_days), channel=channel)
        left_out = out.attrs["left_out_no_permission"]
        out["date"] = pd.to_datetime(out["date"]).dt.date
        population = set(table.index.astype(str)) | set(data.customers["customer_id"].astype(str))
        with_event = set(out["customer_id"].astype(str))
        if not with_event <= population:
            raise DataError(f"{where}: customer {sorted(with_event - population)[0]!r} has an event but is neither "
                            "in the profile nor in the transactions")
        n_customers = len(population)
        counts = {"with an event in the window (listed)": len(with_event),
                  f"with an event, left out without {channel} permission": left_out,
                  "without an event in the window": len(population) - len(with_event) - left_out}
        extra = {"n_events": len(out)}
    cols = list(EXPORT_SCHEMAS[kind])
    out = out[cols].reset_index(drop=True)
    # one assignment with every count (an earlier `out.attrs = {...}` here dropped n_unprofitable, so a third of
    # the customers of `export targets` went unmentioned): the counts add up to n_customers, a test holds that
    out.attrs = {"left_out_no_permission": int(left_out), "n_customers": int(n_customers),
                 "counts": {k: int(v) for k, v in counts.items()}, **extra}
    if sum(out.attrs["counts"].values()) != n_customers:  # a bug, not the user's: say it rather than print it
        raise AssertionError(f"{where}: the counts {out.attrs['counts']} do not add up to {n_customers} customers")
    return out


def write_export(frame: pd.DataFrame, path) -> Path:
    """Write an export table to ``path``: ``.csv`` (UTF-8, comma, no index) or ``.parquet``, atomically (a
    temporary file beside it, renamed into place: a reader sees the old file or the whole new one).

    Returns the path. Raises DataError for another suffix.
    """
    import io

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = frame.to_csv(index=False).encode("utf-8")
    elif suffix == ".parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:
        raise DataError(f"export: {path.name!r} must end in .csv or .parquet")
    return atomic_write_bytes(path, data)


#: Decimals an exported transaction log keeps: far below any currency's minor unit (cents, the 1/1000 of a
#: dinar), far above binary float noise (29.7 computed as 9 x 3.3 is 29.700000000000003, an error of 4e-15).
LOG_DECIMALS = 10


def transaction_log(transactions: pd.DataFrame) -> pd.DataFrame:
    """The cleaned transactions as ``segwork export transactions`` writes them: one row each, index dropped,
    float columns rounded to :data:`LOG_DECIMALS` decimals (so a CSV says ``29.7``, not the
    ``29.700000000000003`` that ``quantity x price`` leaves), float columns holding only whole numbers
    (``quantity`` 6.0) as integers (nullable ``Int64`` when values are missing).

    Every value read back (:func:`segwork.io.read_transactions`) is the original within ``0.5e-10`` of its
    unit; nothing is rounded to cents (a price may have more decimals than the currency's minor unit).
    """
    out = transactions.reset_index(drop=True).copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        values = out[col].round(LOG_DECIMALS)
        finite = values.dropna()
        if len(finite) and np.isfinite(finite).all() and (finite == np.floor(finite)).all() \
                and finite.abs().max() < 2 ** 53:
            values = values.astype("Int64")
        out[col] = values
    return out
