"""The ``segwork`` command.

    segwork data validate PATH [--sep ;] [--map 'Kunde=customer_id'] ...
    segwork report [--dataset synthetic|cdnow|PATH] [-p NAME VALUE ...] [--output DIR]

Usage errors and unusable input print one line ``error: ...`` to stderr and
exit with status 2; no traceback is shown.
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import DataError, ReportError
from .io import CleaningRules

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _parse_mapping(items: list[str] | None) -> dict[str, str]:
    mapping = {}
    for item in items or []:
        if "=" not in item:
            raise _UsageError(f"--map {item!r}: write it as SOURCE_COLUMN=CANONICAL_COLUMN, e.g. 'Kunde=customer_id'")
        src, dst = item.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def add_read_options(p) -> None:
    """Options that say how to read a transaction file (``segwork data validate``, ``segwork report``)."""
    p.add_argument("--sep", help="CSV delimiter (default: detected)")
    p.add_argument("--decimal", choices=[".", ","],
                   help="decimal mark, '.' or ',' (default: decided per column from values like 12,50 or 1.234,5)")
    p.add_argument("--encoding", help="text encoding (default: UTF-8, else cp1252)")
    p.add_argument("--layout", default="auto", help="auto, canonical, online_retail_ii, online_retail or cdnow")
    p.add_argument("--map", action="append", metavar="SRC=DST", help="map a source column to a canonical one (repeatable)")
    p.add_argument("--date-format", help="strftime format of the date column, e.g. '%%d/%%m/%%Y' "
                   "(default: decided from the values; the report says which)")
    p.add_argument("--dayfirst", action="store_true",
                   help="read D/M/Y dates day first (default: decided from values such as 21/05/2014)")
    p.add_argument("--sheet", help="Excel sheet name or 0-based number (default: every sheet in the layout "
                   "of the first one; the report names the sheets skipped)")
    p.add_argument("--observation-end", help="drop rows dated after this day (YYYY-MM-DD)")
    for rule in CleaningRules().rule_names:
        p.add_argument(f"--{rule.replace('_', '-')}", choices=["drop", "keep", "error"], dest=f"rule_{rule}",
                       help=f"what to do with rows matching the {rule!r} rule (default: drop)")


def _rules_from_args(args):
    kwargs = {rule: getattr(args, f"rule_{rule}") for rule in CleaningRules().rule_names
              if getattr(args, f"rule_{rule}", None)}
    if args.observation_end:
        kwargs["observation_end"] = args.observation_end
    try:
        return CleaningRules(**kwargs)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None


def read_options_from_args(args) -> dict:
    """The :func:`segwork.io.read_transactions` keywords the user set with :func:`add_read_options`."""
    options = {
        "columns": _parse_mapping(args.map) or None, "layout": None if args.layout == "auto" else args.layout,
        "sep": args.sep, "decimal": args.decimal, "encoding": args.encoding, "date_format": args.date_format,
        "dayfirst": args.dayfirst or None,
        "sheet_name": (int(args.sheet) if args.sheet.isdigit() else args.sheet) if args.sheet is not None else None,
    }
    rules = _rules_from_args(args)
    if rules != CleaningRules():
        options["rules"] = rules
    return {k: v for k, v in options.items() if v is not None}


def _cmd_data_validate(args) -> int:
    from .io import read_transactions

    _tx, report = read_transactions(args.path, **read_options_from_args(args))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="segwork", description="Customer segmentation and CLV workbench.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"segwork {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    data = sub.add_parser("data", help="work with transaction files")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser)
    validate = data_sub.add_parser("validate", help="read, validate and clean a transaction file; print the cleaning report")
    validate.add_argument("path", help="CSV, TSV, Parquet or Excel file")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    add_read_options(validate)
    validate.set_defaults(func=_cmd_data_validate)

    from .report import add_report_parser

    add_report_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return func(args)
    except (_UsageError, DataError, ReportError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if not isinstance(exc, ReportError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
