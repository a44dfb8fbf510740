"""A priori segmentation: readable rules over characteristics known in advance.

An a priori segmentation classifies customers by what is known about them
before looking at how they buy: for business customers (B2B) the industry and
the company size, for consumers (B2C) demographics such as age and region. It
is the simplest approach and the easiest to explain and act on, but it says
little about behaviour (see CRM.md).

Rules
-----
A rule has a segment *name* and a *where* condition. Rules are tried in order
and the first one that matches wins; customers that match no rule go to a
named remainder segment. Conditions are either a mapping, a column to

* a value (``{"customer_type": "B2B"}``: equality),
* a list of values (``{"company_size": ["medium", "large"]}``: membership),
* a mapping of comparison operators to numbers (``{"revenue": {">=": 1000}}``;
  operators ``==, !=, <, <=, >, >=``),

all of which must hold; or the same written as a string, parsed without
``eval``::

    "customer_type = B2B and company_size in (medium, large)"
    "age_band in ('18-24', '25-34') and region != north"
    "revenue >= 1000"

Several rules can be given as a list of ``{"name": ..., "where": ...}`` or as a
mapping ``{name: where}`` (kept in order).

New customers and unseen categories
-----------------------------------
:class:`AprioriSegmenter` remembers, for each column a rule compares with
categories, the values seen at fit time. When :meth:`AprioriSegmenter.predict`
meets a value it has not seen (a new region, say), the customer goes to the
named ``fallback`` segment (by default the remainder) and a warning says how
many; :meth:`AprioriSegmenter.unseen_categories` lists them.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._checks import check_fitted
from ..errors import DataError
from .base import Segmentation

__all__ = [
    "AprioriSegmenter",
    "apriori_segmentation",
    "default_rules",
    "grid_rules",
    "parse_condition",
    "format_condition",
    "AGE_GROUPS",
    "as_text",
    "rows_matching",
]

_OPS = ("==", "!=", "<=", ">=", "<", ">")

#: Default coarsening of the age bands into three life stages (keeps B2C segments from being tiny).
AGE_GROUPS: dict[str, tuple[str, ...]] = {
    "18-34": ("18-24", "25-34"),
    "35-54": ("35-44", "45-54"),
    "55+": ("55-64", "65+"),
}


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'[^']*'|"[^"]*")
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<punct>[(),\[\]])
  | (?P<word>[^\s(),\[\]=!<>'"]+)
)""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise DataError(f"rule {text!r}: cannot read it at {text[pos:]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1]
        out.append((kind, value))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, value: str) -> Any:
    """A word is a number when it reads as one, else a string; quoted text is always a string."""
    if kind == "str":
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def parse_condition(text: str) -> dict[str, Any]:
    """Parse ``"col = v and col in (a, b) and col >= 3"`` into the mapping form.

    Grammar (no ``eval``): conditions joined by ``and``; each is
    ``column OP value`` with OP one of ``= == != < <= > >=``, or
    ``column in (v1, v2, ...)`` / ``column not in (...)``. Values with spaces
    or operator characters are quoted (``'public sector'``).
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"rule condition {text!r}: write it as 'column = value and ...'")
    toks = _tokens(text)
    where: dict[str, Any] = {}
    i = 0

    def fail(msg: str):
        raise DataError(f"rule {text!r}: {msg}; write e.g. \"customer_type = B2B and company_size in (medium, large)\"")

    while i < len(toks):
        if toks[i][0] not in ("word", "str"):
            fail(f"expected a column name, got {toks[i][1]!r}")
        col = toks[i][1]
        i += 1
        if i >= len(toks):
            fail(f"column {col!r} has no comparison")
        kind, tok = toks[i]
        negate = False
        if kind == "word" and tok.lower() == "not" and i + 1 < len(toks) and toks[i + 1][1].lower() == "in":
            negate, i = True, i + 1
            kind, tok = toks[i]
        if kind == "word" and tok.lower() == "in":
            i += 1
            if i >= len(toks) or toks[i][1] not in ("(", "["):
                fail(f"'in' after {col!r} must be followed by a list in parentheses")
            close = ")" if toks[i][1] == "(" else "]"
            i += 1
            values = []
            while i < len(toks) and toks[i][1] != close:
                if toks[i][1] == ",":
                    i += 1
                    continue
                if toks[i][0] not in ("word", "str"):
                    fail(f"unexpected {toks[i][1]!r} in the list for {col!r}")
                values.append(_literal(*toks[i]))
                i += 1
            if i >= len(toks):
                fail(f"the list for {col!r} is not closed with {close!r}")
            i += 1
            cond: Any = {"not in": values} if negate else values
        elif kind == "op":
            op = "==" if tok == "=" else tok
            i += 1
            if i >= len(toks) or toks[i][0] not in ("word", "str"):
                fail(f"{col!r} {tok} needs a value")
            value = _literal(*toks[i])
            i += 1
            cond = value if op == "==" else {op: value}
        else:
            fail(f"expected an operator or 'in' after {col!r}, got {tok!r}")
        _merge(where, col, cond)
        if i < len(toks):
            if toks[i][0] == "word" and toks[i][1].lower() == "and":
                i += 1
                if i >= len(toks):
                    fail("'and' at the end")
            else:
                fail(f"expected 'and', got {toks[i][1]!r} (only 'and' joins conditions)")
    return where


