"""The customer table: one row per customer, ready to segment.

It joins what segwork knows about each customer:

* behaviour from transactions: RFM (in days), tenure, spend statistics, the
  category mix and the channel mix (shares of the customer's transactions);
* the profile (``customers``: customer type, age band, region, ...);
* survey answers (``survey``: needs items, satisfaction, likelihood to recommend),
  missing for customers who did not answer.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .rfm import aggregate_source, clean_frame, rfm_from_aggregate, rfm_summary

__all__ = ["customer_table", "BEHAVIOUR_COLUMNS"]

#: Behaviour columns every customer table has (money in the data's currency, time in days).
BEHAVIOUR_COLUMNS = (
    "frequency",            # repeat purchase days
    "recency",              # days from first to last purchase
    "T",                    # days from first purchase to the observation end (tenure)
    "monetary_value",       # mean value of repeat purchase days (0 without repeats)
    "days_since_last",      # days from the last purchase to the observation end
    "n_transactions",       # transaction lines
    "revenue",              # total amount
    "mean_amount",          # mean amount per transaction line
    "purchase_rate",        # purchase days per 30 days of tenure
)


def _mix(transactions: pd.DataFrame, column: str, prefix: str) -> pd.DataFrame:
    """Share of each customer's transactions per value of ``column`` (rows sum to 1).

    Rows: the customers, sorted; columns ``<prefix><value>`` for each value
    as text, sorted (rows whose value is missing are left out). The counts of
    ``pd.crosstab(customer_id, column.astype(str))`` from
    ``np.bincount`` on factorized codes: the same frame, without crosstab's
    pivot (about 15 s per million rows and column in pandas 3).
    """
    raw, values = pd.factorize(transactions[column], use_na_sentinel=False)
    # the values as text (what crosstab groups on), then sorted: distinct raw values may share one text
    text_codes, names = pd.factorize(pd.Series(values).astype(str), sort=True)
    codes = text_codes[raw]
    ids = transactions["customer_id"]
    if (codes < 0).any():  # a value missing as text too: crosstab leaves the row out
        keep = codes >= 0
        codes, ids = codes[keep], ids[keep]
    customers, ids = pd.factorize(ids, sort=True)
    n_values = len(names)
    counts = np.bincount(customers * n_values + codes, minlength=len(ids) * n_values).reshape(len(ids), n_values)
    shares = counts / counts.sum(axis=1, keepdims=True)
    # the index as crosstab builds it (its dtype inferred from the ids: text ids give the str dtype)
    return pd.DataFrame(shares, index=pd.Index(np.asarray(ids, dtype=object), name="customer_id"),
                        columns=[f"{prefix}{c}" for c in names])


def _mix_from_counts(counts: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """:func:`_mix` from per (customer, value) counts (columns customer_id, value, n) of an engine."""
    counts = counts[counts["value"].notna()]
    table = counts.pivot_table(index="customer_id", columns="value", values="n", aggfunc="sum", fill_value=0)
    table = table.sort_index(axis=1)
    shares = table.div(table.sum(axis=1), axis=0).astype(np.float64)
    shares.columns = [f"{prefix}{c}" for c in shares.columns]
    shares.index = pd.Index(shares.index.astype(str), name="customer_id")
    return shares


def customer_table(
    transactions,
    customers: pd.DataFrame | None = None,
    survey: pd.DataFrame | None = None,
    *,
    observation_end=None,
    engine: str | None = None,
    rules=None,
    cleaned=None,
    scheduler=None,
) -> pd.DataFrame:
    """One row per customer with behaviour, profile and survey columns.

    Parameters
    ----------
    transactions: canonical transactions (``customer_id``, ``date``, ``amount``;
        optional ``category`` and ``channel`` give the mix columns), or a
        path, folder or glob of Parquet / CSV files. Either passes the one
        gate, :func:`segwork.io.clean_transactions` under ``rules`` (a
        DataFrame as a file: :func:`segwork.features.rfm.clean_frame`); the
        report is in ``result.attrs["cleaning_report"]``.
    customers: optional profile table with a ``customer_id`` column.
    survey: optional survey answers with a ``customer_id`` column.
    observation_end: last observed day (default: the last transaction date).
    engine, rules, scheduler: as in :func:`segwork.features.rfm_summary`
        (``"duckdb"`` is the default for a path; all engines give the same table).
    cleaned: for a DataFrame that passed the gate already, its
        :class:`~segwork.io.CleaningReport` or ``True``: not cleaned again;
        ``False``: cleaned here; ``None`` (default): decided by the gate's
        mark on the frame (as in :func:`segwork.features.rfm_summary`).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (customers with at least one
    transaction up to ``observation_end``). Columns: :data:`BEHAVIOUR_COLUMNS`;
    ``cat_<category>`` and ``ch_<channel>`` shares when those columns exist;
    the profile columns; the survey columns and ``has_survey`` when a survey
    is given.
    """
    for name, frame in (("customers", customers), ("survey", survey)):
        if frame is not None and "customer_id" not in frame.columns:
            raise DataError(f"customer_table: the {name} table has no 'customer_id' column "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    if not isinstance(transactions, pd.DataFrame):
        from .engines import choose_engine, read_source_pandas

        if choose_engine(transactions, engine) == "pandas":
            tx, report = read_source_pandas(transactions, rules=rules)
            return customer_table(tx, customers, survey, observation_end=observation_end, cleaned=report)
        else:
            agg = aggregate_source(transactions, engine=engine, rules=rules, scheduler=scheduler,
                                   observation_end=observation_end, mix=("category", "channel"))
            table = rfm_from_aggregate(agg, observation_end=observation_end, time_unit="days")
            report = table.attrs.pop("cleaning_report", None)
            table["days_since_last"] = table["T"] - table["recency"]
            table["n_transactions"] = agg.customers["n_rows"].to_numpy()
            table["revenue"] = agg.customers["revenue"].to_numpy()
            table["mean_amount"] = table["revenue"] / table["n_transactions"]
            table["purchase_rate"] = (table["frequency"] + 1) / np.maximum(table["T"], 1.0) * 30.0
            for column, prefix in (("category", "cat_"), ("channel", "ch_")):
                if column in agg.mix:
                    table = table.join(_mix_from_counts(agg.mix[column], prefix), how="left")
            table = _join_profile_and_survey(table, customers, survey)
        table.attrs["cleaning_report"] = report
        return table
    tx, report = clean_frame(transactions, rules=rules, cleaned=cleaned, where="customer_table")
    rfm = rfm_summary(tx, observation_end=observation_end, time_unit="days", cleaned=True)
    if observation_end is not None:
        # whole days, as rfm_summary counts them: a purchase at 15:00 on the last day is in
        tx = tx[tx["date"].dt.normalize() <= pd.Timestamp(observation_end).normalize()]
    # rfm_summary's index is the id as text; group on the same text so integer ids line up
    tx = tx.assign(customer_id=tx["customer_id"].astype(str))
    by_customer = tx.groupby("customer_id", sort=True, observed=True)["amount"]
    table = rfm.copy()
    table["days_since_last"] = table["T"] - table["recency"]
    table["n_transactions"] = by_customer.size().reindex(table.index).to_numpy()
    table["revenue"] = by_customer.sum().reindex(table.index).to_numpy()
    table["mean_amount"] = table["revenue"] / table["n_transactions"]
    table["purchase_rate"] = (table["frequency"] + 1) / np.maximum(table["T"], 1.0) * 30.0
    for column, prefix in (("category", "cat_"), ("channel", "ch_")):
        if column in tx.columns:
            table = table.join(_mix(tx, column, prefix), how="left")
    table = _join_profile_and_survey(table, customers, survey)
    if report is not None:
        table.attrs["cleaning_report"] = report
    return table


def _join_profile_and_survey(table: pd.DataFrame, customers, survey) -> pd.DataFrame:
    if customers is not None:
        profile = customers.drop_duplicates("customer_id").set_index("customer_id")
        profile.index = profile.index.astype(str)
        clash = [c for c in profile.columns if c in table.columns]
        if clash:
            raise DataError(f"customer_table: customers column {clash[0]!r} clashes with a behaviour column; rename it")
        table = table.join(profile, how="left")
    if survey is not None:
        answers = survey.drop_duplicates("customer_id").set_index("customer_id")
        answers.index = answers.index.astype(str)
        table = table.join(answers, how="left")
        table["has_survey"] = table.index.isin(answers.index)
    table.index.name = "customer_id"
    return table
