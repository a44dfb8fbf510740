"""The scores of one chunk of customers from their customer table, with a saved model folder.

:func:`score_table` is what every bulk-scoring engine (:mod:`segwork.models.bulk`) calls on each chunk of
customers, so every engine gives the same scores for the same customer: the stored transaction and spend
models (:func:`segwork.models.value.value_columns`, the formulas the SOAP service uses) and the stored
segmentations' ``predict``. Nothing is refitted.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..features import customer_table
from ..segment.apriori import AprioriSegmenter
from .store import ModelStore
from .value import value_columns

__all__ = ["score_table", "score_chunk", "scorable", "score_columns", "empty_scores", "PROPENSITY_DAYS"]

#: The purchase-propensity window of the ``p_buy_30d`` column, in days.
PROPENSITY_DAYS = 30


def scorable(store: ModelStore) -> tuple[dict, dict[str, str]]:
    """The segmentations a transaction log can place, and why the others are left out."""
    use, skipped = {}, {}
    for name, seg in store.segmentations.items():
        if isinstance(seg.segmenter, AprioriSegmenter):
            skipped[name] = ("its rules read the customer profile (customer type, age band, region ...), "
                             "which a transaction log does not carry")
        else:
            use[name] = seg
    return use, skipped


def score_columns(store: ModelStore) -> list[str]:
    use, _ = scorable(store)
    return (["frequency", "recency", "T", "monetary_value", "expected_purchases", "p_alive", "expected_spend",
             "clv", f"p_buy_{PROPENSITY_DAYS}d"]
            + [("relationship_type" if n == "relationship" else f"segment_{n}") for n in use])


def score_table(store: ModelStore, table: pd.DataFrame) -> pd.DataFrame:
    """Scores of customers from their customer table, with the stored models (nothing is refitted).

    Parameters
    ----------
    store: a loaded model folder (:func:`segwork.models.store.load_models`).
    table: customer table of :func:`segwork.features.customer_table` (days;
        ``cat_*`` / ``ch_*`` mix columns when the transactions have category /
        channel), indexed by ``customer_id``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (the table's order):

    * ``frequency`` (repeat purchase days), ``recency``, ``T`` (days),
      ``monetary_value`` (mean repeat-purchase-day value, data's currency):
      the history scored;
    * ``expected_purchases``: purchase days expected in the store's CLV
      horizon (``clv_settings["horizon"]`` months), from the stored
      transaction model;
    * ``p_alive`` (0..1); ``expected_spend`` per purchase (Gamma-Gamma, or the
      stored constant); ``clv``: discounted margin over the horizon, as
      :func:`segwork.clv.value.customer_lifetime_value` computes it;
    * ``p_buy_30d``: purchase propensity, P(at least one purchase in the next
      30 days) = 1 - exp(-E[purchases in 30 days]), the formula of
      :func:`segwork.act.propensity.clv_propensity` on the stored model (the
      trained :class:`~segwork.act.PropensityClassifier` is not part of a
      model folder, so it is not offered);
    * ``relationship_type`` (the ``relationship`` segmentation) and
      ``segment_<name>`` for every other stored segmentation a transaction
      log can place (``apriori`` is left out: it needs the profile). Profile
      and survey columns are unknown (NaN), as the service treats them: the
      needs segmentation then places customers from behaviour, as it does
      for customers who did not answer the survey.

    Raises DataError when the table lacks a column a segmentation uses.
    """
    use, _ = scorable(store)
    known = store.table
    table = table.copy(deep=False)  # the new columns go on a shallow copy; the caller's frame is left as it is
    for col in known.columns:
        if col in table.columns:
            continue
        if col.startswith(("cat_", "ch_")):
            table[col] = 0.0  # a category / channel the chunk's customers never bought in
        elif col not in ("p_alive", "clv"):
            numeric = pd.api.types.is_numeric_dtype(known[col]) and not pd.api.types.is_bool_dtype(known[col])
            table[col] = pd.Series(np.nan if numeric else None, index=table.index,
                                   dtype=float if numeric else object)
    values = value_columns(store, table, propensity_days=PROPENSITY_DAYS)
    table["p_alive"], table["clv"] = values["p_alive"], values["clv"]
    table.attrs.update(known.attrs)
    out = table[["frequency", "recency", "T", "monetary_value"]].astype(float)
    for col in ("expected_purchases", "p_alive", "expected_spend", "clv", f"p_buy_{PROPENSITY_DAYS}d"):
        out[col] = values[col]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*categories not seen.*", category=UserWarning)
        for name, seg in use.items():
            col = "relationship_type" if name == "relationship" else f"segment_{name}"
            out[col] = seg.predict(table).astype(str).array  # str labels as they are (no round trip via object)
    out.index.name = "customer_id"
    return out


def score_chunk(tx: pd.DataFrame, store: ModelStore, observation_end) -> pd.DataFrame:
    """Scores of the customers of one chunk of cleaned canonical transactions (all rows of each customer):
    their customer table (days, to ``observation_end``) scored with :func:`score_table`; no customers, no rows.
    The chunk passed the gate on its engine (:func:`segwork.features.engines.clean_chunk`), so it is not cleaned
    again here."""
    if tx.empty:
        return empty_scores(store)
    table = customer_table(tx, observation_end=observation_end, cleaned=True)
    return score_table(store, table)


def empty_scores(store: ModelStore) -> pd.DataFrame:
    """No customers, the columns and dtypes of :func:`score_table` (numbers float, segment names text)."""
    cols = score_columns(store)
    return pd.DataFrame({c: pd.Series(dtype=object if c.startswith(("segment_", "relationship")) else float)
                         for c in cols}, index=pd.Index([], dtype=object, name="customer_id"))
