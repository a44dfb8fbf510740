"""Report runs: execute the notebooks with papermill, render HTML, write the index."""
from .metrics import METRICS_FILE, load_metrics, save_metrics, to_jsonable

__all__ = ["METRICS_FILE", "load_metrics", "save_metrics", "to_jsonable", "add_report_parser"]


def add_report_parser(subparsers):
    """Register ``segwork report`` on the CLI (see :mod:`segwork.report.cli`)."""
    from .cli import add_report_parser as _add

    return _add(subparsers)
