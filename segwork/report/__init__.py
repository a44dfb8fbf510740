"""Report runs: execute the notebooks with papermill, render HTML, write the index.

Modules, one job each: ``discover`` (which notebooks), ``parameters`` (check
user values against the notebooks' parameters cells), ``runfolder`` (run
folders and the ``latest`` pointer), ``execute`` (papermill), ``render``
(HTML without code), ``index`` (the comparison page), ``runner`` (all of it
in order), ``cli`` (``segwork report``), ``metrics`` (``metrics.json``).
"""
from .metrics import METRICS_FILE, load_metrics, save_metrics, to_jsonable

__all__ = ["METRICS_FILE", "load_metrics", "save_metrics", "to_jsonable", "add_report_parser", "run_report",
           "RunResult"]


def add_report_parser(subparsers):
    """Register ``segwork report`` on the CLI (see :mod:`segwork.report.cli`)."""
    from .cli import add_report_parser as _add

    return _add(subparsers)


def __getattr__(name):
    # The runner pulls in papermill and nbconvert; notebooks that only save metrics should not pay for that.
    if name in ("run_report", "RunResult"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
