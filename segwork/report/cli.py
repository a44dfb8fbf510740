"""``segwork report``: placeholder until the runner lands (same session)."""
from __future__ import annotations

from ..errors import ReportError


def add_report_parser(subparsers):
    p = subparsers.add_parser("report", help="run the notebooks and render the report")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--output", default="reports")

    def _run(args):
        raise ReportError("segwork report is not implemented yet")

    p.set_defaults(func=_run)
    return p
