"""Run folders under the output folder, and the ``latest`` pointer to the last good run.

Layout of one run (``reports/20250101-120000-synthetic/``)::

    run.json                   what ran: data set, parameters, per-notebook status and times
    index.html                 the comparison report (only when every notebook succeeded)
    01_data_overview.ipynb     the executed notebook (outputs included)
    01_data_overview.html      its HTML rendering, without code
    01_data_overview/          its artefacts: metrics.json, figures/ ...

A failed run gets a ``FAILED`` file with the message, and its folder is
renamed with a ``-failed`` suffix. ``reports/latest`` is a symbolic link to
the last good run, swapped atomically; where symbolic links cannot be made it
is a small text file holding the run folder's name.

``latest`` names the last *full report* (every notebook, parameters at their
defaults) on the default data set, ``latest-<tag>`` the last full report on
data set ``<tag>`` (``latest-cdnow``); quick looks move neither
(:func:`segwork.report.history.pointer_names` decides). ``<output>/index.html``
lists every run (:mod:`segwork.report.history`).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
from pathlib import Path

from .._atomic import atomic_write_text

__all__ = ["RUN_RECORD", "FAILED_MARKER", "LATEST", "dataset_tag", "create_run_folder", "write_record",
           "read_record", "mark_failed", "point_latest", "resolve_latest"]

RUN_RECORD = "run.json"
FAILED_MARKER = "FAILED"
LATEST = "latest"
FAILED_SUFFIX = "-failed"


def dataset_tag(dataset: str | None) -> str:
    """A short, file-name-safe tag for a data set name or path (``synthetic``, ``cdnow``, ``my_sales``)."""
    if not dataset:
        return "default"
    name = Path(dataset).stem if ("/" in dataset or os.sep in dataset or "." in dataset) else dataset
    tag = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[:24]
    return tag or "data"


def create_run_folder(output_dir: str | Path, tag: str, now: _dt.datetime | None = None) -> Path:
    """Create and return a new, empty run folder ``output_dir/<YYYYmmdd-HHMMSS>-<tag>[-N]``.

    The name is unique: ``os.mkdir`` fails on an existing folder, and the
    next suffix is tried (two runs in the same second get ``-2``, ``-3``...).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{tag}"
    for n in range(1, 10_000):
        candidate = output_dir / (base if n == 1 else f"{base}-{n}")
        if (output_dir / (candidate.name + FAILED_SUFFIX)).exists():
            continue
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"{output_dir}: cannot find a free run folder name for {base}")  # pragma: no cover


def write_record(run_dir: Path, record: dict) -> Path:
    """Write ``run.json`` atomically."""
    return atomic_write_text(Path(run_dir) / RUN_RECORD, json.dumps(record, indent=2, default=str) + "\n")


def read_record(run_dir: Path) -> dict:
    """Read ``run.json`` of a run folder."""
    return json.loads((Path(run_dir) / RUN_RECORD).read_text(encoding="utf-8"))


def mark_failed(run_dir: Path, message: str) -> Path:
    """Write ``FAILED`` (the message) into the run folder and rename it ``<name>-failed``; returns the new path."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / FAILED_MARKER, message.rstrip() + "\n")
    target = run_dir.with_name(run_dir.name + FAILED_SUFFIX)
    try:
        os.rename(run_dir, target)
    except OSError:
        return run_dir  # the FAILED file still flags it
    return target


def point_latest(output_dir: str | Path, run_dir: str | Path, name: str = LATEST) -> Path:
    """Point ``output_dir/<name>`` (``latest``, ``latest-cdnow``) at ``run_dir`` atomically; returns the pointer's path.

    A relative symbolic link is made beside the old one and moved over it
    with ``os.replace``, so a reader sees either the old or the new run,
    never nothing. Without symbolic link support (some Windows set-ups) a text
    file ``latest`` holding the run folder's name is written atomically.
    """
    output_dir, run_dir = Path(output_dir), Path(run_dir)
    pointer = output_dir / name
    if pointer.is_dir() and not pointer.is_symlink():
        raise RuntimeError(f"{pointer} is a real folder; move it away so it can point at the latest run")
    tmp = output_dir / f".{name}.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        os.replace(tmp, pointer)
    except (OSError, NotImplementedError):
        try:
            tmp.unlink()
        except OSError:
            pass
        if pointer.is_symlink():
            pointer.unlink()
        atomic_write_text(pointer, run_dir.name + "\n")
    return pointer


def resolve_latest(output_dir: str | Path, name: str = LATEST) -> Path | None:
    """The run folder ``output_dir/<name>`` (default ``latest``) points at, or ``None``."""
    pointer = Path(output_dir) / name
    if pointer.is_symlink():
        return pointer.resolve()
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return (Path(output_dir) / name).resolve() if name else None
    return None
