"""The run's ``index.html``: the comparison report that links every notebook page.

:func:`build_index` turns a run record (``run.json``) and the notebooks'
``metrics.json`` files into one self-contained HTML page (inline CSS, no
scripts): the data set and parameters, the key numbers of the data, one
comparison table per section, and each notebook's status, time and page.

What the sections and key numbers are is not written here: each notebook
declares them in its ``metadata.segwork`` (``index_section``,
``index_numbers``; see :func:`segwork.report.discover.index_layout`), and
the runner copies that layout into ``run.json`` under ``"index"``. A section
whose notebook did not run, was skipped or saved no such table says so.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_write_text
from ..plots.tables import TABLE_CSS, column_decimals, column_label, format_value
from .metrics import METRICS_FILE

__all__ = ["build_index", "write_index", "load_run_metrics", "as_table", "order_columns", "format_value",
           "public_command"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def load_run_metrics(run_dir: str | Path, names: list[str]) -> dict[str, dict | None]:
    """Each notebook's ``metrics.json`` (``<run>/<name>/metrics.json`` or ``<run>/<name>.metrics.json``), or None."""
    run_dir = Path(run_dir)
    out: dict[str, dict | None] = {}
    for name in names:
        out[name] = None
        for path in (run_dir / name / METRICS_FILE, run_dir / f"{name}.metrics.json"):
            if path.is_file():
                try:
                    out[name] = json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    out[name] = {"unreadable": f"{path.name} is not valid JSON"}
                break
    return out


def as_table(value: Any, first_column: str = "name") -> dict | None:
    """Turn a metrics value into ``{"columns": [...], "rows": [[...], ...]}`` (raw values), or None.

    Accepts a list of records, a mapping of name -> record, or a mapping of
    name -> scalar (two columns).
    """
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        columns: list[str] = []
        for rec in value:
            columns += [c for c in rec if c not in columns]
        return {"columns": columns, "rows": [[rec.get(c) for c in columns] for rec in value]}
    if isinstance(value, dict) and value:
        if all(isinstance(v, dict) for v in value.values()):
            columns = [first_column]
            for rec in value.values():
                columns += [c for c in rec if c not in columns]
            return {"columns": columns,
                    "rows": [[k] + [rec.get(c) for c in columns[1:]] for k, rec in value.items()]}
        return {"columns": [first_column, "value"], "rows": [[k, v] for k, v in value.items()]}
    return None


def _best_cells(table: dict, higher: list[str], lower: list[str], closer_to_zero=()) -> set[tuple[int, int]]:
    """(row, column) of the best value in each column that has a direction (ties all marked)."""
    best = set()
    for j, col in enumerate(table["columns"]):
        key = col.lower()
        if key in higher:
            score = lambda v: v  # noqa: E731
        elif key in lower:
            score = lambda v: -v  # noqa: E731
        elif key in closer_to_zero:
            score = lambda v: -abs(v)  # noqa: E731
        else:
            continue
        values = [(i, row[j]) for i, row in enumerate(table["rows"])
                  if isinstance(row[j], (int, float)) and not isinstance(row[j], bool)
                  and math.isfinite(row[j])]
        if len(values) < 2:
            continue
        target = max(score(v) for _, v in values)
        best.update((i, j) for i, v in values if score(v) == target)
    return best


def _is_long_text(rows: list, j: int) -> bool:
    texts = [r[j] for r in rows if isinstance(r[j], str)]
    return bool(texts) and sum(len(t) for t in texts) / len(texts) > 30


def order_columns(table: dict, order=()) -> dict:
    """Columns in ``order`` first (those present), then other short columns, then long text columns."""
    cols = table["columns"]
    first = [c for c in dict.fromkeys(order) if c in cols]
    rest = [c for c in cols if c not in first]
    short = [c for c in rest if not _is_long_text(table["rows"], cols.index(c))]
    new = first + short + [c for c in rest if c not in short]
    idx = [cols.index(c) for c in new]
    return {"columns": new, "rows": [[row[i] for i in idx] for row in table["rows"]]}


def _take_chosen(table: dict, chosen: dict | None) -> tuple[dict, set[int], list[str]]:
    """Remove the boolean column ``chosen["column"]`` (the notebook's own choice, e.g. ``compare_models``'s
    ``best``) from ``table``; return the table, the chosen rows and the columns (``chosen["by"]``) it was made by."""
    if not chosen or chosen.get("column") not in table["columns"]:
        return table, set(), []
    j = table["columns"].index(chosen["column"])
    rows = {i for i, row in enumerate(table["rows"]) if row[j] is True}
    table = {"columns": [c for k, c in enumerate(table["columns"]) if k != j],
             "rows": [[v for k, v in enumerate(row) if k != j] for row in table["rows"]]}
    return table, rows, [c.lower() for c in chosen.get("by", ())]


