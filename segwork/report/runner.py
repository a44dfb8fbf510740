"""``segwork report``: run the notebook suite into a new run folder and write its index.

The steps, each in its own module:

1. :mod:`.discover` finds ``notebooks/NN_*.ipynb`` and applies ``--only``;
2. :mod:`.parameters` checks every user value against the notebooks'
   ``parameters`` cells (before anything runs);
3. :mod:`.runfolder` creates ``<output>/<run-id>/``;
4. :mod:`.execute` runs each notebook with papermill (one after the other, or
   ``jobs`` at a time in worker processes) and :mod:`.render` writes its HTML;
5. :mod:`.index` writes ``index.html``; :mod:`.runfolder` points
   ``<output>/latest`` at the run.

A failing notebook stops the run: the partial run folder is marked failed
and renamed, ``latest`` keeps pointing at the last good run, and
:class:`~segwork.errors.ReportError` carries one message naming the notebook,
the cell and the error.
"""
from __future__ import annotations

import datetime as _dt
import multiprocessing
import platform
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ReportError
from . import discover, parameters as params_mod, runfolder
from .execute import run_notebook
from .index import write_index

__all__ = ["RunResult", "run_report", "plan_report"]


@dataclass
class RunResult:
    """A finished run: its folder, its record (``run.json``) and the ``latest`` pointer."""

    run_dir: Path
    record: dict
    latest: Path | None = None

    @property
    def index(self) -> Path:
        return self.run_dir / "index.html"


@dataclass
class _Plan:
    notebooks: list[Path]
    declared: dict[str, dict[str, params_mod.NotebookParameter]]
    per_notebook: dict[str, dict[str, Any]]
    overrides: dict[str, tuple[Any, str | None, str]]
    effective: dict[str, Any]
    notebooks_dir: Path


def _collect_overrides(dataset, parameters, params_file) -> dict[str, tuple[Any, str | None, str]]:
    """name -> (value, raw text or None, origin); later sources win: -f, then -p, then --dataset."""
    overrides: dict[str, tuple[Any, str | None, str]] = {}
    if params_file:
        for name, value in params_mod.load_params_file(params_file).items():
            overrides[name] = (value, None, f"-f {Path(params_file).name}:")
    if isinstance(parameters, Mapping):
        items: Iterable = parameters.items()
        typed = True
    else:
        items, typed = (parameters or []), False
    for name, value in items:
        if typed:
            overrides[name] = (value, None, "parameter")
        else:
            overrides[name] = (params_mod.parse_cli_value(str(value)), str(value), "-p")
    if dataset is not None:
        overrides["dataset"] = (str(dataset), str(dataset), "--dataset")
    return overrides


def plan_report(*, dataset: str | None = None, parameters=None, params_file=None, only=None,
                notebooks_dir=None) -> _Plan:
    """Find the notebooks and check all parameters; raises :class:`DataError` on any problem, runs nothing."""
    folder = Path(notebooks_dir).resolve() if notebooks_dir else discover.default_notebooks_dir()
    all_notebooks = discover.discover_notebooks(folder)
    selected = discover.select_notebooks(all_notebooks, only)
    declared_all = {p.stem: params_mod.inspect_parameters(p) for p in all_notebooks}
    overrides = _collect_overrides(dataset, parameters, params_file)
    per_notebook, effective = params_mod.resolve_parameters(declared_all, overrides)
    declared = {p.stem: declared_all[p.stem] for p in selected}
    return _Plan(selected, declared, {p.stem: per_notebook[p.stem] for p in selected}, overrides, effective,
                 folder)


def _parameter_table(plan: _Plan) -> list[dict]:
    """One row per parameter the run's notebooks declare: value, who set it, which notebooks use it."""
    rows = []
    names: list[str] = []
    for params in plan.declared.values():
        names += [n for n in params if n not in names and n not in params_mod.RUNNER_PARAMETERS]
    for name in names:
        users = [stem for stem, params in plan.declared.items() if name in params]
        if name in plan.overrides:
            value, source = plan.effective.get(name), plan.overrides[name][2].rstrip(":")
        else:
            defaults = {plan.declared[s][name].source for s in users}
            value = defaults.pop() if len(defaults) == 1 else "per notebook: " + ", ".join(
                f"{s[:2]}={plan.declared[s][name].source}" for s in users)
            source = "default"
        shown = ", ".join(s[:2] for s in users) if len(users) < len(plan.declared) else "all"
        rows.append({"name": name, "value": str(value), "source": source, "notebooks": shown})
    return rows


def _effective(plan: _Plan, name: str, fallback=None):
    if name in plan.effective:
        return plan.effective[name]
    for params in plan.declared.values():
        if name in params and params[name].type is not None:
            return params[name].default
    return fallback


