"""Execute one notebook with papermill and describe the outcome in plain data.

:func:`run_notebook` is what a report worker does for one notebook: execute it
into the run folder, render its HTML, and return a small JSON-able record
(status, times, and on failure one message naming the notebook, the cell and
the error). It never raises for a failing notebook, so it can run in another
process and report back.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["IPCKernelManager", "run_notebook", "failure_message", "source_cell_index"]


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager that talks to the kernel over local IPC sockets instead of TCP ports.

    The kernel is reachable only by this user on this machine, kernels side
    by side cannot race for ports, and ipykernel does not warn about
    plain-text TCP. When ``kernel_log`` (a class attribute; see
    :func:`_manager_logging_to`) is set, the kernel process's own output
    (start-up and shutdown chatter, crash messages; not the notebook's
    outputs) goes to that file instead of the terminal.
    """

    kernel_log: str | None = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.kernel_log:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        with open(self.kernel_log, "ab") as log:  # the kernel keeps its own copy of the handle
            kw["stdout"] = kw["stderr"] = log
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    @default("transport")
    def _default_transport(self):
        return "tcp" if os.name == "nt" else "ipc"  # Windows has no IPC sockets

    @default("ip")
    def _default_ip(self):
        if self.transport != "ipc":
            return "127.0.0.1"
        # One socket path prefix per kernel, outside the notebooks folder (the default is ./kernel-ipc,
        # shared by kernels running side by side).
        from jupyter_core.paths import jupyter_runtime_dir

        folder = Path(jupyter_runtime_dir())
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"segwork-{uuid.uuid4().hex[:12]}-ipc")


def _manager_logging_to(path: Path) -> type[IPCKernelManager]:
    """An :class:`IPCKernelManager` subclass whose kernels write their own output to ``path``."""
    return type("IPCKernelManager", (IPCKernelManager,), {"kernel_log": str(path)})


def source_cell_index(source_nb: dict, executed_index: int) -> int:
    """Map a cell index of papermill's parameterised notebook back to the source notebook (0-based).

    Papermill inserts an ``injected-parameters`` cell right after the cell
    tagged ``parameters`` (or at the top when there is none).
    """
    cells = source_nb.get("cells", [])
    injected_at = 0
    for i, cell in enumerate(cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            injected_at = i + 1
            break
    return executed_index - 1 if executed_index > injected_at else executed_index


def _first_line(source: Any) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 80 else line[:77] + "..."
    return ""


def failure_message(name: str, exc: BaseException, source_nb: dict | None = None) -> tuple[str, int | None]:
    """One line naming the notebook, the failing cell and the error; plus the 1-based cell number (or None)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        number = source_cell_index(source_nb or {}, exc.cell_index) + 1
        evalue = " ".join(str(exc.evalue).split())
        if len(evalue) > 300:
            evalue = evalue[:297] + "..."
        count = f"In [{exc.exec_count}]: " if exc.exec_count is not None else ""
        return (f"notebook {name}.ipynb failed in cell {number} ({count}{_first_line(exc.source)}): "
                f"{exc.ename}: {evalue}", number)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"notebook {name}.ipynb could not be executed: {type(exc).__name__}: {text}", None


def _cell_seconds(nb) -> float:
    total = 0.0
    for cell in nb.get("cells", []):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if isinstance(duration, (int, float)):
            total += float(duration)
    return total


def run_notebook(task: dict) -> dict:
    """Execute and render one notebook; return its record.

    ``task`` keys: ``name`` (stem), ``source`` (path), ``run_dir``,
    ``parameters`` (dict, ``output_dir`` included), ``cwd``, ``kernel_name``,
    ``progress`` (bool or a dict of tqdm options), ``log_output`` (bool),
    ``title`` (for the HTML page).

    The record holds ``name``, ``status`` (``"ok"`` or ``"failed"``),
    ``seconds`` (wall time: execution + rendering), ``execute_seconds``,
    ``cells_seconds`` (sum of cell run times), ``overhead_seconds`` (kernel
    start and stop: execution minus cells), ``render_seconds``, ``notebook``
    and ``html`` (file names in the run folder), ``figures``, ``warnings``
    (stderr outputs hidden from the HTML) and, on failure, ``error`` and
    ``cell``.
    """
    import papermill

    from .render import extract_figures, render_html

    name = task["name"]
    run_dir = Path(task["run_dir"])
    source = Path(task["source"])
    out_nb = run_dir / f"{name}.ipynb"
    record: dict[str, Any] = {"name": name, "notebook": out_nb.name, "status": "failed"}
    source_nb = json.loads(source.read_text(encoding="utf-8"))
    artefacts = Path(task["parameters"]["output_dir"])
    artefacts.mkdir(parents=True, exist_ok=True)
    kernel_log = artefacts / "kernel.log"
    started = time.perf_counter()
    try:
        nb = papermill.execute_notebook(
            str(source), str(out_nb), parameters=task["parameters"], kernel_name=task.get("kernel_name", "python3"),
            cwd=str(task["cwd"]), progress_bar=task.get("progress", False), log_output=task.get("log_output", False),
            kernel_manager_class=_manager_logging_to(kernel_log),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none escapes a worker
        record["execute_seconds"] = round(time.perf_counter() - started, 3)
        record["seconds"] = record["execute_seconds"]
        record["error"], record["cell"] = failure_message(name, exc, source_nb)
        if kernel_log.is_file() and kernel_log.stat().st_size:
            record["kernel_log"] = str(kernel_log.relative_to(run_dir))
        return record
    if kernel_log.is_file() and not kernel_log.read_text(errors="replace").strip(" \n"):
        kernel_log.unlink()
    executed = time.perf_counter()
    record["execute_seconds"] = round(executed - started, 3)
    cells = _cell_seconds(nb)
    record["cells_seconds"] = round(cells, 3)
    record["overhead_seconds"] = round(max(0.0, record["execute_seconds"] - cells), 3)
    try:
        html = run_dir / f"{name}.html"
        info = render_html(nb, html, title=task.get("title", name), index_href="index.html",
                           run_name=run_dir.name)
        record["figures"] = extract_figures(nb, Path(task["parameters"]["output_dir"]) / "figures")
    except Exception as exc:  # noqa: BLE001
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["error"] = f"notebook {name}.ipynb ran but its HTML could not be rendered: {type(exc).__name__}: {exc}"
        record["cell"] = None
        return record
    record["html"] = html.name
    record["warnings"] = info["hidden_stderr"]
    record["render_seconds"] = round(time.perf_counter() - executed, 3)
    record["seconds"] = round(time.perf_counter() - started, 3)
    record["status"] = "ok"
    return record
