"""``segwork report``: run the notebook suite into a new run folder and write its index.

The steps, each in its own module:

1. :mod:`.discover` finds ``notebooks/NN_*.ipynb`` and applies ``--only``;
2. :mod:`.parameters` checks every user value against the notebooks'
   ``parameters`` cells (before anything runs); the result is an immutable
   :class:`ReportPlan`;
3. the data set is resolved once: a built-in one is built (the synthetic data
   with the run's ``n_customers`` and ``random_state``), a file is read, validated
   and cleaned (a bad file stops here, before any run folder exists);
   :mod:`.runfolder` creates ``<output>/<run-id>/`` and
   :func:`segwork.datasets.save_prepared` writes the data set to
   ``<run>/data/``, which every notebook loads as its ``dataset``; when a
   notebook declares ``prepared_table``, the customer table is prepared once
   (:func:`segwork.prepare.prepare`: the CLV models are fitted here, once per
   run) and saved to ``<run>/data/table/`` by
   :func:`segwork.prepare.save_prepared_table`; those notebooks get that
   folder as ``prepared_table`` and load it with
   :func:`segwork.prepare.load_or_prepare` instead of fitting again;
4. :mod:`.execute` runs each notebook with papermill (one after the other, or
   ``jobs`` at a time in worker processes, longest first by the last run's
   times) and :mod:`.render` writes its HTML;
5. :mod:`.index` writes ``index.html``; a full report (every notebook, the
   parameters at their defaults) moves ``<output>/latest-<data set>`` and, on
   the default data set, ``<output>/latest`` (:mod:`.runfolder`); every run,
   quick looks and failures included, is listed in ``<output>/index.html``
   (:mod:`.history`).

A failing notebook stops the run: the partial run folder is marked failed
and renamed, ``latest`` keeps pointing at the last good run, and
:class:`~segwork.errors.ReportError` carries one message naming the notebook,
the cell and the error.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..datasets import DATASETS, BuiltinDataset, Dataset, load_dataset, save_prepared
from ..io import note_line, shown_path
from ..errors import DataError, ReportError
from ..clv.margin import DEFAULT_MARGIN, value_label
from ..prepare import Prepared, prepare, save_prepared_table
from . import discover, history, parameters as params_mod, runfolder, schedule
from .execute import NotebookResult, NotebookTask, run_notebook
from .index import write_index
from .parameters import check_jobs

__all__ = ["RunResult", "ReportPlan", "DataSource", "Override", "run_report", "plan_report"]


@dataclass
class RunResult:
    """A finished run: its folder, its record (``run.json``) and the last pointer it moved (``None``: a quick look)."""

    run_dir: Path
    record: dict
    latest: Path | None = None

    @property
    def index(self) -> Path:
        return self.run_dir / "index.html"


@dataclass(frozen=True)
class Override:
    """A value the user set: the checked value, the text typed after ``-p`` (or None) and where it came from."""

    value: Any
    raw: str | None
    origin: str


@dataclass(frozen=True)
class DataSource:
    """The data set a notebook runs on, as the runner resolves it once for the run.

    ``dataset`` is a name of :data:`segwork.datasets.DATASETS` or an absolute
    file path; ``values`` are the built-in's parameters (for the synthetic
    data, ``n_customers`` and ``random_state``) as ``(name, value)`` pairs.
    """

    dataset: str
    values: tuple[tuple[str, Any], ...] = ()

    @property
    def builtin(self) -> BuiltinDataset | None:
        return DATASETS.get(self.dataset)

    @property
    def label(self) -> str:
        """A one-line description: ``synthetic CRM data (3,000 customers, random_state 4)``, a file's name."""
        entry = self.builtin
        return entry.describe(**dict(self.values)) if entry else Path(self.dataset).name

    @property
    def shown(self) -> str:
        """The data set as pages show it: a built-in's name, a file's path relative to the working folder (its
        name when outside it), never a local absolute path (:func:`segwork.io.shown_path`)."""
        return self.dataset if self.builtin is not None else shown_path(self.dataset)

    def load(self, read_options: Mapping[str, Any] | None = None) -> Dataset:
        """Build or read the data set (a file: read, validated and cleaned with ``read_options``)."""
        if self.builtin is not None:
            if read_options:
                raise DataError(f"options for reading a file ({', '.join(sorted(read_options))}) only apply "
                                f"to --dataset PATH, not to the built-in data set {self.dataset!r}")
            return load_dataset(self.dataset, **dict(self.values))
        data = load_dataset(self.dataset, **dict(read_options or {}))
        if data.cleaning_report is not None:  # page 01 says where the rows came from: not a local absolute path
            data.cleaning_report.source = self.shown
        return data