def _dataset_label(plan: _Plan) -> tuple[str, str]:
    dataset = _effective(plan, "dataset", "synthetic")
    n, seed = _effective(plan, "n_customers"), _effective(plan, "seed")
    if dataset == "synthetic":
        extra = ", ".join(x for x in (f"{n:,} customers" if isinstance(n, int) else "",
                                      f"seed {seed}" if seed is not None else "") if x)
        return str(dataset), f"synthetic CRM data ({extra})" if extra else "synthetic CRM data"
    if dataset in ("cdnow", "cdnow_master"):
        return str(dataset), "CDNOW (master, 23,570 customers)"
    if dataset == "cdnow_sample":
        return str(dataset), "CDNOW (1/10 sample, 2,357 customers)"
    return str(dataset), Path(str(dataset)).name


def _read_dataset_file(dataset: str, read_options: Mapping[str, Any] | None):
    """Read, validate and clean a transaction file once; ``None`` for a built-in data set."""
    if dataset in (*params_mod.BUILTIN_DATASETS, "cdnow_master"):
        if read_options:
            raise DataError(f"options for reading a file ({', '.join(sorted(read_options))}) only apply to "
                            f"--dataset PATH, not to the built-in data set {dataset!r}")
        return None
    from ..io import read_transactions

    return read_transactions(dataset, **dict(read_options or {}))


