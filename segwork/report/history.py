"""The run history of a report folder: every run's record, which pointers name it, and ``<output>/index.html``.

Every run folder under the output folder holds a ``run.json`` (see
:mod:`.runfolder`); this module reads them all and writes one page,
``<output>/index.html``, that lists the runs, newest first: status, data set,
parameters, notebooks, start date, wall time, the pointers (``latest``,
``latest-<data set>``) that name the run, and links to its report (or to its
``FAILED`` message). The page is written atomically after every run starts and
ends, so a reader never sees half of it.

Which pointers a run moves is decided by :func:`pointer_names`: only a *full
report* (every notebook of the folder, every parameter at its notebook
default, the data set aside) moves ``latest-<data set>``, and a full report on
the notebooks' default data set also moves ``latest``. A quick look
(``--only 01``, ``-p n_customers 2000``) is listed here and moves neither.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write_text
from . import runfolder

__all__ = ["HISTORY_PAGE", "RunEntry", "list_runs", "newest_run", "notebook_seconds", "pointer_names", "pointers",
           "render_history", "write_history"]

#: The history page in the output folder.
HISTORY_PAGE = "index.html"


@dataclass(frozen=True)
class RunEntry:
    """One run folder and its ``run.json`` record (as written by :func:`segwork.report.run_report`)."""

    path: Path
    record: dict

    @property
    def status(self) -> str:
        """``ok``, ``failed`` or ``running`` (a run that is running, or was killed before it could say so)."""
        return str(self.record.get("status") or "unknown")

    @property
    def created(self) -> str:
        return str(self.record.get("created") or "")


def list_runs(output_dir: str | Path) -> list[RunEntry]:
    """Every run folder of ``output_dir`` with a readable ``run.json``, oldest first (by start time, then name).

    Folders without a record (or with an unreadable one) are not runs and are left out; the pointers
    (``latest``, ``latest-*``) are not followed.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    entries = []
    for folder in output_dir.iterdir():
        if folder.is_symlink() or not folder.is_dir() or not (folder / runfolder.RUN_RECORD).is_file():
            continue
        try:
            entries.append(RunEntry(folder, runfolder.read_record(folder)))
        except (OSError, ValueError):
            continue
    return sorted(entries, key=lambda e: (e.created, e.path.name))


def newest_run(output_dir: str | Path) -> Path | None:
    """The run folder started last in ``output_dir`` (whatever its status or pointers), or ``None``."""
    runs = list_runs(output_dir)
    return runs[-1].path if runs else None


def pointer_names(tag: str, *, complete: bool, at_defaults: bool, default_dataset: bool) -> list[str]:
    """The pointers a successful run moves: ``[]``, ``["latest-<tag>"]`` or ``["latest-<tag>", "latest"]``.

    ``complete``: every notebook of the folder ran (no ``--only``); ``at_defaults``: every parameter is its
    notebook default (the data set aside); ``default_dataset``: the data set is the notebooks' default.
    """
    if not (complete and at_defaults):
        return []
    names = [f"{runfolder.LATEST}-{tag}"]
    if default_dataset:
        names.append(runfolder.LATEST)
    return names