@dataclass(frozen=True)
class ReportPlan:
    """What a run will do, checked before anything runs; immutable once made.

    Attributes
    ----------
    notebooks: the selected notebooks, in order.
    declared: notebook stem -> its declared parameters.
    per_notebook: notebook stem -> the user's values it takes (without ``output_dir``).
    overrides: name -> the :class:`Override` the user gave.
    effective: name -> the checked value of every override.
    notebooks_dir: the notebooks folder.
    sources: notebook stem -> the :class:`DataSource` it runs on (notebooks with a ``dataset`` parameter).
    uses: notebook stem -> the names its code reads outside its parameters cell
        (see :func:`.discover.names_used`).
    index: what the index page shows, as the notebooks of the folder declare it
        (see :func:`.discover.index_layout`); read-only, :meth:`index_dict` gives a plain copy.
    """

    notebooks: tuple[Path, ...]
    declared: Mapping[str, Mapping[str, params_mod.NotebookParameter]]
    per_notebook: Mapping[str, Mapping[str, Any]]
    overrides: Mapping[str, Override]
    effective: Mapping[str, Any]
    notebooks_dir: Path
    sources: Mapping[str, DataSource]
    uses: Mapping[str, frozenset[str]]
    index: Mapping[str, Any]

    def index_dict(self) -> dict:
        """:attr:`index` as plain JSON-able dicts and lists (for ``run.json``)."""
        return _thaw(self.index)

    @property
    def dataset(self) -> DataSource | None:
        """The data set of the run (that of its first notebook with one), or ``None``."""
        return next(iter(self.sources.values()), None)


def _freeze(value):
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _collect_overrides(dataset, parameters, params_file) -> dict[str, Override]:
    """name -> Override; later sources win: -f, then -p, then --dataset."""
    overrides: dict[str, Override] = {}
    if params_file:
        for name, value in params_mod.load_params_file(params_file).items():
            overrides[name] = Override(value, None, f"-f {Path(params_file).name}:")
    if isinstance(parameters, Mapping):
        for name, value in parameters.items():
            overrides[name] = Override(value, None, "parameter")
    else:
        for name, value in parameters or []:
            overrides[name] = Override(params_mod.parse_cli_value(str(value)), str(value), "-p")
    if dataset is not None:
        overrides["dataset"] = Override(str(dataset), str(dataset), "--dataset")
    return params_mod.renamed_overrides(overrides, lambda given: given.origin)


def _value(declared: Mapping[str, params_mod.NotebookParameter], given: Mapping[str, Any], name: str):
    """The value a notebook runs with: the user's, else its declared default (None if not a literal)."""
    if name in given:
        return given[name]
    param = declared.get(name)
    return param.default if param is not None and param.type is not None else None


def _source(declared, given) -> DataSource | None:
    """The data set a notebook runs on, or None when it has no ``dataset`` or it is neither a name nor a given file."""
    if "dataset" not in declared:
        return None
    dataset = _value(declared, given, "dataset")
    entry = DATASETS.get(dataset) if isinstance(dataset, str) else None
    if entry is not None:
        values = tuple((n, v) for n in entry.parameters if (v := _value(declared, given, n)) is not None)
        return DataSource(dataset, values)
    if "dataset" in given:  # a file the user gave; resolve_parameters made it absolute and checked it exists
        return DataSource(str(dataset))
    return None


