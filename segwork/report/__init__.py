"""Report runs: execute the notebooks with papermill, render HTML, write the index.

Modules, one job each: ``discover`` (which notebooks), ``parameters`` (check
user values against the notebooks' parameters cells), ``runfolder`` (run
folders and the ``latest`` pointer), ``execute`` (papermill), ``render``
(HTML without code), ``index`` (the comparison page), ``history`` (the list of runs,
``<output>/index.html``), ``schedule`` (longest first, threads per kernel), ``runner`` (all of it
in order: :func:`plan_report`, :func:`run_report`), ``metrics``
(``metrics.json``). The command line (``segwork report``) lives in
:mod:`segwork.cli`, which calls down into this package; nothing here imports it.
"""
from .metrics import METRICS_FILE, load_metrics, save_metrics, to_jsonable

__all__ = ["METRICS_FILE", "load_metrics", "save_metrics", "to_jsonable", "run_report", "plan_report",
           "RunResult", "ReportPlan"]


def __getattr__(name):
    # The runner pulls in papermill and nbconvert; notebooks that only save metrics should not pay for that.
    if name in ("run_report", "plan_report", "RunResult", "ReportPlan"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
