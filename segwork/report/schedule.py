"""How a report run schedules its notebooks on ``--jobs N`` workers: longest first, each kernel with its share of cores.

:func:`longest_first` orders the tasks so a pool of workers finishes soonest (LPT: the longest notebook never
starts last); :func:`thread_limits` sets the native thread pools of the kernels to their share of the cores.
"""
from __future__ import annotations

import contextlib
import os
import statistics
from pathlib import Path

from . import discover, history
from .execute import NotebookTask

__all__ = ["THREAD_VARIABLES", "longest_first", "thread_limits"]


#: The thread-pool sizes of the native libraries the notebooks use (OpenMP: scikit-learn's gradient boosting and
#: k-means; the BLAS builds numpy and scipy link against; numexpr).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextlib.contextmanager
def thread_limits(jobs: int):
    """Each of ``jobs`` notebook kernels gets its share of the cores (at least one thread) for its native thread
    pools, unless the user set them: two kernels each starting one OpenMP thread per core oversubscribe the
    machine, and OpenMP's spinning barriers then slow a fit down several times (measured with --jobs 2 on 2 cores
    beside notebook 10: notebook 08 took 115 s with the default pools, 14 s with one thread per kernel). The
    kernels inherit the variables from the worker processes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    share = str(max(1, cores // jobs))
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = share
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def longest_first(tasks: list[NotebookTask], output: Path) -> list[NotebookTask]:
    """The tasks in the order a pool of workers finishes soonest: longest first (LPT scheduling).

    A notebook's length is its wall time in the newest run under ``output`` that ran it, else the
    ``metadata.segwork.cost_seconds`` its notebook declares (seconds at 20,000 customers), else the median of
    the known lengths. Ties keep the notebook order. The index and ``run.json`` keep the notebook order.
    """
    seconds = history.notebook_seconds(output)
    known: dict[str, float] = {}
    for task in tasks:
        if task.name in seconds:
            known[task.name] = seconds[task.name]
            continue
        cost = discover.notebook_metadata(task.source).get("cost_seconds")
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            known[task.name] = float(cost)
    fallback = statistics.median(known.values()) if known else 0.0
    return sorted(tasks, key=lambda t: (-known.get(t.name, fallback), t.index))