def _render_table(value: Any, higher=(), lower=(), first_column: str = "name", order=(),
                  closer_to_zero=(), labels: dict | None = None, chosen: dict | None = None) -> dict | None:
    """The table for the template: short columns as a table, long prose columns as notes under it.

    ``chosen`` (a section's ``chosen`` field): ``{"column": "best", "by": ["mae"]}``: the rows the
    notebook chose (its boolean ``best`` column, not shown) are bold in the first column and, in the columns
    the choice was made by, only they are bold, so the index marks the notebook's choice, tie rule included,
    and not a second choice of its own."""
    table = as_table(value, first_column)
    if table is None:
        return None
    table, chosen_rows, chosen_by = _take_chosen(table, chosen)
    table = order_columns(table, [first_column, *order])
    long_text = [_is_long_text(table["rows"], j) for j in range(len(table["columns"]))]
    if len(long_text) > 1 and long_text[0]:
        long_text[0] = False  # the name column stays in the table
    keep = [j for j, is_long in enumerate(long_text) if not is_long]
    prose = [j for j, is_long in enumerate(long_text) if is_long]
    short = {"columns": [table["columns"][j] for j in keep], "rows": [[r[j] for j in keep] for r in table["rows"]]}
    best = _best_cells(short, [h.lower() for h in higher], [lw.lower() for lw in lower],
                       [z.lower() for z in closer_to_zero])
    if chosen_by or chosen_rows:
        by = {j for j, c in enumerate(short["columns"]) if c.lower() in chosen_by}
        best = {(i, j) for i, j in best if j not in by} | {(i, j) for i in chosen_rows for j in by | {0}}
    numeric = [any(isinstance(r[j], (int, float)) and not isinstance(r[j], bool) for r in short["rows"])
               for j in range(len(short["columns"]))]
    decimals = []  # one number of decimals per numeric column (3 significant digits at its typical size)
    for j, col in enumerate(short["columns"]):
        floats = [r[j] for r in short["rows"] if isinstance(r[j], float)]
        decimals.append(column_decimals(pd.Series(floats, dtype=float), col) if floats and numeric[j] else None)
    labels = labels or {}
    label = lambda c: labels.get(c, column_label(c))  # noqa: E731
    return {
        "columns": [{"key": c, "label": label(c), "numeric": numeric[j]} for j, c in enumerate(short["columns"])],
        "rows": [[{"text": format_value(v, short["columns"][j],
                                        decimals=decimals[j] if isinstance(v, float) else None), "best": (i, j) in best, "numeric": numeric[j]}
                  for j, v in enumerate(row)] for i, row in enumerate(short["rows"])],
        "notes": [{"name": format_value(row[0]),
                   "fields": [(label(table["columns"][j]), format_value(row[j])) for j in prose
                             if row[j] not in (None, "")]}
                  for row in table["rows"]] if prose else [],
    }


def _flat_numbers(metrics: dict, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Scalar metrics (nested dicts flattened two levels) as (name, text) pairs; lists are left out."""
    items = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 2:
            items += _flat_numbers(value, f"{name}.", depth + 1)
        elif isinstance(value, (list, dict)):
            continue
        else:
            items.append((name, format_value(value, key)))
    return items


def _section_state(nb: dict | None, metrics: dict | None, key: str) -> tuple[str, str]:
    """(state, text): state is 'ok', 'missing', 'skipped', 'failed' or 'absent'."""
    if nb is None:
        return "missing", "its notebook is not part of this run"
    if nb.get("status") == "failed":
        return "failed", "its notebook failed in this run"
    if nb.get("status") != "ok":
        return "missing", "its notebook did not run (an earlier notebook failed)"
    if metrics is None:
        return "absent", "its notebook saved no metrics.json"
    if "skipped" in metrics:
        return "skipped", f"its notebook skipped this analysis: {metrics['skipped']}"
    if key not in metrics:
        return "absent", f"its notebook saved no '{key}' table in metrics.json"
    if isinstance(metrics[key], dict) and set(metrics[key]) == {"skipped"}:  # this one analysis skipped, and why
        return "skipped", f"its notebook skipped this analysis: {metrics[key]['skipped']}"
    return "ok", ""


def public_command(command: Any) -> str:
    """The run's command line for the page: an absolute path (this machine's folders) shortened to ``.../name``.

    The page may be shared; where the files lay on the machine that made it is nobody else's business (run.json
    keeps the whole command)."""
    if not command:
        return ""
    tokens = command.split() if isinstance(command, str) else [str(t) for t in command]
    return " ".join(f".../{Path(t).name}" if t.startswith("/") and len(t) > 1 else t for t in tokens)


def _with_value_label(spec: dict, metrics: dict | None) -> dict:
    """``{value_label}`` in a section's heading, intro, read and labels replaced by the notebook's
    ``metrics["value_label"]`` (:func:`segwork.clv.margin.value_label` of the run's margin, e.g. ``"CLV (margin
    30 %)"``), so that the index names the value the page computed; left as ``"CLV"`` when the notebook gave none."""
    said = metrics.get("value_label") if isinstance(metrics, dict) else None
    label = said if isinstance(said, str) and said else "CLV"
    fill = lambda text: text.replace("{value_label}", label) if isinstance(text, str) else text  # noqa: E731
    out = {k: fill(v) for k, v in spec.items()}
    if isinstance(spec.get("labels"), dict):
        out["labels"] = {k: fill(v) for k, v in spec["labels"].items()}
    return out


