"""The cleaning report: what reading and cleaning one source did.

:class:`RuleResult` (rows one rule matched, with an example), :class:`Decision`
(one reading decision and the value that proves it) and :class:`CleaningReport`
(the whole outcome, printable, saveable with ``to_dict`` / ``from_dict`` and
mergeable over parts read separately).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from .messages import format_example
from .rules import RULE_TEXT

__all__ = ["RuleResult", "Decision", "CleaningReport"]


@dataclass
class RuleResult:
    """What one cleaning rule did: how many rows it matched and one example."""

    rule: str
    action: str
    rows: int
    example: dict | str | None = None

    @property
    def description(self) -> str:
        return RULE_TEXT.get(self.rule, self.rule)


@dataclass
class Decision:
    """One reading decision about a column, and what it rests on.

    ``column`` is the canonical column (or ``"(workbook)"``), ``topic`` what was
    decided (``"date convention"``, ``"number format"``, ``"sheets"``, ...),
    ``decision`` the outcome, ``evidence`` the value that proves it, or
    ``"ASSUMED: ..."`` when no value could.
    """

    column: str
    topic: str
    decision: str
    evidence: str = ""

    def __str__(self) -> str:
        return f"{self.column}: {self.topic}: {self.decision}" + (f" ({self.evidence})" if self.evidence else "")


@dataclass
class CleaningReport:
    """The outcome of reading and cleaning one source.

    Attributes
    ----------
    source: the file path or ``"<DataFrame>"``.
    layout: the recognised layout (``"canonical"``, ``"online_retail_ii"``, ``"cdnow"``, ...).
    rows_read, rows_kept: row counts before and after cleaning.
    rules: one :class:`RuleResult` per rule, in the order they ran.
    customers: distinct customers kept.
    first_date, last_date: the date range of the kept rows.
    decisions: one :class:`Decision` per thing decided while reading (date
        convention, decimal / thousands marks, time zones, sheets), with its evidence.
    sheets_read, sheets_skipped: for workbooks, the sheets concatenated and the
        ``(sheet, reason)`` pairs left out.
    warnings: library warnings raised while reading (kept here, not printed).
    """

    source: str
    layout: str
    rows_read: int
    rows_kept: int = 0
    rules: list[RuleResult] = field(default_factory=list)
    customers: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    revenue: float = 0.0
    decisions: list[Decision] = field(default_factory=list)
    sheets_read: list[str] = field(default_factory=list)
    sheets_skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: rule, description, action, rows, example (as text)."""
        return pd.DataFrame(
            [
                {
                    "rule": r.rule,
                    "description": r.description,
                    "action": r.action,
                    "rows": r.rows,
                    "example": "" if r.example is None else format_example(r.example),
                }
                for r in self.rules
            ]
        )

    def to_dict(self) -> dict:
        """A JSON-serialisable summary."""
        return {
            "source": self.source,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "customers": self.customers,
            "first_date": None if self.first_date is None else str(self.first_date.date()),
            "last_date": None if self.last_date is None else str(self.last_date.date()),
            "revenue": round(float(self.revenue), 2),
            "rules": [
                {"rule": r.rule, "action": r.action, "rows": r.rows,
                 "example": None if r.example is None else format_example(r.example)}
                for r in self.rules
            ],
            "decisions": [{"column": d.column, "topic": d.topic, "decision": d.decision, "evidence": d.evidence}
                          for d in self.decisions],
            "sheets_read": list(self.sheets_read),
            "sheets_skipped": [{"sheet": n, "reason": r} for n, r in self.sheets_skipped],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "CleaningReport":
        """Rebuild a report saved with :meth:`to_dict` (examples come back as text)."""
        ts = lambda v: None if v is None else pd.Timestamp(v)  # noqa: E731
        return cls(
            source=data["source"], layout=data["layout"], rows_read=int(data["rows_read"]),
            rows_kept=int(data["rows_kept"]), customers=int(data["customers"]),
            first_date=ts(data.get("first_date")), last_date=ts(data.get("last_date")),
            revenue=float(data.get("revenue", 0.0)),
            rules=[RuleResult(r["rule"], r["action"], int(r["rows"]), r.get("example")) for r in data["rules"]],
            decisions=[Decision(d["column"], d["topic"], d["decision"], d.get("evidence", ""))
                       for d in data.get("decisions", [])],
            sheets_read=list(data.get("sheets_read", [])),
            sheets_skipped=[(d["sheet"], d["reason"]) for d in data.get("sheets_skipped", [])],
            warnings=list(data.get("warnings", [])),
        )

    @classmethod
    def merged(cls, source: str, layout: str, reports) -> "CleaningReport":
        """One report of several parts read separately (files, chunks, partitions): rows and rule counts
        summed, rules in the order of the first report (the first example kept), decisions and warnings once."""
        reports = [r for r in reports if r is not None]
        out = cls(source=source, layout=layout, rows_read=sum(r.rows_read for r in reports),
                  rows_kept=sum(r.rows_kept for r in reports), revenue=sum(r.revenue for r in reports))
        names = [x.rule for r in reports for x in r.rules]
        for name in dict.fromkeys(names):
            hits = [x for r in reports for x in r.rules if x.rule == name]
            example = next((x.example for x in hits if x.example is not None), None)
            out.rules.append(RuleResult(name, hits[0].action, sum(x.rows for x in hits), example))
        out.decisions = list({str(d): d for r in reports for d in r.decisions}.values())  # each once, first kept
        out.warnings = list(dict.fromkeys(w for r in reports for w in r.warnings))
        firsts = [r.first_date for r in reports if r.first_date is not None]
        lasts = [r.last_date for r in reports if r.last_date is not None]
        out.first_date, out.last_date = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
        return out

    def _rule_line(self, r: RuleResult) -> str:
        if r.rule == "duplicates" and r.action == "keep":  # CleaningRules(duplicates="keep"): not counted
            return f"  {r.description:<36} not looked for (duplicates='keep')"
        verb = {"drop": "dropped", "keep": "kept", "error": "rejected"}[r.action]
        line = f"  {r.description:<36} {r.rows:>9,} rows {verb}"
        if r.example is not None:
            line += f"   e.g. {format_example(r.example)}"
        return line

    def brief(self) -> str:
        """The facts of :meth:`__str__` a command prints after its result (``segwork score``): rows read and
        kept, each rule that matched rows (with its count and an example), the sheets skipped and every
        ASSUMED reading decision, in the lines ``segwork data validate`` prints them."""
        lines = [f"cleaning: {self.rows_read:,} rows read, {self.rows_kept:,} kept"
                 + ("" if any(r.rows for r in self.rules) else " (no cleaning rule matched a row)")]
        lines.extend(self._rule_line(r) for r in self.rules if r.rows)
        lines.extend(f"  SHEET SKIPPED {sheet!r}: {reason}" for sheet, reason in self.sheets_skipped)
        lines.extend(f"  reading decision: {d}" for d in self.decisions if "ASSUMED" in d.evidence
                     or "ASSUMED" in d.decision)
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = [
            f"source      {self.source} (layout: {self.layout})",
            f"rows read   {self.rows_read:,}",
            f"rows kept   {self.rows_kept:,}",
            f"customers   {self.customers:,}",
        ]
        if self.first_date is not None:
            lines.append(f"date range  {self.first_date.date()} .. {self.last_date.date()}")
        lines.append(f"revenue     {self.revenue:,.2f}")
        if self.sheets_read:
            lines.append(f"sheets read {', '.join(repr(n) for n in self.sheets_read)}")
        for sheet, reason in self.sheets_skipped:
            lines.append(f"SHEET SKIPPED {sheet!r}: {reason}")
        if self.decisions:
            lines.append("reading decisions:")
            lines.extend(f"  {d}" for d in self.decisions)
        for w in self.warnings:
            lines.append(f"warning: {w}")
        lines.append("cleaning rules (in order):")
        lines.extend(self._rule_line(r) for r in self.rules)
        return "\n".join(lines)