def plan_report(*, dataset: str | None = None, parameters=None, params_file=None, only=None,
                notebooks_dir=None) -> ReportPlan:
    """Find the notebooks and check all parameters; raises :class:`DataError` on any problem, runs nothing."""
    folder = Path(notebooks_dir).resolve() if notebooks_dir else discover.default_notebooks_dir()
    all_notebooks = discover.discover_notebooks(folder)
    selected = discover.select_notebooks(all_notebooks, only)
    declared_all = {p.stem: params_mod.inspect_parameters(p) for p in all_notebooks}
    overrides = _collect_overrides(dataset, parameters, params_file)
    per_notebook, effective = params_mod.resolve_parameters(
        declared_all, {k: (o.value, o.raw, o.origin) for k, o in overrides.items()})
    stems = [p.stem for p in selected]
    sources = {s: src for s in stems if (src := _source(declared_all[s], per_notebook[s])) is not None}
    frozen = lambda mapping: MappingProxyType(dict(mapping))  # noqa: E731
    return ReportPlan(
        notebooks=tuple(selected),
        declared=frozen({s: frozen(declared_all[s]) for s in stems}),
        per_notebook=frozen({s: frozen(per_notebook[s]) for s in stems}),
        overrides=frozen(overrides), effective=frozen(effective), notebooks_dir=folder,
        sources=frozen(sources), uses=frozen({p.stem: discover.names_used(p) for p in selected}),
        index=_freeze(discover.index_layout(all_notebooks)),
    )


def _applies(plan: ReportPlan, stem: str, name: str) -> bool:
    """Whether parameter ``name`` of notebook ``stem`` matters in this run.

    A parameter of a built-in data set (``n_customers``, ``random_state``) applies
    when the notebook's data set takes it, or when the notebook's code uses
    it for something else too (``random_state`` of a clustering step; under the
    old name ``seed`` when the notebook still declares that).
    """
    data_parameters = {n for entry in DATASETS.values() for n in entry.parameters}
    if name not in data_parameters:
        return True
    source = plan.sources.get(stem)
    takes = source is not None and source.builtin is not None and name in source.builtin.parameters
    param = plan.declared.get(stem, {}).get(name)
    used = plan.uses.get(stem, frozenset())
    return takes or name in used or (param is not None and bool(param.declared_as) and param.declared_as in used)


def _parameter_table(plan: ReportPlan) -> list[dict]:
    """One row per parameter that applies in this run: value, who set it, which notebooks use it."""
    rows = []
    names: list[str] = []
    for params in plan.declared.values():
        names += [n for n in params if n not in names and n not in params_mod.RUNNER_PARAMETERS]
    for name in names:
        users = [stem for stem, params in plan.declared.items() if name in params and _applies(plan, stem, name)]
        if not users:
            continue
        if name in plan.overrides:
            value, source = plan.effective.get(name), plan.overrides[name].origin.rstrip(":")
            if name == "dataset" and plan.dataset is not None:  # a file: as pages show it, run.json keeps it whole
                value = plan.dataset.shown
        else:
            defaults = {plan.declared[s][name].source for s in users}
            value = defaults.pop() if len(defaults) == 1 else "per notebook: " + ", ".join(
                f"{s[:2]}={plan.declared[s][name].source}" for s in users)
            if value == "None":  # the notebook derives the value itself (e.g. calibration_end); its page says which
                value = "None (derived in the notebook; its page shows the value used)"
            source = "default"
        shown = ", ".join(s[:2] for s in users) if len(users) < len(plan.declared) else "all"
        rows.append({"name": name, "value": str(value), "source": source, "notebooks": shown})
    return rows


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _data_folders(sources: Iterable[DataSource], run_dir: Path) -> dict[DataSource, Path]:
    """``<run>/data`` for the run's data set; ``<run>/data/1``, ``/2`` ... when notebooks run on different ones."""
    distinct = list(dict.fromkeys(sources))
    if len(distinct) == 1:
        return {distinct[0]: run_dir / "data"}
    return {src: run_dir / "data" / str(i) for i, src in enumerate(distinct, 1)}


#: The folder, inside a run's data folder, of the customer table prepared once for the run.
PREPARED_TABLE_FOLDER = "table"