def _merge(where: dict, col: str, cond: Any) -> None:
    if col not in where:
        where[col] = cond
        return
    old = where[col]
    if isinstance(old, Mapping) and isinstance(cond, Mapping):
        where[col] = {**old, **cond}
    else:
        raise DataError(f"rule: column {col!r} is compared twice; combine the values into one 'in (...)' list")


def format_condition(where: Mapping[str, Any]) -> str:
    """The readable string form of a condition mapping (inverse of :func:`parse_condition`)."""
    parts = []
    for col, cond in where.items():
        if isinstance(cond, Mapping):
            for op, value in cond.items():
                if op == "not in":
                    parts.append(f"{col} not in ({', '.join(_q(v) for v in value)})")
                else:
                    parts.append(f"{col} {op} {_q(value)}")
        elif isinstance(cond, (list, tuple, set)):
            parts.append(f"{col} in ({', '.join(_q(v) for v in cond)})")
        else:
            parts.append(f"{col} = {_q(cond)}")
    return " and ".join(parts)


def _q(v: Any) -> str:
    """A value as written in a condition string: numbers bare, words bare, other text quoted."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return str(v)
    s = str(v)
    if re.fullmatch(r"[\w.+\-]+", s) and s.lower() not in ("and", "in", "not") and not isinstance(_literal("word", s), (int, float)):
        return s
    return "'" + s + "'"


# --------------------------------------------------------------------------- rules


def _normalise_rules(rules) -> list[dict[str, Any]]:
    """Rules as a list of ``{"name": str, "where": mapping}``."""
    if isinstance(rules, Mapping):
        items = [{"name": k, "where": v} for k, v in rules.items()]
    elif isinstance(rules, Sequence) and not isinstance(rules, str):
        items = list(rules)
    else:
        raise DataError("a priori rules: give a list of {'name': ..., 'where': ...} or a mapping {name: condition}")
    if not items:
        raise DataError("a priori rules: the rule list is empty; give at least one rule")
    out = []
    for k, rule in enumerate(items):
        if not isinstance(rule, Mapping) or "name" not in rule or "where" not in rule:
            raise DataError(f"a priori rule #{k + 1} {rule!r}: each rule needs a 'name' and a 'where'")
        where = rule["where"]
        if isinstance(where, str):
            where = parse_condition(where)
        if not isinstance(where, Mapping) or not where:
            raise DataError(f"a priori rule {rule['name']!r}: 'where' must be a non-empty mapping or a condition string")
        for col, cond in where.items():
            if isinstance(cond, Mapping):
                bad = [op for op in cond if op not in _OPS and op != "not in"]
                if bad:
                    raise DataError(f"a priori rule {rule['name']!r}: operator {bad[0]!r} on {col!r} is not one of "
                                    f"{', '.join(_OPS)}, 'not in'")
        out.append({"name": str(rule["name"]), "where": dict(where)})
    # Several rules may feed one segment (e.g. two ways into "VIP"): names may repeat.
    return out


def _is_categorical(s: pd.Series) -> bool:
    return (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object
            or pd.api.types.is_string_dtype(s) or pd.api.types.is_bool_dtype(s))


def as_text(s: pd.Series) -> pd.Series:
    """Values as strings (missing stays missing) so that 5, '5' and True/'True' compare alike.

    Returns an object Series on the index of ``s``. Used wherever a rule's value is compared with a column
    (the segmenter and the service's check for values not seen when the segmentation was built)."""
    obj = s.astype(object)
    return obj.where(obj.isna(), obj.map(str))


def rows_matching(table: pd.DataFrame, where: Mapping[str, Any]) -> np.ndarray:
    """Boolean array (one per row of ``table``) of the rows that meet every condition of a rule's ``where``.

    ``where``: column -> value (equal), list of values (one of them) or ``{op: value}`` with op one of
    ``== != < <= > >= not in`` (see :func:`parse_condition`). Text and categorical columns compare as
    text (:func:`as_text`), others as numbers; a missing value meets no condition. Raises ``KeyError``
    for a column ``table`` lacks.
    """
    mask = np.ones(len(table), dtype=bool)
    for col, cond in where.items():
        s = table[col]
        if isinstance(cond, Mapping):
            for op, value in cond.items():
                if op == "not in":
                    hit = ~as_text(s).isin([str(v) for v in value]) & s.notna()
                elif op in ("==", "!=") and (_is_categorical(s) or isinstance(value, str)):
                    eq = (as_text(s) == str(value)).fillna(False).astype(bool)
                    hit = eq if op == "==" else (~eq & s.notna())
                else:
                    num = pd.to_numeric(s, errors="coerce")
                    hit = {"==": num == value, "!=": num != value, "<": num < value, "<=": num <= value,
                           ">": num > value, ">=": num >= value}[op] & num.notna()
                mask &= np.asarray(hit, dtype=bool)
        elif isinstance(cond, (list, tuple, set)):
            mask &= np.asarray(as_text(s).isin([str(v) for v in cond]), dtype=bool)
        else:
            if _is_categorical(s) or isinstance(cond, str):
                mask &= np.asarray((as_text(s) == str(cond)).fillna(False), dtype=bool)
            else:
                mask &= np.asarray(pd.to_numeric(s, errors="coerce") == cond, dtype=bool)
    return mask


def _category_values(where: Mapping[str, Any]) -> dict[str, list]:
    """Columns compared with categories (equality / membership) and the values named."""
    out: dict[str, list] = {}
    for col, cond in where.items():
        if isinstance(cond, Mapping):
            for op, value in cond.items():
                if op == "not in":
                    out.setdefault(col, []).extend(value)
                elif op in ("==", "!=") and isinstance(value, str):
                    out.setdefault(col, []).append(value)
        elif isinstance(cond, (list, tuple, set)):
            out.setdefault(col, []).extend(cond)
        else:
            out.setdefault(col, []).append(cond)
    return out


# --------------------------------------------------------------------------- estimator


class AprioriSegmenter(BaseEstimator):
    """Assign customers to named segments by ordered rules over known characteristics.

    Parameters
    ----------
    rules: list of ``{"name", "where"}`` or mapping ``{name: where}`` (see the
        module docs); ``None`` builds :func:`default_rules` from the table at fit.
    remainder: segment of customers that match no rule.
    fallback: segment for customers with a category not seen at fit time when
        assigning (default: the remainder).

    Attributes (after ``fit``)
    --------------------------
    rules_: the normalised rules, ``columns_`` the columns they use,
    ``seen_``: column -> set of values seen at fit, ``segments_`` the segment
    order (rule order, then the remainder), ``labels_`` the fitted labels.
    """

    def __init__(self, rules=None, remainder: str = "Other", fallback: str | None = None):
        self.rules = rules
        self.remainder = remainder
        self.fallback = fallback

    def fit(self, table: pd.DataFrame) -> "AprioriSegmenter":
        """Check the rules against ``table`` (a customer table) and label its customers."""
        if not isinstance(table, pd.DataFrame):
            raise DataError("AprioriSegmenter.fit: give a customer table (DataFrame indexed by customer_id)")
        if len(table) == 0:
            raise DataError("AprioriSegmenter.fit: the customer table is empty")
        rules = default_rules(table) if self.rules is None else self.rules
        self.rules_ = _normalise_rules(rules)
        self._check_columns(table)
        self.columns_ = sorted({c for r in self.rules_ for c in r["where"]})
        named = {}
        for r in self.rules_:
            for col, values in _category_values(r["where"]).items():
                named.setdefault(col, set()).update(map(str, values))
        # only category-like columns can meet "unseen categories"; numbers are compared as numbers
        self.seen_ = {col: set(as_text(table[col]).dropna().unique()) for col in named if _is_categorical(table[col])}
        for r in self.rules_:
            for col, values in _category_values(r["where"]).items():
                if col not in self.seen_:
                    continue
                absent = [v for v in values if str(v) not in self.seen_[col]]
                if absent:
                    warnings.warn(f"a priori rule {r['name']!r}: value {absent[0]!r} never occurs in column {col!r} "
                                  f"(values: {', '.join(sorted(self.seen_[col])[:12])}); check the spelling",
                                  UserWarning, stacklevel=2)
        order = []
        for r in self.rules_:
            if r["name"] not in order:
                order.append(r["name"])
        if self.remainder not in order:
            order.append(self.remainder)
        fb = self.fallback if self.fallback is not None else self.remainder
        if fb not in order:
            order.append(fb)
        self.segments_ = order
        self.labels_ = self._label(table)
        return self

    def _check_columns(self, table: pd.DataFrame) -> None:
        for r in self.rules_:
            for col in r["where"]:
                if col not in table.columns:
                    raise DataError(f"a priori rule {r['name']!r}: column {col!r} is not in the customer table "
                                    f"(available: {', '.join(map(str, table.columns))})")

    def _label(self, table: pd.DataFrame) -> pd.Series:
        labels = np.full(len(table), self.remainder, dtype=object)
        done = np.zeros(len(table), dtype=bool)
        for r in self.rules_:
            hit = rows_matching(table, r["where"]) & ~done
            labels[hit] = r["name"]
            done |= hit
        return pd.Series(labels, index=table.index, name="segment")

    def unseen_categories(self, table: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Customers of ``table`` with a category not seen at fit, in a column a rule compares.

        Returns ``(mask, report)``: a boolean array (True = has an unseen
        value) and a DataFrame with ``column``, ``value``, ``customers``.
        """
        check_fitted(self, "rules_", "fit(table)")
        unseen = np.zeros(len(table), dtype=bool)
        rows = []
        for col, seen in self.seen_.items():
            values = as_text(table[col])
            new = values.notna() & ~values.isin(list(seen))
            if new.any():
                unseen |= new.to_numpy()
                for value, count in values[new].value_counts().items():
                    rows.append({"column": col, "value": value, "customers": int(count)})
        return unseen, pd.DataFrame(rows, columns=["column", "value", "customers"])

    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Segment names for (new) customers; unseen categories go to the fallback, with a warning."""
        check_fitted(self, "rules_", "fit(table)")
        self._check_columns(table)
        labels = self._label(table)
        unseen, report = self.unseen_categories(table)
        fb = self.fallback if self.fallback is not None else self.remainder
        labels[unseen] = fb
        if unseen.any():
            detail = ", ".join(f"{r.column}={r.value!r} ({r.customers})" for r in report.head(5).itertuples())
            warnings.warn(f"{int(unseen.sum())} customer(s) have categories not seen when the a priori segmentation "
                          f"was built ({detail}); they were assigned to {fb!r}", UserWarning, stacklevel=2)
        return labels

    def describe(self) -> pd.DataFrame:
        """The rules as a table: order, segment, condition (readable string)."""
        check_fitted(self, "rules_", "fit(table)")
        rows = [{"order": k + 1, "segment": r["name"], "rule": format_condition(r["where"])}
                for k, r in enumerate(self.rules_)]
        rows.append({"order": len(rows) + 1, "segment": self.remainder, "rule": "(no rule matches)"})
        return pd.DataFrame(rows)


def default_rules(table: pd.DataFrame, age_groups: Mapping[str, Sequence[str]] | None = None) -> list[dict]:
    """The default a priori rules, built from the values present in ``table``.

    * B2B customers (``customer_type = B2B``): one segment per company size
      ("B2B small", "B2B medium", "B2B large").
    * B2C customers: age group x region ("B2C 35-54 north", ...), where the
      age bands are coarsened into three life stages (:data:`AGE_GROUPS`).

    Why coarsened: in the usual CRM data (and in ``make_crm``) business
    customers are about 15 % of the base, so industry x company size would
    make 15 segments of about 1 % each, and 6 age bands x 5 regions 30 B2C
    segments; segments that small cannot be targeted distinctly. For the full
    grid give your own rules, e.g. ``grid_rules(table, ["industry",
    "company_size"], where={"customer_type": "B2B"}, prefix="B2B")``.

    Needs the columns ``customer_type`` and, for B2B, ``company_size``; for
    B2C, ``age_band`` and ``region``. Raises :class:`DataError` when the table
    has none of these.
    """
    groups = dict(AGE_GROUPS if age_groups is None else age_groups)
    cols = set(table.columns)
    rules: list[dict] = []
    if "customer_type" not in cols:
        raise DataError("a priori default rules need a 'customer_type' column (B2B/B2C) with company_size or "
                        f"age_band/region; this table has: {', '.join(map(str, table.columns))}. Give your own rules=")
    types = set(as_text(table["customer_type"]).dropna())
    if "B2B" in types and "company_size" in cols:
        present = set(as_text(table["company_size"]).dropna())
        order = [s for s in ("small", "medium", "large") if s in present] + sorted(present - {"small", "medium", "large"})
        for size in order:
            rules.append({"name": f"B2B {size}", "where": {"customer_type": "B2B", "company_size": size}})
    if "B2C" in types and "age_band" in cols:
        bands = set(as_text(table["age_band"]).dropna())
        used: list[tuple[str, list[str]]] = []
        grouped = set()
        for group, members in groups.items():
            members = [m for m in members if m in bands]
            if members:
                used.append((group, members))
                grouped.update(members)
        for band in sorted(bands - grouped):
            used.append((band, [band]))
        regions = sorted(set(as_text(table["region"]).dropna())) if "region" in cols else [None]
        for group, members in used:
            for region in regions:
                where: dict[str, Any] = {"customer_type": "B2C", "age_band": members}
                name = f"B2C {group}"
                if region is not None:
                    where["region"] = region
                    name += f" {region}"
                rules.append({"name": name, "where": where})
    if not rules:
        raise DataError("a priori default rules: found no B2B customers with company_size and no B2C customers with "
                        "age_band; give your own rules=")
    return rules


def grid_rules(
    table: pd.DataFrame,
    by: Sequence[str],
    *,
    where: Mapping[str, Any] | str | None = None,
    prefix: str = "",
) -> list[dict]:
    """One rule per combination of the values of ``by`` present in ``table`` (within ``where``).

    E.g. ``grid_rules(table, ["industry", "company_size"], where="customer_type = B2B",
    prefix="B2B")`` gives rules named ``"B2B manufacturing large"``, ... Values
    are taken in sorted order; combinations with no customer are left out.
    """
    base = parse_condition(where) if isinstance(where, str) else dict(where or {})
    for col in [*base, *by]:
        if col not in table.columns:
            raise DataError(f"grid_rules: column {col!r} is not in the customer table "
                            f"(available: {', '.join(map(str, table.columns))})")
    inside = table[rows_matching(table, base)] if base else table
    combos = inside[list(by)].astype(object).dropna().drop_duplicates()
    combos = combos.map(str).sort_values(list(by))
    rules = []
    for values in combos.itertuples(index=False):
        name = " ".join([p for p in (prefix, *values) if p])
        rules.append({"name": name, "where": {**base, **dict(zip(by, values))}})
    return rules


def apriori_segmentation(
    table: pd.DataFrame,
    rules=None,
    *,
    remainder: str = "Other",
    fallback: str | None = None,
    name: str = "apriori",
) -> Segmentation:
    """An a priori segmentation of a customer table by ordered rules.

    Parameters
    ----------
    table: customer table (see :func:`segwork.features.customer_table`)
        with the columns the rules use.
    rules: the rules (see the module docs); default :func:`default_rules`.
    remainder: the segment of customers no rule matches.
    fallback: where :meth:`Segmentation.predict` puts customers with categories
        not seen here (default: the remainder); they are counted.

    Returns
    -------
    :class:`Segmentation` named ``name`` whose ``description`` is the rule
    table and whose ``predict`` applies the same rules to new customers.
    """
    seg = AprioriSegmenter(rules, remainder=remainder, fallback=fallback).fit(table)
    fb = fallback if fallback is not None else remainder
    return Segmentation(
        seg.labels_, name=name, method="a priori rules over known characteristics",
        description=seg.describe(), segmenter=seg, table=table, order=seg.segments_,
        params={"rules": [{"name": r["name"], "where": format_condition(r["where"])} for r in seg.rules_],
                "remainder": remainder, "fallback": fb},
        fallback=fb,
    )