def _fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"
    return f"{seconds:.1f} s"


def build_index(record: dict, run_dir: str | Path) -> str:
    """The HTML of the run's index page (see the module docstring)."""
    import jinja2

    from ..datasets import DATASETS

    data_parameters = {"dataset", *(n for entry in DATASETS.values() for n in entry.parameters)}
    run_dir = Path(run_dir)
    notebooks = record.get("notebooks", [])
    by_name = {nb["name"]: nb for nb in notebooks}
    metrics = load_run_metrics(run_dir, [nb["name"] for nb in notebooks])
    longest = max([nb.get("seconds") or 0 for nb in notebooks] + [1e-9])

    layout = record.get("index") or {}
    sections = []
    for spec in layout.get("sections", []):
        nb = by_name.get(spec["notebook"])
        m = metrics.get(spec["notebook"])
        state, note = _section_state(nb, m, spec["key"])
        spec = _with_value_label(spec, m)
        table = (_render_table(m[spec["key"]], spec.get("higher_better", ()), spec.get("lower_better", ()),
                               spec.get("first_column", "name"), spec.get("order", ()),
                               spec.get("closer_to_zero", ()), spec.get("labels"), spec.get("chosen"))
                 if state == "ok" else None)
        if state == "ok" and table is None:
            state, note = "absent", f"'{spec['key']}' in metrics.json is not a table"
        sections.append({**spec, "state": state, "note": note, "table": table,
                         "href": nb.get("html") if nb and nb.get("status") == "ok" else None})

    numbers_spec = layout.get("numbers") or {}
    data_nb = by_name.get(numbers_spec.get("notebook"))
    data_metrics = metrics.get(data_nb["name"]) if data_nb else None
    data_numbers = []
    if data_metrics and "skipped" not in data_metrics:
        for item in numbers_spec.get("numbers", []):
            key, label = item["key"], item.get("label", item["key"])
            if key in data_metrics:
                if data_metrics.get(item.get("unit_key")):
                    label = f"{label} ({data_metrics[item['unit_key']]})"
                data_numbers.append({"label": label, "text": format_value(data_metrics[key], key)})

    rows = []
    for i, nb in enumerate(notebooks, 1):
        m = metrics.get(nb["name"])
        rows.append({
            **nb,
            "number": i,
            "time": _fmt_seconds(nb.get("seconds")),
            "overhead": _fmt_seconds(nb.get("overhead_seconds")),
            "bar": round(100 * (nb.get("seconds") or 0) / longest),
            "skipped": (m or {}).get("skipped") if isinstance(m, dict) else None,
            "numbers": _flat_numbers(m) if isinstance(m, dict) else [],
        })

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("index.html.j2")
    return template.render(
        table_css=TABLE_CSS, command=public_command(record.get("command")), run=record, notebooks=rows, sections=sections, data_numbers=data_numbers,
        data_href=data_nb.get("html") if data_nb and data_nb.get("status") == "ok" else None,
        data_notebook=numbers_spec.get("notebook"), data_heading=numbers_spec.get("heading", "The data at a glance"),
        parameters=[{**p, "main": p.get("source") != "default" or p.get("notebooks") == "all"
                     or p.get("name") in data_parameters}
                    for p in record.get("parameters", [])],
        total=_fmt_seconds(record.get("seconds")),
        notebooks_seconds=_fmt_seconds(sum(nb.get("seconds") or 0 for nb in notebooks)),
    )


def write_index(record: dict, run_dir: str | Path) -> Path:
    """Write ``<run_dir>/index.html`` atomically; returns its path."""
    path = Path(run_dir) / "index.html"
    atomic_write_text(path, build_index(record, run_dir))
    return path
