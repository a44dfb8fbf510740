"""Execute one notebook with papermill and describe the outcome.

:func:`run_notebook` is what a report worker does for one notebook: execute
the :class:`NotebookTask` into the run folder, render its HTML, and return a
:class:`NotebookResult` (status, times, and on failure one message naming the
notebook, the cell and the error, with those parts as fields). It never
raises for a failing notebook, so it can run in another process and report
back; both classes are plain picklable data.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["IPCKernelManager", "NotebookTask", "NotebookResult", "Failure", "run_notebook", "failure_message",
           "source_cell_index"]


@dataclass(frozen=True)
class NotebookTask:
    """What a worker needs to execute one notebook of a run.

    Attributes
    ----------
    index: the notebook's 0-based position in the run.
    name: its stem (``"05_clv_models"``).
    source: the source ``.ipynb``.
    run_dir: the run folder; the executed notebook and its HTML go there.
    parameters: the values papermill injects, ``output_dir`` included.
    cwd: the working directory of the kernel.
    kernel_name: the Jupyter kernel.
    title: the heading of the HTML page.
    progress: ``False``, or tqdm options for papermill's per-cell progress bar.
    log_output: echo the cells' output to the terminal.
    """

    index: int
    name: str
    source: Path
    run_dir: Path
    parameters: Mapping[str, Any]
    cwd: Path
    kernel_name: str = "python3"
    title: str = ""
    progress: bool | Mapping[str, Any] = False
    log_output: bool = False

    @property
    def output_dir(self) -> Path:
        """The notebook's artefact folder (its ``output_dir`` parameter)."""
        return Path(self.parameters["output_dir"])


@dataclass(frozen=True)
class Failure:
    """Why a notebook failed: the one-line message and its parts (``None`` where they do not apply)."""

    message: str
    cell: int | None = None
    ename: str | None = None
    evalue: str | None = None


@dataclass
class NotebookResult:
    """The outcome of :func:`run_notebook`; :meth:`to_record` is its entry in ``run.json``.

    Times are wall-clock seconds: ``seconds`` (execution + rendering),
    ``execute_seconds``, ``cells_seconds`` (sum of cell run times),
    ``overhead_seconds`` (kernel start and stop: execution minus cells),
    ``render_seconds``. ``notebook`` and ``html`` are file names in the run
    folder; ``warnings`` counts stderr outputs hidden from the page.
    """

    name: str
    status: str = "failed"
    notebook: str | None = None
    seconds: float = 0.0
    execute_seconds: float | None = None
    cells_seconds: float | None = None
    overhead_seconds: float | None = None
    render_seconds: float | None = None
    html: str | None = None
    figures: list = field(default_factory=list)
    warnings: int = 0
    kernel_log: str | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def error(self) -> str | None:
        """The one-line failure message, or ``None``."""
        return None if self.failure is None else self.failure.message

    def to_record(self) -> dict:
        """The JSON-able fields for ``run.json`` (unset ones left out; the failure flattened)."""
        record = {k: v for k, v in asdict(self).items() if k != "failure" and v is not None}
        if not self.ok:
            record.pop("figures", None)
            record.pop("warnings", None)
        if self.failure is not None:
            record.update(error=self.failure.message, cell=self.failure.cell, ename=self.failure.ename,
                          evalue=self.failure.evalue)
        return record


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
    failure = describe_failure(name, exc, source_nb)
    return failure.message, failure.cell


def describe_failure(name: str, exc: BaseException, source_nb: dict | None = None) -> Failure:
    """The :class:`Failure` of notebook ``name`` that raised ``exc`` (papermill's error, or any other)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        number = source_cell_index(source_nb or {}, exc.cell_index) + 1
        evalue = " ".join(str(exc.evalue).split())
        shown = evalue if len(evalue) <= 300 else evalue[:297] + "..."
        count = f"In [{exc.exec_count}]: " if exc.exec_count is not None else ""
        return Failure(f"notebook {name}.ipynb failed in cell {number} ({count}{_first_line(exc.source)}): "
                       f"{exc.ename}: {shown}", number, exc.ename, evalue)
    text = " ".join(str(exc).split()) or type(exc).__name__
    shown = text if len(text) <= 300 else text[:297] + "..."
    return Failure(f"notebook {name}.ipynb could not be executed: {type(exc).__name__}: {shown}", None,
                   type(exc).__name__, text)


def _cell_seconds(nb) -> float:
    total = 0.0
    for cell in nb.get("cells", []):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if isinstance(duration, (int, float)):
            total += float(duration)
    return total


def run_notebook(task: NotebookTask) -> NotebookResult:
    """Execute and render one notebook; return its :class:`NotebookResult` (never raises for a failing notebook)."""
    import papermill

    from .render import extract_figures, render_html

    name = task.name
    run_dir = Path(task.run_dir)
    out_nb = run_dir / f"{name}.ipynb"
    result = NotebookResult(name=name, notebook=out_nb.name)
    source_nb = json.loads(Path(task.source).read_text(encoding="utf-8"))
    artefacts = task.output_dir
    artefacts.mkdir(parents=True, exist_ok=True)
    kernel_log = artefacts / "kernel.log"
    started = time.perf_counter()
    try:
        nb = papermill.execute_notebook(
            str(task.source), str(out_nb), parameters=dict(task.parameters), kernel_name=task.kernel_name,
            cwd=str(task.cwd), progress_bar=dict(task.progress) if isinstance(task.progress, Mapping)
            else task.progress, log_output=task.log_output, kernel_manager_class=_manager_logging_to(kernel_log),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none escapes a worker
        result.execute_seconds = round(time.perf_counter() - started, 3)
        result.seconds = result.execute_seconds
        result.failure = describe_failure(name, exc, source_nb)
        if kernel_log.is_file() and kernel_log.stat().st_size:
            result.kernel_log = str(kernel_log.relative_to(run_dir))
        return result
    if kernel_log.is_file() and not kernel_log.read_text(errors="replace").strip(" \n"):
        kernel_log.unlink()
    executed = time.perf_counter()
    result.execute_seconds = round(executed - started, 3)
    cells = _cell_seconds(nb)
    result.cells_seconds = round(cells, 3)
    result.overhead_seconds = round(max(0.0, result.execute_seconds - cells), 3)
    try:
        html = run_dir / f"{name}.html"
        info = render_html(nb, html, title=task.title or name, index_href="index.html", run_name=run_dir.name)
        result.figures = extract_figures(nb, artefacts / "figures")
    except Exception as exc:  # noqa: BLE001
        result.seconds = round(time.perf_counter() - started, 3)
        result.failure = Failure(f"notebook {name}.ipynb ran but its HTML could not be rendered: "
                                 f"{type(exc).__name__}: {exc}", None, type(exc).__name__, str(exc))
        return result
    result.html = html.name
    result.warnings = info["hidden_stderr"]
    result.render_seconds = round(time.perf_counter() - executed, 3)
    result.seconds = round(time.perf_counter() - started, 3)
    result.status = "ok"
    return result