def pointers(output_dir: str | Path) -> dict[str, list[str]]:
    """Run folder name -> the pointers (``latest``, ``latest-*``) of ``output_dir`` that name it, sorted."""
    output_dir = Path(output_dir)
    found: dict[str, list[str]] = {}
    if not output_dir.is_dir():
        return found
    for entry in sorted(output_dir.iterdir()):
        if entry.name == runfolder.LATEST or entry.name.startswith(runfolder.LATEST + "-"):
            target = runfolder.resolve_latest(output_dir, entry.name)
            if target is not None:
                found.setdefault(target.name, []).append(entry.name)
    return found


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #a00; } .running { color: #a60; } .ok { color: #070; }
.pointer { font-family: monospace; background: #eef; padding: 0 0.25rem; margin-right: 0.25rem; }
"""


def _parameters_text(record: dict) -> str:
    overrides = {k: v for k, v in (record.get("overrides") or {}).items() if k != "dataset"}
    if not overrides:
        return "notebook defaults"
    return ", ".join(f"{k} = {v}" for k, v in sorted(overrides.items()))


def _notebooks_text(record: dict) -> str:
    names = [n.get("name", "") for n in record.get("notebooks") or []]
    if record.get("complete"):
        return f"all {len(names)}"
    return ", ".join(n[:2] for n in names) or "none"


def _row(entry: RunEntry, named_by: list[str]) -> str:
    r, e = entry.record, html.escape
    name = entry.path.name
    status = entry.status
    if status == "ok" and (entry.path / "index.html").is_file():
        link = f'<a href="{e(name)}/index.html">{e(name)}</a>'
    elif (entry.path / runfolder.FAILED_MARKER).is_file():
        link = f'{e(name)} (<a href="{e(name)}/{runfolder.FAILED_MARKER}">why it failed</a>)'
    else:
        link = e(name)
    if status == "running":
        status_text = "running (or stopped before it finished)"
    else:
        status_text = status
    error = r.get("error")
    if status == "failed" and error:
        status_text += f": {error}"
    seconds = r.get("seconds")
    took = f"{float(seconds):,.0f} s" if isinstance(seconds, (int, float)) else "\u2013"
    marks = "".join(f'<span class="pointer">{e(p)}</span>' for p in named_by)
    return (f'<tr><td>{link}</td><td class="{e(status)}">{e(status_text)}</td>'
            f'<td>{e(str(r.get("dataset_label") or r.get("dataset") or ""))}</td>'
            f"<td>{e(_parameters_text(r))}</td><td>{e(_notebooks_text(r))}</td>"
            f"<td>{e(entry.created.replace('T', ' '))}</td><td class=\"num\">{took}</td><td>{marks}</td></tr>")


def render_history(output_dir: str | Path) -> str:
    """The HTML of the history page of ``output_dir`` (every run, newest first)."""
    output_dir = Path(output_dir)
    named = pointers(output_dir)
    runs = list(reversed(list_runs(output_dir)))
    rows = "\n".join(_row(entry, named.get(entry.path.name, [])) for entry in runs)
    if not rows:
        rows = '<tr><td colspan="8">no runs yet: <code>segwork report</code> writes one</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>segwork report runs</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>segwork report runs</h1>
<p>Every run of <code>segwork report</code> in this folder, newest first. <span class="pointer">latest</span> names
the last full report (every notebook, every parameter at its default) on the default data set;
<span class="pointer">latest-&lt;data set&gt;</span> the last full report on that data set. Quick looks
(<code>--only</code>, other parameters) and failed runs are listed here and move no pointer.</p>
<div class="scroll"><table>
<thead><tr><th>Run</th><th>Status</th><th>Data set</th><th>Parameters</th><th>Notebooks</th><th>Started</th>
<th>Wall time</th><th>Pointers</th></tr></thead>
<tbody>
{rows}
</tbody></table></div>
</body></html>
"""


def write_history(output_dir: str | Path) -> Path:
    """Write ``<output_dir>/index.html`` (every run, newest first) atomically; returns its path."""
    return atomic_write_text(Path(output_dir) / HISTORY_PAGE, render_history(output_dir))


def notebook_seconds(output_dir: str | Path) -> dict[str, float]:
    """Notebook name -> its wall time in the newest run of ``output_dir`` that ran it successfully.

    What the runner schedules by (longest first); a notebook never run here is missing.
    """
    seconds: dict[str, float] = {}
    for entry in list_runs(output_dir):  # oldest first: later runs overwrite
        for nb in entry.record.get("notebooks") or []:
            if nb.get("status") == "ok" and isinstance(nb.get("seconds"), (int, float)):
                seconds[nb["name"]] = float(nb["seconds"])
    return seconds