def _sources_wanting_a_table(plan: ReportPlan) -> list[DataSource]:
    """The data sets of the notebooks that declare ``prepared_table`` (each once, in notebook order)."""
    return list(dict.fromkeys(plan.sources[stem] for stem in plan.sources
                              if "prepared_table" in plan.declared[stem]))


def run_margin(plan: ReportPlan) -> float:
    """The run's one margin (profit share of revenue): the ``margin`` the user gave (``-p margin 0.4``), else
    :data:`segwork.clv.margin.DEFAULT_MARGIN`, the default of every notebook's ``margin`` parameter."""
    return float(plan.effective.get("margin", DEFAULT_MARGIN))


def _prepare_table(data: Dataset, margin: float = DEFAULT_MARGIN) -> Prepared:
    """The run's customer table with the CLV models fitted once, its ``clv`` at the run's ``margin`` (other
    horizons or rates are computed from the same fitted models). What the fit said is in ``notes``, not on the
    console."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare(data, margin=margin)


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
    plan: ReportPlan | None = None,
    scheduler: str | None = None,
) -> RunResult:
    """Run the notebook suite and write a new run folder under ``output``.

    Parameters
    ----------
    dataset: a name of :data:`segwork.datasets.DATASETS` (``synthetic``,
        ``cdnow``, ``cdnow_sample``) or a transaction file (sets every
        notebook's ``dataset`` parameter). ``None``: the notebooks' default.
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
        ``rules``, ...).
    plan: a plan made by :func:`plan_report` (then ``dataset``, ``parameters``,
        ``params_file``, ``only`` and ``notebooks_dir`` are not used).
    scheduler: address of a running Dask scheduler (``tcp://host:8786``),
        checked before anything runs. The notebook kernels get it as
        ``DASK_SCHEDULER_ADDRESS`` (dask's ``scheduler-address`` setting, which
        ``distributed.Client()`` and the ``engine="dask"`` steps connect to) and
        as the ``scheduler`` parameter of the notebooks that declare one.

    The data set is resolved once, before any notebook runs: built (synthetic
    data, with the run's ``n_customers`` and ``random_state``) or read, validated and
    cleaned (a file), and saved with :func:`segwork.datasets.save_prepared`
    into ``<run>/data/``; each notebook's ``dataset`` is that folder, which
    :func:`segwork.datasets.load_dataset` loads without cleaning again.

    Returns
    -------
    :class:`RunResult` of the successful run.

    Raises
    ------
    DataError: bad parameters, data or notebooks folder (nothing has run, no run folder exists).
    ValueError: ``jobs`` is not a whole number of at least 1.
    ReportError: a notebook failed; the message names it, the cell and the error (also as fields).
    """
    say = echo or (lambda _msg: None)
    check_jobs(jobs)
    if plan is None:
        plan = plan_report(dataset=dataset, parameters=parameters, params_file=params_file, only=only,
                           notebooks_dir=notebooks_dir)
    output = Path(output).resolve()
    main = plan.dataset
    started = time.perf_counter()
    if read_options and main is None:
        raise DataError(f"options for reading a file ({', '.join(sorted(read_options))}) only apply to "
                        "--dataset PATH, and no notebook of this run takes a data set")
    if scheduler:
        check_scheduler(scheduler)
    # Bad data stops here, before any run folder exists.
    loaded = {src: src.load(read_options) for src in dict.fromkeys(plan.sources.values())}
    tables = {src: _prepare_table(loaded[src], run_margin(plan)) for src in _sources_wanting_a_table(plan)}
    run_dir = runfolder.create_run_folder(output, runfolder.dataset_tag(main.dataset if main else None))
    folders = _data_folders(loaded, run_dir)
    for src, data in loaded.items():
        save_prepared(data, folders[src])
    for src, prepared in tables.items():
        save_prepared_table(prepared, folders[src] / PREPARED_TABLE_FOLDER, data=loaded[src])
        for note in prepared.notes:
            say(note_line(f"preparing the customer table of {src.label}: {note}"))
        if not prepared.record.plain:  # a model at a limit or a fallback: what the numbers rest on
            for line in prepared.record.lines():
                say(f"CLV step of {src.label}: {line}")
    prepare_seconds = round(time.perf_counter() - started, 3)
    from .. import __version__

    record: dict[str, Any] = {
        "run_id": run_dir.name, "status": "running", "created": _now(), "finished": None, "seconds": None,
        "dataset": main.dataset if main else None, "dataset_label": main.label if main else "(no data set)",
        "dataset_shown": main.shown if main else None,
        "parameters": _parameter_table(plan),
        "overrides": {k: plan.effective.get(k) for k in plan.overrides},
        "notebooks_dir": str(plan.notebooks_dir), "output": str(output), "jobs": jobs,
        "kernel": kernel_name, "command": command or "segwork report",
        "segwork_version": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "index": plan.index_dict(),
        "prepared_data": {str(folders[src].relative_to(run_dir)): src.label for src in loaded},
        "prepared_tables": {str((folders[src] / PREPARED_TABLE_FOLDER).relative_to(run_dir)):
                            {"data": src.label, "clv_models": prepared.clv.p_alive_model if prepared.clv else None,
                             "margin": run_margin(plan), "value": value_label(run_margin(plan)),
                             "notes": list(prepared.notes), "clv_record": prepared.record.to_dict()}
                            for src, prepared in tables.items()},
        "prepare_seconds": prepare_seconds,
        "notebooks": [{"name": p.stem, "title": discover.notebook_title(p), "status": "not run",
                       "parameters": dict(plan.per_notebook[p.stem])} for p in plan.notebooks],
        "error": None,
        **_scope(plan),
    }
    if scheduler:
        record["scheduler"] = scheduler
    if main is not None and loaded[main].cleaning_report is not None:
        report = loaded[main].cleaning_report
        record["cleaning"] = report.to_dict()
        say(f"read {main.shown}: {report.rows_kept:,} of {report.rows_read:,} rows kept, "
            f"{report.customers:,} customers -> {folders[main]}")
    runfolder.write_record(run_dir, record)
    _write_history(output)
    tasks = []
    for i, path in enumerate(plan.notebooks):
        values = params_mod.injected_names(plan.declared[path.stem], dict(plan.per_notebook[path.stem]))
        if path.stem in plan.sources:
            values["dataset"] = str(folders[plan.sources[path.stem]])
        values["output_dir"] = str(run_dir / path.stem)
        if "prepared_table" in plan.declared[path.stem] and plan.sources.get(path.stem) in tables:
            values["prepared_table"] = str(folders[plan.sources[path.stem]] / PREPARED_TABLE_FOLDER)
        if scheduler and "scheduler" in plan.declared[path.stem]:
            values["scheduler"] = scheduler
        tasks.append(NotebookTask(
            index=i, name=path.stem, source=path, run_dir=run_dir, parameters=values, cwd=plan.notebooks_dir,
            kernel_name=kernel_name, title=record["notebooks"][i]["title"],
            progress={"desc": f"  {path.stem}", "leave": jobs == 1} if progress else False,
        ))
    n = len(tasks)
    label = record["dataset_label"]
    say(f"segwork report: {n} notebook{'s' if n != 1 else ''} on {label} -> {run_dir}")
    shown = {row["name"] for row in record["parameters"]}
    for name in plan.overrides:
        if name not in shown and name not in params_mod.RUNNER_PARAMETERS:
            say(note_line(f"{name} does not apply to this run ({label}; notebooks "
                          f"{', '.join(p.stem[:2] for p in plan.notebooks)}): ignored"))

    done = []

    def finished(task: NotebookTask, result: NotebookResult) -> None:
        record["notebooks"][task.index].update(result.to_record())
        done.append(task.name)
        # one at a time: [i/n] is the notebook's place, the order they run in; with --jobs they start longest
        # first and end in any order, so the lines count what has ended instead
        head = f"[{task.index + 1}/{n}] {result.name}" if jobs == 1 else result.name
        tail = "" if jobs == 1 else f" ({len(done)} of {n} done)"
        if result.ok:
            extra = f", kernel start/stop {result.overhead_seconds or 0:.1f} s"
            warn = f", {result.warnings} warning(s) hidden from the page" if result.warnings else ""
            say(f"{head}: ok in {result.seconds:.1f} s{extra}{warn}{tail}")
        else:
            say(f"{head}: FAILED after {result.seconds:.1f} s{tail}")
        runfolder.write_record(run_dir, record)

    failed: NotebookResult | None = None
    try:
        with _scheduler_environment(scheduler):
            if jobs == 1:
                for task in tasks:
                    say(f"[{task.index + 1}/{n}] {task.name} ...")
                    result = run_notebook(task)
                    finished(task, result)
                    if not result.ok:
                        failed = result
                        break
            else:
                with schedule.thread_limits(jobs):
                    failed = _run_parallel(schedule.longest_first(tasks, output), jobs, finished, say)
    except KeyboardInterrupt:
        _fail(run_dir, record, "interrupted by the user", started, output)
        raise
    if failed is not None:
        failed_dir = _fail(run_dir, record, failed.error, started, output)
        kept = _what_stays(output, record, failed_dir)
        f = failed.failure
        raise ReportError(f"{f.message}; the partial run is in {failed_dir} (marked failed); {kept}",
                          notebook=failed.name, cell=f.cell, ename=f.ename, evalue=f.evalue)

    record["status"] = "ok"
    record["finished"] = _now()
    try:
        record["seconds"] = round(time.perf_counter() - started, 3)
        write_index(record, run_dir)
        record["seconds"] = round(time.perf_counter() - started, 3)
        runfolder.write_record(run_dir, record)
        index = write_index(record, run_dir)  # again, with the final total time
        latest = None
        for name in record["pointers"]:
            latest = runfolder.point_latest(output, run_dir, name)
    except Exception as exc:  # noqa: BLE001 - never leave a half-finished run looking good
        record["status"] = "running"
        error = f"the notebooks ran but the report could not be finished: {type(exc).__name__}: {exc}"
        failed_dir = _fail(run_dir, record, error, started, output)
        raise ReportError(f"{error}; the partial run is in {failed_dir} (marked failed)",
                          ename=type(exc).__name__, evalue=str(exc)) from exc
    _write_history(output)
    say(f"done in {record['seconds']:.1f} s: {index}")
    shown = shown_folder(output)
    if record["pointers"]:
        say(f"{', '.join(shown + '/' + p for p in record['pointers'])} -> {run_dir.name}")
    else:
        tag = runfolder.dataset_tag(record.get("dataset"))
        say(f"not a full report ({_why_not_full(record)}): {shown}/latest and {shown}/latest-{tag} stay; every run "
            f"is listed in {shown}/{history.HISTORY_PAGE}")
    return RunResult(run_dir=run_dir, record=record, latest=latest)


def check_scheduler(address: str) -> str:
    """``address`` when a Dask scheduler answers there (10 s), else DataError with one line saying what to do."""
    try:
        from distributed import Client
    except ImportError:
        raise DataError("--scheduler needs dask and distributed; install them with pip install 'segwork[scale]'") \
            from None
    try:
        if address.startswith("tcp://"):  # a refused or unreachable port fails at once, not after the timeout
            import socket
            from urllib.parse import urlsplit

            where = urlsplit(address)
            socket.create_connection((where.hostname, where.port or 8786), timeout=5).close()
        with Client(address, timeout="10s"):
            pass
    except (OSError, TimeoutError, ValueError) as exc:
        raise DataError(f"no Dask scheduler answers at {address} ({type(exc).__name__}: {exc}); start one "
                        "(dask scheduler) or give the right --scheduler address") from None
    return address


@contextlib.contextmanager
def _scheduler_environment(address: str | None):
    """``DASK_SCHEDULER_ADDRESS`` set for the notebook kernels (they inherit this process's environment)."""
    if not address:
        yield
        return
    old = os.environ.get("DASK_SCHEDULER_ADDRESS")
    os.environ["DASK_SCHEDULER_ADDRESS"] = address
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DASK_SCHEDULER_ADDRESS", None)
        else:
            os.environ["DASK_SCHEDULER_ADDRESS"] = old


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
    failed_dir = runfolder.mark_failed(run_dir, error)
    _write_history(output)
    return failed_dir


def shown_folder(output: str | Path) -> str:
    """The output folder as the console names it: relative to the working folder when under it
    (``out/reports``), else its whole path (never just its last part, which may name another folder)."""
    output = Path(output).resolve()
    try:
        return output.relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(output)


def _what_stays(output: Path, record: dict, failed_dir: Path) -> str:
    """After a failed run: what each pointer the run would have moved still points at, and the last good run
    of ``output`` (any successful run, a quick look too), or that there is none, said only when true."""
    shown = shown_folder(output)
    parts = []
    for name in record.get("pointers") or []:
        target = runfolder.resolve_latest(output, name)
        parts.append(f"{shown}/{name} still points at {target.name}" if target is not None
                     else f"{shown}/{name} is not set (no earlier full report)")
    if not record.get("pointers"):
        parts.append("a quick look moves no pointer")
    good = [e for e in history.list_runs(output) if e.status == "ok" and e.path != failed_dir]
    parts.append(f"the last good run is {shown}/{good[-1].path.name}" if good else f"no earlier good run in {shown}")
    return "; ".join(parts)


def _write_history(output: Path) -> None:
    """Rewrite ``<output>/index.html``, the list of runs; a failure to write it never fails a run."""
    try:
        history.write_history(output)
    except OSError:
        pass


def _scope(plan: ReportPlan) -> dict:
    """What kind of run this is, for the pointers: ``complete`` (every notebook of the folder), ``at_defaults``
    (every parameter its notebook default, the data set aside), ``default_dataset`` and the ``pointers`` a
    success moves (:func:`.history.pointer_names`)."""
    complete = len(plan.notebooks) == len(discover.discover_notebooks(plan.notebooks_dir))
    at_defaults = True
    for name, value in plan.effective.items():
        if name == "dataset" or name in params_mod.RUNNER_PARAMETERS or name == "scheduler":
            continue  # the data set has its own pointer; a Dask scheduler changes where, not what, is computed
        for declared in plan.declared.values():
            param = declared.get(name)
            if param is not None and (param.type is None or param.default != value
                                      or type(param.default) is not type(value)):
                at_defaults = False
    main = plan.dataset
    defaults = {_value(plan.declared[stem], {}, "dataset") for stem in plan.sources}
    default_dataset = main is None or (len(defaults) == 1 and main.dataset in defaults)
    tag = runfolder.dataset_tag(main.dataset if main else None)
    return {"complete": complete, "at_defaults": at_defaults, "default_dataset": default_dataset,
            "pointers": history.pointer_names(tag, complete=complete, at_defaults=at_defaults,
                                              default_dataset=default_dataset)}


def _why_not_full(record: dict) -> str:
    reasons = []
    if not record.get("complete"):
        reasons.append("not every notebook ran")
    if not record.get("at_defaults"):
        reasons.append("parameters other than the defaults")
    return " and ".join(reasons) or "?"


def _run_parallel(tasks: list[NotebookTask], jobs: int,
                  finished: Callable[[NotebookTask, NotebookResult], None], say) -> NotebookResult | None:
    """Run tasks ``jobs`` at a time in worker processes; returns the first failed result (then starts no more)."""
    from .execute import Failure

    pending = list(tasks)
    failed: NotebookResult | None = None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
        running: dict = {}
        started = 0
        while pending or running:
            while failed is None and pending and len(running) < jobs:
                task = pending.pop(0)
                started += 1  # numbered by start order (longest first), not by the notebook's number
                say(f"{task.name} started ({started} of {len(tasks)})")
                running[pool.submit(run_notebook, task)] = task
            if failed is not None:
                pending.clear()
            if not running:
                break
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in complete:
                task = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker process died
                    result = NotebookResult(name=task.name, failure=Failure(
                        f"notebook {task.name}.ipynb: its worker process failed ({type(exc).__name__}: {exc})",
                        None, type(exc).__name__, str(exc)))
                finished(task, result)
                if not result.ok and failed is None:
                    failed = result
    return failed
