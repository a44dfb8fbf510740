"""RFM segmentation: quintile scores for recency, frequency and money, and a named segment map.

RFM groups customers by *how* they buy: how recently (R), how often (F) and
how much (M). Each customer gets a score from 1 to 5 on each, by quintiles of
the customer base: 5 is the best fifth (the most recent, the most frequent,
the biggest spenders), 1 the worst. Recency is the number of days since the
last purchase, so *fewer* days score higher.

Scores
------
Scores are quintiles of the *rank* of each value, ranks taken in order of
appearance for ties (``rank(method="first")``, the customers in the table's
order; the customer table is sorted by ``customer_id``): every score holds a
fifth of the customers (±1) and the result does not depend on chance. Many
customers share the same frequency (all one-time buyers have frequency 0), so
equal values can fall into neighbouring scores; this is the usual practice
and keeps the fifths equal.

For new customers (:meth:`RFMSegmenter.predict`) the fitted *edges* are used:
``edges_[c][k]`` is the largest value (for recency: the smallest number of
days) that got score ``k + 1`` at fit time, and a new value gets the lowest
score whose edge it does not pass. Customers whose value ties across an edge
at fit time can therefore get the lower of the two scores when re-assigned.

Segment map
-----------
The named segments follow the R x FM grid used in practice (FM = the mean of
the F and M scores, rounded half up), as published by Putler ("RFM Analysis
For Successful Customer Segmentation", https://www.putler.com/rfm-analysis/)
and, with the same names, in the R package ``rfm`` (Hebbali, ``rfm_segment``,
https://CRAN.R-project.org/package=rfm). The published tables overlap (rules
are tried in order); :data:`DEFAULT_SEGMENT_MAP` resolves them into a grid in
which every one of the 25 (R, FM) cells has exactly one name:

::

    R \\ FM  1               2                   3                   4           5
    5        New             Potential loyalist  Potential loyalist  Champions   Champions
    4        Promising       Potential loyalist  Potential loyalist  Loyal       Champions
    3        About to sleep  About to sleep      Need attention      Loyal       Loyal
    2        Hibernating     Hibernating         At risk             At risk     Cannot lose them
    1        Lost            Lost                At risk             At risk     Cannot lose them

The map is configurable: give a
list of ``{"name", "r": (lo, hi), "fm": (lo, hi)}`` rules (tried in order) or
a mapping ``{(r, fm): name}``; every combination must get a name.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import check_fitted
from ..errors import DataError
from .base import Segmentation

__all__ = [
    "RFMSegmenter",
    "rfm_segmentation",
    "rfm_scores",
    "DEFAULT_SEGMENT_MAP",
    "SEGMENT_ORDER",
    "segment_grid",
]

N_SCORES = 5

#: The default R x FM segment map: rules tried in order; every (R, FM) cell is covered.
DEFAULT_SEGMENT_MAP: tuple[dict, ...] = (
    {"name": "Champions", "r": (5, 5), "fm": (4, 5)},
    {"name": "Champions", "r": (4, 4), "fm": (5, 5)},
    {"name": "Loyal", "r": (3, 4), "fm": (4, 5)},
    {"name": "Need attention", "r": (3, 3), "fm": (3, 3)},
    {"name": "Potential loyalist", "r": (4, 5), "fm": (2, 3)},
    {"name": "New", "r": (5, 5), "fm": (1, 1)},
    {"name": "Promising", "r": (4, 4), "fm": (1, 1)},
    {"name": "About to sleep", "r": (3, 3), "fm": (1, 2)},
    {"name": "Cannot lose them", "r": (1, 2), "fm": (5, 5)},
    {"name": "At risk", "r": (1, 2), "fm": (3, 4)},
    {"name": "Hibernating", "r": (2, 2), "fm": (1, 2)},
    {"name": "Lost", "r": (1, 1), "fm": (1, 2)},
)

#: Segment order for tables and figures: from the best to the lost.
SEGMENT_ORDER = ("Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
                 "About to sleep", "At risk", "Cannot lose them", "Hibernating", "Lost")

#: Default columns of the customer table: recency (days since last purchase), frequency, money.
DEFAULT_COLUMNS = {"recency": "days_since_last", "frequency": "frequency", "monetary": "revenue"}


def _grid_from_map(segment_map) -> dict[tuple[int, int], str]:
    """The (R, FM) -> name grid of a map given as rules or as a mapping; every cell must be named."""
    grid: dict[tuple[int, int], str] = {}
    if isinstance(segment_map, Mapping):
        for key, name in segment_map.items():
            try:
                r, fm = (int(k) for k in key)
            except (TypeError, ValueError):
                raise DataError(f"RFM segment map: key {key!r} must be an (R, FM) pair of scores 1-{N_SCORES}") from None
            grid[(r, fm)] = str(name)
    elif isinstance(segment_map, Sequence) and not isinstance(segment_map, str):
        for rule in segment_map:
            try:
                name, (r_lo, r_hi), (f_lo, f_hi) = rule["name"], rule["r"], rule["fm"]
            except (KeyError, TypeError, ValueError):
                raise DataError(f"RFM segment map: rule {rule!r} must look like "
                                "{'name': 'Champions', 'r': (4, 5), 'fm': (4, 5)}") from None
            for r in range(int(r_lo), int(r_hi) + 1):
                for fm in range(int(f_lo), int(f_hi) + 1):
                    grid.setdefault((r, fm), str(name))
    else:
        raise DataError("RFM segment map: give a list of {'name', 'r', 'fm'} rules or a mapping {(r, fm): name}")
    missing = [(r, fm) for r in range(1, N_SCORES + 1) for fm in range(1, N_SCORES + 1) if (r, fm) not in grid]
    if missing:
        raise DataError(f"RFM segment map: {len(missing)} (R, FM) score combination(s) have no segment, e.g. "
                        f"R={missing[0][0]}, FM={missing[0][1]}; every combination of scores 1-{N_SCORES} needs a name")
    return grid


def segment_grid(segment_map=DEFAULT_SEGMENT_MAP) -> pd.DataFrame:
    """The segment map as a 5 x 5 table: rows R = 5..1, columns FM = 1..5, cells the segment names."""
    grid = _grid_from_map(segment_map)
    frame = pd.DataFrame([[grid[(r, fm)] for fm in range(1, N_SCORES + 1)] for r in range(N_SCORES, 0, -1)],
                         index=pd.Index(range(N_SCORES, 0, -1), name="R"),
                         columns=pd.Index(range(1, N_SCORES + 1), name="FM"))
    return frame


def _values(table: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in table.columns:
        raise DataError(f"RFM: the {what} column {column!r} is not in the customer table "
                        f"(available: {', '.join(map(str, table.columns))})")
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values


def rfm_scores(values: pd.Series | np.ndarray, *, higher_is_better: bool = True, n_scores: int = N_SCORES) -> np.ndarray:
    """Quantile scores 1..n_scores of ``values`` by rank (ties in order of appearance).

    The best ``1/n_scores`` of the values (the highest, or the lowest when
    ``higher_is_better`` is false) score ``n_scores``. Returns an int array.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    key = x if higher_is_better else -x
    # rank "first": position (0..n-1) in a stable sort of the key
    order = np.argsort(key, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # score k holds the ranks in [(k-1) n / n_scores, k n / n_scores): equal fifths (+-1)
    return (np.floor(rank * n_scores / n) + 1).astype(int)


class RFMSegmenter(BaseEstimator):
    """RFM quintile scores and a named R x FM segment map.

    Parameters
    ----------
    segment_map: rules or mapping (see the module docs); default :data:`DEFAULT_SEGMENT_MAP`.
    columns: the customer-table columns for ``recency`` (days since the last
        purchase: fewer is better), ``frequency`` and ``monetary``
        (default :data:`DEFAULT_COLUMNS`: total revenue).

    Attributes (after ``fit``)
    --------------------------
    scores_: DataFrame indexed by customer with ``R``, ``F``, ``M``, ``FM`` and
    ``RFM`` (e.g. ``"545"``); ``edges_``: per score letter the 4 edges in
    original units (F, M: the largest value of scores 1..4; R: the smallest
    number of days of scores 1..4); ``ranges_``: the (min, max) per score;
    ``grid_``: (R, FM) -> name; ``labels_``.
    """

    def __init__(self, segment_map=DEFAULT_SEGMENT_MAP, columns: Mapping[str, str] | None = None):
        self.segment_map = segment_map
        self.columns = columns

    def _columns(self) -> dict[str, str]:
        cols = dict(DEFAULT_COLUMNS)
        if self.columns:
            unknown = set(self.columns) - set(DEFAULT_COLUMNS)
            if unknown:
                raise DataError(f"RFM columns: unknown key {sorted(unknown)[0]!r}; use recency, frequency, monetary")
            cols.update(self.columns)
        return cols

    def fit(self, table: pd.DataFrame) -> "RFMSegmenter":
        """Score the customers of ``table`` (a customer table) and name their segments."""
        self.grid_ = _grid_from_map(self.segment_map)
        cols = self._columns()
        n = len(table)
        if n < N_SCORES:
            raise DataError(f"RFM: {n} customer(s) is fewer than the {N_SCORES} scores; RFM quintiles need at least "
                            f"{N_SCORES} customers (and many more to mean anything)")
        scores, edges, ranges = {}, {}, {}
        for key, letter in (("recency", "R"), ("frequency", "F"), ("monetary", "M")):
            x = _values(table, cols[key], key)
            if np.isnan(x).all():
                raise DataError(f"RFM: the {key} column {cols[key]!r} is all missing")
            if np.isnan(x).any():
                bad = table.index[np.isnan(x)][0]
                raise DataError(f"RFM: the {key} column {cols[key]!r} is missing for customer {bad!r} "
                                f"({int(np.isnan(x).sum())} customers); fill or drop them first")
            if np.nanmin(x) == np.nanmax(x):
                raise DataError(f"RFM: the {key} column {cols[key]!r} is constant ({x[0]:g} for every customer); "
                                "it cannot rank customers. Use another column or another approach")
            higher = key != "recency"
            s = rfm_scores(x, higher_is_better=higher)
            scores[letter] = s
            ranges[letter] = [(float(x[s == k].min()), float(x[s == k].max())) for k in range(1, N_SCORES + 1)]
            if higher:  # upper edge of scores 1..4: the largest value that scored k
                edges[letter] = np.array([x[s == k].max() for k in range(1, N_SCORES)])
            else:       # recency: score k holds the values >= its edge (more days = worse)
                edges[letter] = np.array([x[s == k].min() for k in range(1, N_SCORES)])
        self.edges_ = edges
        self.ranges_ = ranges
        self.columns_ = cols
        self.scores_ = self._frame(table.index, scores)
        self.labels_ = self._names(self.scores_)
        return self

    @staticmethod
    def _frame(index, scores) -> pd.DataFrame:
        frame = pd.DataFrame(scores, index=index)
        frame["FM"] = (frame["F"] + frame["M"] + 1) // 2
        frame["RFM"] = frame["R"].astype(str) + frame["F"].astype(str) + frame["M"].astype(str)
        return frame

    def _names(self, scores: pd.DataFrame) -> pd.Series:
        lookup = np.empty((N_SCORES + 1, N_SCORES + 1), dtype=object)
        for (r, fm), name in self.grid_.items():
            lookup[r, fm] = name
        return pd.Series(lookup[scores["R"].to_numpy(), scores["FM"].to_numpy()], index=scores.index, name="segment")

    def score(self, table: pd.DataFrame) -> pd.DataFrame:
        """R, F, M, FM and RFM scores of (new) customers from the fitted edges."""
        check_fitted(self, "edges_", "fit(table)")
        scores = {}
        for key, letter in (("recency", "R"), ("frequency", "F"), ("monetary", "M")):
            x = _values(table, self.columns_[key], key)
            if np.isnan(x).any():
                bad = table.index[np.isnan(x)][0]
                raise DataError(f"RFM predict: the {key} column {self.columns_[key]!r} is missing for customer {bad!r}")
            e = self.edges_[letter]
            if letter == "R":   # fewer days is better: score k while days >= edge k
                s = 1 + np.searchsorted(-e, -x, side="left")
            else:
                s = 1 + np.searchsorted(e, x, side="left")
            scores[letter] = s.astype(int)
        return self._frame(table.index, scores)

    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Segment names of (new) customers, scored with the fitted edges."""
        return self._names(self.score(table))

    def describe(self) -> pd.DataFrame:
        """What each score means in original units: the range of values it held at fit time.

        One row per score (5 first); columns ``recency``, ``frequency``,
        ``monetary`` as ``"min - max"`` strings in the columns' units.
        """
        check_fitted(self, "ranges_", "fit(table)")
        rows = []
        for k in range(N_SCORES, 0, -1):
            row = {"score": k}
            for key, letter in (("recency", "R"), ("frequency", "F"), ("monetary", "M")):
                lo, hi = self.ranges_[letter][k - 1]
                row[f"{key} ({self.columns_[key]})"] = f"{lo:,.6g} - {hi:,.6g}"
            rows.append(row)
        return pd.DataFrame(rows).set_index("score")


def rfm_segmentation(
    table: pd.DataFrame,
    segment_map=DEFAULT_SEGMENT_MAP,
    *,
    columns: Mapping[str, str] | None = None,
    name: str = "rfm",
) -> Segmentation:
    """RFM segmentation of a customer table.

    Parameters
    ----------
    table: customer table (see :func:`segwork.features.customer_table`);
        needs ``days_since_last`` (days), ``frequency`` (repeat purchase days)
        and ``revenue`` (total spend, the data's currency) unless ``columns``
        names others.
    segment_map: the R x FM map (see the module docs).
    columns: ``{"recency": ..., "frequency": ..., "monetary": ...}`` overrides.

    Returns
    -------
    :class:`Segmentation` named ``name``: labels are segment names; its
    ``description`` holds ``{"edges": score-range table, "map": 5 x 5 grid}``
    and ``params["scores"]`` the R, F, M, FM, RFM scores of each customer.
    """
    seg = RFMSegmenter(segment_map, columns).fit(table)
    names = list(dict.fromkeys(seg.grid_.values()))
    order = [s for s in SEGMENT_ORDER if s in names] + [s for s in names if s not in SEGMENT_ORDER]
    grid = segment_grid(segment_map)
    return Segmentation(
        seg.labels_, name=name, method="RFM quintile scores + R x FM segment map",
        description={"edges": seg.describe(), "map": grid}, segmenter=seg, table=table, order=order,
        params={"columns": seg.columns_, "scores": seg.scores_},
    )
