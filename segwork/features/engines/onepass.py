"""The DuckDB engine's one pass: the cleaning rules, their counts, exact duplicates and the per-customer aggregate.

:class:`OnePass` writes the SQL (two GROUP BYs over the rows: per customer and day, then per customer, problem
mask and period) and turns its result into the rules' counts and the per-customer columns of
:func:`segwork.features.engines.sql.aggregate_sql`, which :func:`~segwork.features.engines.aggregate.close_report`
reads. Why this shape (measured on 10M transactions, ``benchmarks/bench_scale.py``): a counting pass before the
aggregate read every row twice; FILTER aggregates over customer-days cost more than the aggregation itself;
normalising every row's text id (trim with a character set) cost more than the whole plain query.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .sources import CSV_NULL_STRINGS
from .sql import quote_name

__all__ = ["OnePass", "id_needs_normalising_sql"]

_WHITESPACE_CODES = "32, 9, 10, 11, 12, 13, 160"  # the characters the id normalisation strips, as code points


def id_needs_normalising_sql(column: str) -> str:
    """SQL condition: the text id in ``column`` is not what ``DuckPlan.normalised`` makes of it.

    True for a whitespace character (those the normalisation strips: space,
    tab, line breaks, NBSP) at either end, a ``'.'`` (``'13085.0'``) or a
    null string (``''``, ``'NA'`` ...); false for NULL. An id for which it
    is false is its own normalised form.
    """
    c = quote_name(column)
    nulls = ", ".join(f"'{v}'" for v in CSV_NULL_STRINGS)
    return (f"coalesce(ascii({c}) IN ({_WHITESPACE_CODES}) OR ascii({c}[-1:]) IN ({_WHITESPACE_CODES}) "
            f"OR contains({c}, '.') OR {c} IN ({nulls}), false)")


class OnePass:
    """One pass over the rows: SQL (:meth:`sql`), then the counts (:meth:`rule_counts`) and the customers
    (:meth:`per_customer`) of its result.

    ``conditions`` / ``actions``: each row rule's SQL condition on the rows
    and its action (``"drop"`` / ``"keep"`` / ``"error"``), in the rules'
    order; ``dedupe``: exact repeats of a row count as one row (the copies
    are counted); ``cal_end`` / ``obs_end``: the summary's period ends,
    ``rule_end`` / ``drop_after``: the ``after_observation_end`` rule's end
    and whether it drops (day numbers, ``None`` = none), as in
    :func:`~segwork.features.engines.sql.aggregate_sql`; ``times=False``:
    the first and last kept date (with their time of day) are not taken in
    the pass (``kept_min_date`` / ``kept_max_date`` are NaT; the caller
    finds them on the first and last kept day, two aggregates less per row).

    How: each row gets a bit mask of its problems (``bad``, one bit per
    rule). Rows the "drop" rules keep get only their "error" rules' bits as
    ``key`` (0 unless the caller raises), so that they group per (customer,
    day) as one purchase day; the "keep" rules' counts among them are
    summed beside. Step 1 groups the (distinct) rows per customer and
    ``day * 64 + key`` (one integer key); step 2 per customer and
    ``key * 8 + period`` (period bits: 4 after ``rule_end``, 2 after
    ``obs_end``, 1 after ``cal_end``), about one row per customer. No FILTER aggregate: the
    per-column choice of groups is made on step 2's rows in pandas.
    """

    def __init__(self, conditions: dict[str, str], actions: dict[str, str], *, dedupe: bool, cal_end: int | None,
                 obs_end: int | None, rule_end: int | None, drop_after: bool, times: bool = True) -> None:
        self.rules = list(conditions)
        self.bits = {r: 1 << i for i, r in enumerate(self.rules)}  # ROW_RULES: 6 rules, masks below 64
        self.live = {r: c for r, c in conditions.items() if c.strip() not in ("false", "(false)")}
        self.actions = actions
        self.drop = sum(self.bits[r] for r in self.live if actions[r] == "drop")
        self.error = sum(self.bits[r] for r in self.live if actions[r] == "error")
        self.keeps = [r for r in self.live if actions[r] == "keep"]
        self.dedupe, self.cal_end, self.obs_end = dedupe, cal_end, obs_end
        self.rule_end, self.drop_after, self.times = rule_end, drop_after, times

    def sql(self, rows: str, extra: dict[str, str] | None = None) -> str:
        """SQL over ``rows`` (columns ``customer_id``, ``date``, ``amount`` and what the conditions and duplicates
        read): one row per (customer, key, period), sorted by customer (as the engines return customers: a
        customer's groups are then neighbours, and the sort is DuckDB's, not pandas'); ``extra``: more columns
        (name -> SQL on ``customer_id``)."""
        bits, drop = self.bits, self.drop
        bad = " + ".join(f"(CAST(coalesce({c}, false) AS INTEGER) * {bits[r]})" for r, c in self.live.items()) or "0"
        key = (f"CASE WHEN bad & {drop} = 0 THEN bad & {self.error} ELSE bad END" if drop
               else f"bad & {self.error}")
        if self.dedupe:
            rows = f"SELECT *, count(*) AS copies FROM ({rows}) GROUP BY ALL"
        copies = "CAST(sum(copies) AS INTEGER)" if self.dedupe else "NULL"
        keep_sums = "".join(
            f", CAST({'sum(copies)' if self.dedupe else 'count(*)'} FILTER (WHERE bad & {bits[r]} <> 0 AND "
            f"bad & {drop} = 0) AS INTEGER) AS keep_{r}" for r in self.keeps)
        period = " + ".join(f"CAST(day > {int(e)} AS INTEGER) * {b}" for e, b in
                            ((self.rule_end, 4), (self.obs_end, 2), (self.cal_end, 1)) if e is not None) or "0"
        more = "".join(f", {sql} AS {quote_name(name)}" for name, sql in (extra or {}).items())
        times1 = ", min(date) AS mind, max(date) AS maxd" if self.times else ""
        times2 = ", min(mind) AS mind, max(maxd) AS maxd" if self.times else ""
        return f"""
            WITH per_day AS (
                SELECT customer_id, coalesce(CAST(date AS DATE) - DATE '1970-01-01', 0) * 64 + {key} AS dk,
                       sum(amount) AS v, CAST(count(*) AS INTEGER) AS n, {copies} AS c{times1}{keep_sums}
                FROM (SELECT *, {bad} AS bad FROM ({rows})) GROUP BY ALL
            ), per_period AS (
                SELECT customer_id, kp,
                       min(day) AS first_day, max(day) AS last_day, CAST(count(*) AS INTEGER) AS days, sum(v) AS v,
                       arg_min(v, day) AS first_value, CAST(sum(n) AS INTEGER) AS n,
                       {"CAST(sum(c) AS INTEGER)" if self.dedupe else "NULL"} AS c{times2}{"".join(f", CAST(sum(keep_{r}) AS INTEGER) AS keep_{r}" for r in self.keeps)}
                FROM (SELECT *, (dk & 63) * 8 + {period} AS kp FROM (
                    SELECT *, (dk - (dk & 63)) // 64 AS day FROM per_day))
                GROUP BY customer_id, kp
            )
            SELECT * EXCLUDE (kp), kp // 8 AS key, kp & 7 AS period{more} FROM per_period ORDER BY customer_id
        """

    def _rows(self, g: pd.DataFrame) -> np.ndarray:
        return (g["c"] if self.dedupe else g["n"]).to_numpy(np.int64)

    def rule_counts(self, g: pd.DataFrame) -> tuple[int, dict[str, int]]:
        """Rows read and each rule's count (rows with its problem that no earlier "drop" rule took)."""
        rows, key = self._rows(g), g["key"].to_numpy(np.int64)
        counts, prior = {}, 0
        for r in self.rules:
            n = 0
            if r in self.live:
                n = int(rows[(key & self.bits[r] != 0) & (key & prior == 0)].sum())
                if r in self.keeps:
                    n += int(g[f"keep_{r}"].fillna(0).to_numpy(np.int64).sum())
            counts[r] = n
            if self.actions[r] == "drop":
                prior |= self.bits[r]
        return int(rows.sum()), counts

    def per_customer(self, g: pd.DataFrame) -> pd.DataFrame:
        """The columns of ``aggregate_sql`` per customer with a row the drop rules keep."""
        g = g[(g["key"].to_numpy(np.int64) & self.drop) == 0]
        period = g["period"].to_numpy(np.int64)
        kept = np.ones(len(g), dtype=bool)
        if self.rule_end is not None and self.drop_after:
            kept &= period & 4 == 0
        inside = kept & (period & 2 == 0) if self.obs_end is not None else kept
        cal = inside & (period & 1 == 0) if self.cal_end is not None else inside
        hold = inside & (period & 1 != 0) if self.cal_end is not None else np.zeros(len(g), dtype=bool)
        after = period & 4 != 0 if self.rule_end is not None else np.zeros(len(g), dtype=bool)
        n, v = g["n"].to_numpy(np.int64), g["v"].to_numpy(np.float64)
        days, first, last = g["days"].to_numpy(np.int64), g["first_day"], g["last_day"]
        out = pd.DataFrame({
            "customer_id": g["customer_id"].array,
            "first_day": first.where(cal).to_numpy(), "last_day": last.where(cal).to_numpy(),
            "cal_days": np.where(cal, days, 0), "holdout_days": np.where(hold, days, 0),
            "cal_value": np.where(cal, v, 0.0),
            "first_value": np.where(cal, g["first_value"].to_numpy(np.float64), 0.0),
            "holdout_value": np.where(hold, v, 0.0),
            "n_rows": np.where(inside, n, 0), "revenue": np.where(inside, v, 0.0),
            "kept_rows": np.where(kept, n, 0), "kept_revenue": np.where(kept, v, 0.0),
            "kept_min_date": g["mind"].where(kept).to_numpy() if self.times else pd.NaT,
            "kept_max_date": g["maxd"].where(kept).to_numpy() if self.times else pd.NaT,
            "kept_min_day": first.where(kept).to_numpy(), "kept_max_day": last.where(kept).to_numpy(),
            "dup_rows": self._rows(g) - n, "after_rows": np.where(after, n, 0),
        })
        ids = pa.array(out["customer_id"], type=pa.string()) if len(out) > 1 else None
        same = np.zeros(len(out), dtype=bool)  # the rows are sorted by customer: repeats are neighbours
        if ids is not None:
            same[1:] = pc.fill_null(pc.equal(ids[1:], ids[:-1]), False).to_numpy(zero_copy_only=False)
        if not same.any():  # the usual case: one (key, period) group per customer
            return out
        several = same.copy()
        several[:-1] |= same[1:]
        # a customer in several periods (holdout, days after the period ends): sums, min, max; first_value is
        # that of the calibration group with the first day
        multi = out[several]
        firsts = (multi.sort_values("first_day", na_position="last", kind="stable")
                  .drop_duplicates("customer_id").set_index("customer_id")["first_value"])
        how = {c: "sum" for c in out.columns if c != "customer_id"}
        how.update(first_day="min", last_day="max", kept_min_date="min", kept_max_date="max", kept_min_day="min",
                   kept_max_day="max")
        merged = multi.groupby("customer_id", sort=False).agg(how)
        merged["first_value"] = firsts.reindex(merged.index).to_numpy()
        return pd.concat([out[~several], merged.reset_index()[out.columns]], ignore_index=True)
