"""Cross-sell: association rules between categories and next-category recommendations, evaluated on a holdout.

A **basket** is the set of categories (or products) a customer bought up to
``observation_end``, the day the histories end (``basket="customer_id"``, the default: make_crm's invoices
hold one category each, so invoice baskets carry no co-purchases), or one
invoice (``basket="invoice_id"``). Rules ``A -> B`` are mined with
``mlxtend``'s FP-growth and ``association_rules`` (a maintained library, not
our own miner):

* support(A -> B) = share of baskets holding A and B;
* confidence = support(A and B) / support(A) = P(B | A);
* lift = confidence / support(B) (1 = independent).

:func:`recommend` scores, per customer, the categories they have not bought
yet, by one of three methods:

* ``"rules"``: the highest confidence of a mined rule whose antecedent the
  customer holds;
* ``"cooccurrence"`` (personal baseline): sum over the customer's categories
  i of P(j | i) from customer co-occurrence counts (item-to-item
  collaborative filtering, Linden, Smith & York 2003);
* ``"popularity"`` (baseline): the share of customers who bought j.

:func:`hit_rate_at_k` evaluates recommendations made at ``calibration_end``
on the holdout after it. Sources: Agrawal, Imielinski & Swami (1993); Han, Pei & Yin (2000)
FP-growth; Tan, Steinbach & Kumar, *Introduction to Data Mining*, ch. 6.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import renamed_keywords
from ..errors import DataError

__all__ = ["basket_matrix", "association_rules_table", "recommend", "hit_rate_at_k", "HitRate", "upsell", "RECOMMEND_METHODS"]

RECOMMEND_METHODS = ("rules", "cooccurrence", "popularity")


def _history(transactions: pd.DataFrame, item: str, observation_end, where: str) -> pd.DataFrame:
    if not isinstance(transactions, pd.DataFrame):
        raise DataError(f"{where}: transactions must be a DataFrame")
    for col in ("customer_id", "date", item):
        if col not in transactions.columns:
            hint = (" -- the data has no categories, so there is nothing to cross-sell" if col == item else "")
            raise DataError(f"{where}: column {col!r} is missing (columns: "
                            f"{', '.join(map(str, transactions.columns))}){hint}")
    tx = transactions
    if observation_end is not None:
        tx = tx[tx["date"].dt.normalize() <= pd.Timestamp(observation_end).normalize()]
    if len(tx) == 0:
        raise DataError(f"{where}: no transactions up to observation_end {observation_end}")
    return tx


@renamed_keywords(cutoff="observation_end")
def basket_matrix(transactions: pd.DataFrame, *, item: str = "category", basket: str = "customer_id",
                  observation_end=None) -> pd.DataFrame:
    """One-hot baskets: one row per basket, one boolean column per item.

    Parameters
    ----------
    transactions: canonical transactions with ``item`` and ``basket`` columns.
    item: the column of what is bought (``"category"``, a product column).
    basket: ``"customer_id"`` (history up to ``observation_end``) or ``"invoice_id"``.
    observation_end: the day the histories end (inclusive); None = all. Old name
        ``cutoff``, deprecated until segwork 0.3.

    Returns a boolean DataFrame (baskets x items, sorted labels). Raises
    DataError when a column is missing (e.g. no categories) or nothing is
    left up to ``observation_end``.
    """
    tx = _history(transactions, item, observation_end, "basket_matrix")
    if basket not in tx.columns:
        raise DataError(f"basket_matrix: basket column {basket!r} is missing")
    pairs = tx[[basket, item]].astype(str).drop_duplicates()
    m = pd.crosstab(pairs[basket], pairs[item]).astype(bool)
    m.columns.name = None
    return m


@renamed_keywords(cutoff="observation_end")
def association_rules_table(transactions: pd.DataFrame, *, item: str = "category", basket: str = "customer_id",
                            observation_end=None, min_support: float = 0.01, min_confidence: float = 0.1) -> pd.DataFrame:
    """Association rules ``antecedent -> consequent`` with support, confidence and lift (mlxtend FP-growth).

    Parameters as :func:`basket_matrix`; ``min_support`` (share of baskets,
    0..1) and ``min_confidence`` (0..1) prune the rules.

    Returns
    -------
    DataFrame, best lift first, with ``antecedents`` and ``consequents``
    (text, items joined by ", "), ``antecedent_items`` / ``consequent_items``
    (frozensets), ``support``, ``confidence``, ``lift`` (shares and a ratio)
    and ``n_baskets``. Empty (same columns) when no rule passes.

    Raises DataError for thresholds outside (0, 1] or missing columns.
    """
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    for name, v in (("min_support", min_support), ("min_confidence", min_confidence)):
        if not 0 < v <= 1:
            raise DataError(f"association_rules_table: {name}={v!r} must lie in (0, 1]")
    m = basket_matrix(transactions, item=item, basket=basket, observation_end=observation_end)
    cols = ["antecedents", "consequents", "antecedent_items", "consequent_items", "support", "confidence", "lift",
            "n_baskets"]
    frequent = fpgrowth(m, min_support=min_support, use_colnames=True)
    if len(frequent) == 0 or frequent["itemsets"].map(len).max() < 2:
        return pd.DataFrame(columns=cols)
    rules = association_rules(frequent, metric="confidence", min_threshold=min_confidence)
    out = pd.DataFrame({
        "antecedents": rules["antecedents"].map(lambda s: ", ".join(sorted(s))),
        "consequents": rules["consequents"].map(lambda s: ", ".join(sorted(s))),
        "antecedent_items": rules["antecedents"], "consequent_items": rules["consequents"],
        "support": rules["support"], "confidence": rules["confidence"], "lift": rules["lift"],
        "n_baskets": len(m)})
    return out.sort_values(["lift", "confidence"], ascending=False, kind="stable").reset_index(drop=True)[cols]


def _scores(m: pd.DataFrame, method: str, rules: pd.DataFrame | None) -> pd.DataFrame:
    owned = m.to_numpy(dtype=float)
    if method == "popularity":
        pop = owned.mean(axis=0)
        return pd.DataFrame(np.tile(pop, (len(m), 1)), index=m.index, columns=m.columns)
    if method == "cooccurrence":
        co = owned.T @ owned                      # items x items co-purchase counts
        cond = co / np.maximum(np.diag(co)[:, None], 1)   # P(j | i), row i
        np.fill_diagonal(cond, 0.0)
        # tiny popularity tie-breaker so customers with no informative items still get an order
        return pd.DataFrame(owned @ cond + 1e-9 * owned.mean(axis=0), index=m.index, columns=m.columns)
    # rules: max confidence over the rules whose antecedent the customer holds
    score = np.zeros_like(owned)
    col = {c: i for i, c in enumerate(m.columns)}
    for ante, cons, conf in zip(rules["antecedent_items"], rules["consequent_items"], rules["confidence"]):
        if len(cons) != 1:
            continue
        j = col[next(iter(cons))]
        holds = owned[:, [col[a] for a in ante]].all(axis=1)
        score[holds, j] = np.maximum(score[holds, j], conf)
    return pd.DataFrame(score + 1e-9 * owned.mean(axis=0), index=m.index, columns=m.columns)


@renamed_keywords(cutoff="observation_end")
def recommend(transactions: pd.DataFrame, k: int = 3, *, observation_end=None, customers=None, method: str = "rules",
              item: str = "category", min_support: float = 0.01, min_confidence: float = 0.05) -> pd.DataFrame:
    """Per customer, the ``k`` items they are most likely to buy next and have not bought yet.

    Parameters
    ----------
    transactions: canonical transactions with ``item``; history up to ``observation_end``.
    k: recommendations per customer (>= 1).
    observation_end: the day the histories end (inclusive); None = all. Old name
        ``cutoff``, deprecated until segwork 0.3.
    customers: optional ids to recommend for (default: every customer with
        history); an id without history raises.
    method: ``"rules"`` (association rules, confidence), ``"cooccurrence"``
        or ``"popularity"`` (see the module docstring).
    min_support, min_confidence: rule thresholds (``"rules"`` only).

    Returns
    -------
    DataFrame with ``customer_id``, ``rank`` (1..k), ``item`` and ``score``
    (confidence / summed conditional probability / popularity share); fewer
    than k rows for a customer who already bought almost everything.

    Raises
    ------
    DataError: unknown method, k < 1, unknown customer, no ``item`` column
        (no categories in the data).
    """
    if method not in RECOMMEND_METHODS:
        raise DataError(f"recommend: method={method!r} is not one of {', '.join(RECOMMEND_METHODS)}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise DataError(f"recommend: k={k!r} must be a whole number >= 1")
    m = basket_matrix(transactions, item=item, observation_end=observation_end)
    if customers is not None:
        ids = pd.Index([str(c) for c in customers])
        unknown = ids.difference(m.index)
        if len(unknown):
            raise DataError(f"recommend: customer {unknown[0]!r} has no purchase up to observation_end")
        m = m.loc[ids]
    rules = association_rules_table(transactions, item=item, observation_end=observation_end, min_support=min_support,
                                    min_confidence=min_confidence) if method == "rules" else None
    scores = _scores(m, method, rules).where(~m)       # only items not bought yet
    long = scores.stack().rename("score").reset_index()
    long.columns = ["customer_id", "item", "score"]
    long = long.sort_values(["customer_id", "score", "item"], ascending=[True, False, True], kind="stable")
    long["rank"] = long.groupby("customer_id").cumcount() + 1
    return long[long["rank"] <= k][["customer_id", "rank", "item", "score"]].reset_index(drop=True)


@dataclass(frozen=True)
class HitRate:
    """The result of :func:`hit_rate_at_k`.

    ``hit_rate``: share (0..1) of the customers who bought a new item in the
    window that had at least one of them among their recommendations;
    ``n_customers``: those customers; ``coverage``: share (0..1) of all items
    recommended to someone; ``k``: recommendations per customer.
    """

    hit_rate: float
    n_customers: int
    coverage: float
    k: int


@renamed_keywords(cutoff="calibration_end", end="observation_end")
def hit_rate_at_k(recommendations: pd.DataFrame, transactions: pd.DataFrame, *, calibration_end,
                  observation_end=None, item: str = "category") -> HitRate:
    """Hit rate at k and coverage of recommendations on the holdout after ``calibration_end``.

    The recommendations are made from the histories up to ``calibration_end``
    (the calibration/holdout split, as in :func:`segwork.features.rfm_summary`);
    the holdout runs to ``observation_end`` (default: the last transaction
    day). The old names ``cutoff`` and ``end`` still work with a FutureWarning
    until segwork 0.3.

    A customer counts when they bought, in (calibration_end, observation_end], at least one item
    they had not bought up to ``calibration_end`` (only new items can be hit). Hit rate
    = share of those customers with at least one such item among their
    recommendations. Coverage = share of all items recommended to someone.

    Returns a :class:`HitRate` (``hit_rate``, ``n_customers``, ``coverage``, ``k``). Raises DataError
    when nobody bought a new item in the window (an empty window).
    """
    tx = _history(transactions, item, None, "hit_rate_at_k")
    day = tx["date"].dt.normalize()
    ts = pd.Timestamp(calibration_end).normalize()
    end_ts = day.max() if observation_end is None else pd.Timestamp(observation_end).normalize()
    before = set(map(tuple, tx.loc[day <= ts, ["customer_id", item]].astype(str).to_numpy()))
    after = tx.loc[(day > ts) & (day <= end_ts), ["customer_id", item]].astype(str).drop_duplicates()
    new = after[np.array([(c, i) not in before for c, i in after.to_numpy()], dtype=bool)]
    recs = recommendations.astype({"customer_id": str, "item": str})
    new = new[new["customer_id"].isin(set(recs["customer_id"]))]
    if len(new) == 0:
        raise DataError(f"hit_rate_at_k: nobody bought a new {item} between {ts.date()} and {end_ts.date()}; "
                        "nothing to evaluate (empty window)")
    hits = new.merge(recs, left_on=["customer_id", item], right_on=["customer_id", "item"])
    n = new["customer_id"].nunique()
    all_items = tx[item].astype(str).nunique()
    return HitRate(hit_rate=hits["customer_id"].nunique() / n, n_customers=int(n),
                   coverage=recs["item"].nunique() / all_items, k=int(recs["rank"].max()))


@renamed_keywords(cutoff="observation_end")
def upsell(transactions: pd.DataFrame, segments: pd.Series, *, observation_end=None, item: str = "category",
           ratio: float = 0.5, min_purchases: int = 2) -> pd.DataFrame:
    """Up-sell candidates: customers whose spend per purchase in an item is well below their segment's typical spend.

    For each (customer, item) with at least ``min_purchases`` purchase rows up
    to ``observation_end``, the customer's mean amount per purchase is compared with
    the median of those means over the customers of the same segment
    buying that item; a candidate spends less than ``ratio`` x that median.

    Parameters
    ----------
    transactions: canonical transactions with ``amount`` and ``item``.
    segments: segment label per customer_id.
    observation_end: the day the histories end (inclusive); None = all (old name ``cutoff``, deprecated).
    ratio: in (0, 1]; min_purchases: >= 1.

    Returns
    -------
    DataFrame, biggest gap first, with ``customer_id``, ``segment``, ``item``,
    ``n_purchases``, ``mean_spend``, ``segment_median_spend`` and ``gap``
    (= segment median - customer mean, per purchase, the data's currency).

    Raises DataError for no ``item`` / ``amount`` column, bad ratio or
    min_purchases.
    """
    if not 0 < ratio <= 1:
        raise DataError(f"upsell: ratio={ratio!r} must lie in (0, 1]")
    if isinstance(min_purchases, bool) or int(min_purchases) != min_purchases or min_purchases < 1:
        raise DataError(f"upsell: min_purchases={min_purchases!r} must be a whole number >= 1")
    tx = _history(transactions, item, observation_end, "upsell")
    if "amount" not in tx.columns:
        raise DataError("upsell: the transactions have no 'amount' column")
    frame = pd.DataFrame({"customer_id": tx["customer_id"].astype(str), "item": tx[item].astype(str),
                          "amount": tx["amount"].astype(float)})
    per = frame.groupby(["customer_id", "item"]).agg(n_purchases=("amount", "size"), mean_spend=("amount", "mean"))
    per = per[per["n_purchases"] >= min_purchases].reset_index()
    seg = segments.astype(str)
    seg.index = seg.index.astype(str)
    per["segment"] = per["customer_id"].map(seg)
    per = per.dropna(subset=["segment"])
    per["segment_median_spend"] = per.groupby(["segment", "item"])["mean_spend"].transform("median")
    per["gap"] = per["segment_median_spend"] - per["mean_spend"]
    out = per[per["mean_spend"] < ratio * per["segment_median_spend"]]
    cols = ["customer_id", "segment", "item", "n_purchases", "mean_spend", "segment_median_spend", "gap"]
    return out.sort_values("gap", ascending=False, kind="stable")[cols].reset_index(drop=True)
