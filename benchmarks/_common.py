"""Shared helpers of the side-by-side benchmarks (not part of segwork; not tests).

A benchmark script ``benchmarks/bench_<name>.py``

* builds its input deterministically (seeded),
* times segwork and, where there is one, a peer library side by side in the
  same run (best of N repeats, see :func:`best_of`),
* checks that both give the same answer,
* and calls :func:`write_results` to store ``benchmarks/results/<name>.json``,
  which ``benchmarks/run_all.py`` turns into the table in ``benchmarks/README.md``.

Peers never become segwork dependencies: each lives in its own virtual
environment ``benchmarks/.venv-<peer>`` (git-ignored) made from
``benchmarks/requirements-<peer>.txt`` by :func:`peer_python`, and runs as a
subprocess (:func:`run_peer`) that reads its input from ``.npz`` files and
writes its timings and results as JSON / ``.npz``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


# ----------------------------------------------------------------------------- timing


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any, list[float]]:
    """Call ``fn`` ``repeats`` times; return (best wall time in s, the last result, all times).

    The best of several runs is the least disturbed by other work on a shared
    machine; ratios of best times are what the README reports.
    """
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result, times


# ----------------------------------------------------------------------------- machine


def machine_info() -> dict:
    """Where and with what the numbers were measured."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import pandas
    import scipy

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_1_5_15min": load,  # the machine is shared: a high load slows both sides
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scipy": scipy.__version__,
    }


# ----------------------------------------------------------------------------- peers


def _requirements(peer: str) -> Path:
    return BENCH_DIR / f"requirements-{peer}.txt"


def peer_python(peer: str) -> Path:
    """The interpreter of the peer's own venv, created (``python3 -m venv`` + pip) when missing or outdated."""
    venv = BENCH_DIR / f".venv-{peer}"
    req = _requirements(peer)
    stamp = venv / ".requirements.sha256"
    digest = hashlib.sha256(req.read_bytes()).hexdigest()
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    base = shutil.which("python3") or sys.executable
    print(f"[bench] creating {venv.relative_to(REPO_DIR)} from {req.name} (one-off) ...", flush=True)
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(req)], check=True)
    stamp.write_text(digest + "\n")
    return python


def run_peer(peer: str, task: str, spec: dict, timeout: float = 1800) -> dict:
    """Run ``benchmarks/peer_<peer>.py <spec.json>`` in the peer's venv and return its JSON answer.

    ``spec`` is passed as JSON (add ``"task"``); the script writes its answer
    to ``spec["output"]`` (set here).
    """
    python = peer_python(peer)
    with tempfile.TemporaryDirectory(prefix=f"bench-{peer}-") as tmp:
        spec = dict(spec, task=task, output=str(Path(tmp) / "answer.json"))
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run([str(python), "-W", "ignore", str(BENCH_DIR / f"peer_{peer}.py"), str(spec_path)],
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"peer {peer} ({task}) failed with exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
        return json.loads(Path(spec["output"]).read_text())


# ----------------------------------------------------------------------------- results


def write_results(benchmark: str, rows: list[dict], *, command: str, notes: list[str] | None = None,
                  peer_versions: dict | None = None) -> Path:
    """Store one benchmark's results as ``benchmarks/results/<benchmark>.json`` (atomically).

    Each row: ``case`` (what is measured), ``size`` (e.g. "1,000,000 tx / 100,000 customers"),
    ``segwork_s`` (best time), ``peer`` (name or None), ``peer_s`` (best time or None),
    ``ratio`` (``peer_s / segwork_s``: how many times faster segwork is) and ``check``
    (what was verified, e.g. "same output"). Extra keys are kept in the JSON.
    """
    from segwork._atomic import atomic_write_text

    for row in rows:
        if row.get("peer_s") and row.get("segwork_s"):
            row.setdefault("ratio", row["peer_s"] / row["segwork_s"])
    doc = {
        "benchmark": benchmark,
        "command": command,
        "machine": machine_info(),
        "peer_versions": peer_versions or {},
        "rows": rows,
        "notes": notes or [],
    }
    path = RESULTS_DIR / f"{benchmark}.json"
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return path


def fmt_size(n_rows: int, what: str, n_customers: int | None = None) -> str:
    text = f"{n_rows:,} {what}"
    return text + (f" / {n_customers:,} customers" if n_customers is not None else "")
