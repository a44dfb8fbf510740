"""Human-readable segment names from segment centres.

A cluster is named by the few features on which its centre stands out most
from the whole customer base, measured in standard deviations (z-scores) of
the feature over all customers. Words depend on what the feature means:

============================================  =====================================
feature (column name)                         words (z >= +0.5 / z <= -0.5)
============================================  =====================================
``mean_amount``, ``monetary_value``, ...      "high spend" / "low spend"
``revenue``, ``clv``                          "high value" / "low value"
``frequency``, ``purchase_rate``, ...         "frequent" / "infrequent"
``days_since_last``                           "lapsed" / "recent"
``T`` (tenure)                                "long-standing" / "new"
``recency`` (first to last purchase)          "long active" / "short active"
``cat_<category>``, ``ch_<channel>``          "<category>", "<channel>" (only high)
a categorical indicator ``<column>=<value>``  "<value>" (only over-represented)
any other numeric column                      "high <column>" / "low <column>"
============================================  =====================================

``|z| >= 1.5`` adds "very" ("very high spend", "very frequent"). Within one
group (e.g. spend) only the strongest feature speaks. Names list at most
``max_terms`` groups, chosen by ``|z|`` and written in a fixed reading order
(value, spend, frequency, recency, tenure, category, channel, others). Names
are deterministic (ties broken by column name) and unique: clusters that
would share a name get more terms, then a number.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["name_segments", "describe_terms", "AVERAGE_NAME"]

#: Name of a cluster that does not stand out on any feature.
AVERAGE_NAME = "average"

_SPEND = {"mean_amount", "monetary_value", "avg_spend", "mean_spend", "spend", "aov", "basket_value"}
_VALUE = {"revenue", "clv", "total_spend", "value", "margin", "predicted_clv"}
_FREQUENCY = {"frequency", "n_transactions", "purchase_rate", "n_orders", "orders", "transactions"}

# group -> (reading order, (high word, low word)); words None = only the high side speaks
_GROUPS = {
    "value": (0, ("high value", "low value")),
    "spend": (1, ("high spend", "low spend")),
    "frequency": (2, ("frequent", "infrequent")),
    "days_since_last": (3, ("lapsed", "recent")),
    "T": (4, ("long-standing", "new")),
    "recency": (5, ("long active", "short active")),
    "category": (6, None),
    "channel": (7, None),
}
_OTHER_ORDER = 8


def _group_of(column: str) -> tuple[str, int]:
    """(group key, reading order) of a feature column."""
    if column in _SPEND:
        return "spend", _GROUPS["spend"][0]
    if column in _VALUE:
        return "value", _GROUPS["value"][0]
    if column in _FREQUENCY:
        return "frequency", _GROUPS["frequency"][0]
    if column in ("days_since_last", "T", "recency"):
        return column, _GROUPS[column][0]
    if column.startswith("cat_"):
        return "category", _GROUPS["category"][0]
    if column.startswith("ch_"):
        return "channel", _GROUPS["channel"][0]
    if "=" in column:  # categorical indicator "<column>=<value>"
        return "cat:" + column.split("=", 1)[0], _OTHER_ORDER
    return "col:" + column, _OTHER_ORDER


def _readable(text: str) -> str:
    """``"q01_compare_prices"`` -> ``"compare prices"``; underscores become spaces."""
    return re.sub(r"\s+", " ", str(text).replace("_", " ")).strip()


def _word(column: str, z: float, threshold: float, strong: float) -> str | None:
    """The phrase a feature contributes at z-score ``z`` (None when it does not stand out)."""
    if not np.isfinite(z) or abs(z) < threshold:
        return None
    very = "very " if abs(z) >= strong else ""
    group, _ = _group_of(column)
    if group in ("category", "channel"):
        return _readable(column.split("_", 1)[1]) if z > 0 else None
    if group.startswith("cat:"):
        return _readable(column.split("=", 1)[1]) if z > 0 else None
    if group in _GROUPS:
        high, low = _GROUPS[group][1]
        return very + (high if z > 0 else low)
    return f"{very}{'high' if z > 0 else 'low'} {_readable(column)}"


def describe_terms(z: pd.Series, *, threshold: float = 0.5, strong: float = 1.5) -> list[tuple[float, int, str, str]]:
    """Candidate terms for one cluster: ``(|z|, reading order, column, phrase)``, strongest first.

    ``z`` holds the cluster centre's z-score per feature column. One term per
    group (the strongest feature of the group speaks for it).
    """
    best: dict[str, tuple[float, int, str, str]] = {}
    for column in sorted(map(str, z.index)):
        value = float(z[column])
        phrase = _word(column, value, threshold, strong)
        if phrase is None:
            continue
        group, order = _group_of(column)
        term = (abs(value), order, column, phrase)
        current = best.get(group)
        # columns come in sorted order, so at equal |z| the alphabetically first one stays
        if current is None or term[0] > current[0]:
            best[group] = term
    return sorted(best.values(), key=lambda t: (-t[0], t[1], t[2]))


def _compose(terms: list[tuple[float, int, str, str]], n: int) -> str:
    chosen = sorted(terms[:n], key=lambda t: (t[1], -t[0], t[2]))
    return ", ".join(t[3] for t in chosen) if chosen else AVERAGE_NAME


def name_segments(
    centroids_z: pd.DataFrame,
    *,
    max_terms: int = 4,
    threshold: float = 0.5,
    strong: float = 1.5,
    reserved: tuple[str, ...] = (),
) -> pd.Series:
    """A unique, readable name per cluster from its centre's z-scores.

    Parameters
    ----------
    centroids_z: one row per cluster (index: cluster id), one column per
        feature; values are the z-score of the cluster centre on that feature
        (cluster mean minus overall mean, over the overall standard
        deviation). Categorical indicators are columns named
        ``"<column>=<value>"``.
    max_terms: the most descriptive words per name (more are added only to
        tell clusters apart).
    threshold: smallest ``|z|`` that earns a word; ``strong``: ``|z|`` that
        earns "very".
    reserved: names the clusters must not take (e.g. ``"unclustered"``).

    Returns
    -------
    Series indexed like ``centroids_z`` with one distinct name per cluster.
    """
    terms = {c: describe_terms(centroids_z.loc[c], threshold=threshold, strong=strong)
             for c in centroids_z.index}
    n_terms = {c: max_terms for c in centroids_z.index}
    names = {c: _compose(terms[c], n_terms[c]) for c in centroids_z.index}
    # Add terms to clusters that share a name, as long as that helps.
    for _ in range(64):
        counts = pd.Series(list(names.values())).value_counts()
        clashing = [c for c in centroids_z.index if counts[names[c]] > 1 or names[c] in reserved]
        grew = False
        for c in clashing:
            if n_terms[c] < len(terms[c]):
                n_terms[c] += 1
                names[c] = _compose(terms[c], n_terms[c])
                grew = True
        if not grew:
            break
    # Still equal: number them in cluster order.
    seen: dict[str, int] = {}
    taken = set(reserved)
    out = {}
    for c in centroids_z.index:
        base = names[c]
        if base in taken or list(names.values()).count(base) > 1:
            seen[base] = seen.get(base, 1)
            candidate = f"{base} ({seen[base]})"
            while candidate in taken:
                seen[base] += 1
                candidate = f"{base} ({seen[base]})"
            seen[base] += 1
            out[c] = candidate
        else:
            out[c] = base
        taken.add(out[c])
    return pd.Series(out, name="segment")