def _write_prepared(run_dir: Path, transactions, report) -> Path:
    """Write the canonical transactions and their cleaning report into ``<run>/data/`` (atomically)."""
    import io
    import json

    from .._atomic import atomic_write_bytes, atomic_write_text
    from ..datasets import PREPARED_REPORT

    buffer = io.BytesIO()
    transactions.to_parquet(buffer, index=False)
    path = atomic_write_bytes(run_dir / "data" / "transactions.parquet", buffer.getvalue())
    atomic_write_text(run_dir / "data" / PREPARED_REPORT, json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def run_report(
    *,
    dataset: str | None = None,
    parameters: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None,
    params_file: str | Path | None = None,
    only: list[str] | None = None,
    output: str | Path = "reports",
    jobs: int = 1,
    notebooks_dir: str | Path | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    command: str | None = None,
    read_options: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run the notebook suite and write a new run folder under ``output``.

    Parameters
    ----------
    dataset: ``synthetic``, ``cdnow``, ``cdnow_sample`` or a transaction file
        (sets every notebook's ``dataset`` parameter). ``None``: the notebooks' default.
    parameters: ``[(name, text), ...]`` as typed after ``-p`` (parsed like YAML
        scalars), or a mapping of name -> Python value.
    params_file: a YAML file of ``name: value`` lines.
    only: notebook names, numbers or topics to run (default: all).
    output: the folder that holds run folders and the ``latest`` pointer.
    jobs: notebooks run at a time (worker processes); the index keeps notebook order.
    notebooks_dir: where the ``NN_*.ipynb`` notebooks are (default: the checkout's ``notebooks/``).
    kernel_name: the Jupyter kernel to execute with.
    progress: show a per-cell progress bar for each notebook.
    echo: where the per-notebook progress lines go (``None``: silent).
    read_options: how to read a transaction file given as ``dataset``: keyword
        arguments of :func:`segwork.io.read_transactions` (``columns``, ``sep``,
        ``rules``, ...). The file is read, validated and cleaned once, before any
        notebook runs; the notebooks get the canonical table
        (``<run>/data/transactions.parquet``) and its cleaning report.

    Returns
    -------
    :class:`RunResult` of the successful run.

    Raises
    ------
    DataError: bad parameters or notebooks folder (nothing has run).
    ReportError: a notebook failed; the message names it, the cell and the error.
    """
    say = echo or (lambda _msg: None)
    if not isinstance(jobs, int) or jobs < 1:
        raise DataError(f"--jobs {jobs}: give a whole number of notebooks to run at a time, 1 or more")
    plan = plan_report(dataset=dataset, parameters=parameters, params_file=params_file, only=only,
                       notebooks_dir=notebooks_dir)
    output = Path(output).resolve()
    dataset_value, label = _dataset_label(plan)
    prepared = _read_dataset_file(dataset_value, read_options)  # bad data stops here, before any run folder
    run_dir = runfolder.create_run_folder(output, runfolder.dataset_tag(dataset_value))
    started = time.perf_counter()
    from .. import __version__

    record: dict[str, Any] = {
        "run_id": run_dir.name, "status": "running", "created": _now(), "finished": None, "seconds": None,
        "dataset": dataset_value, "dataset_label": label, "parameters": _parameter_table(plan),
        "overrides": {k: plan.effective.get(k) for k in plan.overrides},
        "notebooks_dir": str(plan.notebooks_dir), "output": str(output), "jobs": jobs,
        "kernel": kernel_name, "command": command or "segwork report",
        "segwork_version": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "notebooks": [{"name": p.stem, "title": discover.notebook_title(p), "status": "not run",
                       "parameters": plan.per_notebook[p.stem]} for p in plan.notebooks],
        "error": None,
    }
    if prepared is not None:
        prepared_path = _write_prepared(run_dir, *prepared)
        record["cleaning"] = prepared[1].to_dict()
        for values in plan.per_notebook.values():
            if "dataset" in values:
                values["dataset"] = str(prepared_path)
        say(f"read {dataset_value}: {prepared[1].rows_kept:,} of {prepared[1].rows_read:,} rows kept, "
            f"{prepared[1].customers:,} customers -> {prepared_path}")
    runfolder.write_record(run_dir, record)
    tasks = []
    for i, path in enumerate(plan.notebooks):
        values = dict(plan.per_notebook[path.stem])
        values["output_dir"] = str(run_dir / path.stem)
        tasks.append({
            "index": i, "name": path.stem, "source": str(path), "run_dir": str(run_dir), "parameters": values,
            "cwd": str(plan.notebooks_dir), "kernel_name": kernel_name, "title": record["notebooks"][i]["title"],
            "deps": discover.notebook_dependencies(path),
            "progress": ({"desc": f"  {path.stem}", "leave": jobs == 1}
                         if progress else False),
        })
    n = len(tasks)
    say(f"segwork report: {n} notebook{'s' if n != 1 else ''} on {label} -> {run_dir}")

    def finished(result: dict) -> None:
        record["notebooks"][next(t["index"] for t in tasks if t["name"] == result["name"])].update(result)
        i = next(t["index"] for t in tasks if t["name"] == result["name"]) + 1
        if result["status"] == "ok":
            extra = f", kernel start/stop {result.get('overhead_seconds', 0):.1f} s"
            warn = f", {result['warnings']} warning(s) hidden from the page" if result.get("warnings") else ""
            say(f"[{i}/{n}] {result['name']}: ok in {result['seconds']:.1f} s{extra}{warn}")
        else:
            say(f"[{i}/{n}] {result['name']}: FAILED after {result.get('seconds', 0):.1f} s")
        runfolder.write_record(run_dir, record)

    error: str | None = None
    try:
        if jobs == 1:
            for task in tasks:
                say(f"[{task['index'] + 1}/{n}] {task['name']} ...")
                result = run_notebook(task)
                finished(result)
                if result["status"] != "ok":
                    error = result["error"]
                    break
        else:
            error = _run_parallel(tasks, jobs, finished, say)
    except KeyboardInterrupt:
        error = "interrupted by the user"
        _fail(run_dir, record, error, started, output)
        raise
    if error:
        failed_dir = _fail(run_dir, record, error, started, output)
        previous = runfolder.resolve_latest(output)
        kept = f"{output.name}/latest still points at {previous.name}" if previous else "no earlier good run"
        raise ReportError(f"{error}; the partial run is in {failed_dir} (marked failed); {kept}")

    record["status"] = "ok"
    record["finished"] = _now()
    try:
        record["seconds"] = round(time.perf_counter() - started, 3)
        write_index(record, run_dir)
        record["seconds"] = round(time.perf_counter() - started, 3)
        runfolder.write_record(run_dir, record)
        index = write_index(record, run_dir)  # again, with the final total time
        latest = runfolder.point_latest(output, run_dir)
    except Exception as exc:  # noqa: BLE001 - never leave a half-finished run looking good
        record["status"] = "running"
        error = f"the notebooks ran but the report could not be finished: {type(exc).__name__}: {exc}"
        failed_dir = _fail(run_dir, record, error, started, output)
        raise ReportError(f"{error}; the partial run is in {failed_dir} (marked failed)") from exc
    say(f"done in {record['seconds']:.1f} s: {index}")
    say(f"{latest} -> {run_dir.name}")
    return RunResult(run_dir=run_dir, record=record, latest=latest)


def _fail(run_dir: Path, record: dict, error: str, started: float, output: Path) -> Path:
    record["status"] = "failed"
    record["error"] = error
    record["finished"] = _now()
    record["seconds"] = round(time.perf_counter() - started, 3)
    runfolder.write_record(run_dir, record)
    try:
        write_index(record, run_dir)
    except Exception:  # noqa: BLE001 - the index of a failed run is a courtesy; FAILED is what counts
        pass
    return runfolder.mark_failed(run_dir, error)


def _run_parallel(tasks: list[dict], jobs: int, finished: Callable[[dict], None], say) -> str | None:
    """Run tasks ``jobs`` at a time in worker processes; a task waits for its ``deps``. Returns the first error."""
    names = {t["name"] for t in tasks}
    pending = list(tasks)
    done: set[str] = set()
    error = None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
        running: dict = {}
        while pending or running:
            if error is None:
                for task in list(pending):
                    if len(running) >= jobs:
                        break
                    if all(d in done or d not in names for d in task["deps"]):
                        say(f"[{task['index'] + 1}/{len(tasks)}] {task['name']} started")
                        running[pool.submit(run_notebook, task)] = task
                        pending.remove(task)
            else:
                pending.clear()
            if not running:
                if pending and error is None:
                    error = ("cannot order the notebooks: " + ", ".join(t["name"] for t in pending)
                             + " wait for each other (metadata.segwork.depends_on); run with --jobs 1")
                break
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in complete:
                task = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker process died
                    result = {"name": task["name"], "status": "failed", "seconds": 0.0,
                              "error": f"notebook {task['name']}.ipynb: its worker process failed "
                                       f"({type(exc).__name__}: {exc})", "cell": None}
                finished(result)
                if result["status"] == "ok":
                    done.add(task["name"])
                elif error is None:
                    error = result["error"]
    return error
