"""The ``segwork`` command.

    segwork data validate PATH [--sep ;] [--map 'Kunde=customer_id'] ...
    segwork report [--dataset synthetic|cdnow|PATH] [-p NAME VALUE ...] [--output DIR]
    segwork models build --dataset NAME|PATH --output DIR [--random-state N] [--defection] [--margin SHARE]
    segwork serve --models DIR [--host 127.0.0.1] [--port 8000] [--public-url URL] [--max-body-bytes N]
                  [--max-batch N] [--workers N] [--connection-limit N] [--channel-timeout S] [--request-timeout S]
    segwork export segments|targets|triggers|retention --dataset NAME|PATH --output FILE.csv|FILE.parquet
    segwork score --models DIR --transactions PATH --output scores.parquet [--engine duckdb|dask|pandas]
                  [--scheduler ADDRESS] [--chunk-size N] [--observation-end YYYY-MM-DD] [--sep ;] [--map 'Kunde=customer_id'] ...

This module owns every subcommand: it parses the arguments and calls down
into the packages (:mod:`segwork.io`, :mod:`segwork.report`); nothing below
imports it.

Usage errors and unusable input print one line ``error: ...`` to stderr and
exit with status 2: no traceback, and no library warning before it (warnings
raised while a command runs are held back and shown only when it succeeds, one
``note: ...`` line each;
what the user must know about the data is in the cleaning report). A failed
report run prints one line and exits 1.

Renamed flags (issue 18, one name per idea) keep working for one release with
a FutureWarning: ``--seed`` is ``--random-state``, ``segwork score --as-of`` is
``--observation-end``.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import os
import shlex
import sys
import warnings

from ._checks import RENAMED_REMOVED_IN, warn_renamed
from .clv.margin import DEFAULT_MARGIN
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


def _add_random_state(p, help_text: str) -> None:
    """``--random-state N`` and its deprecated alias ``--seed N`` (both stored; :func:`_random_state` merges them)."""
    p.add_argument("--random-state", type=int, default=None, metavar="N", help=f"{help_text} (default 0)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help=f"deprecated alias of --random-state, removed in segwork {RENAMED_REMOVED_IN}")


def _random_state(args, command: str) -> int:
    """The value of ``--random-state``, or of the deprecated ``--seed`` (with a FutureWarning); both: usage error."""
    if args.seed is None:
        return 0 if args.random_state is None else args.random_state
    if args.random_state is not None:
        raise _UsageError(f"{command}: --seed is the deprecated name of --random-state; give only --random-state")
    warn_renamed(command, "--seed", "--random-state", kind="flag", stacklevel=2)
    return args.seed


def _parse_mapping(items: list[str] | None) -> dict[str, str]:
    mapping = {}
    for item in items or []:
        if "=" not in item:
            raise _UsageError(f"--map {item!r}: write it as SOURCE_COLUMN=CANONICAL_COLUMN, e.g. 'Kunde=customer_id'")
        src, dst = item.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def add_read_options(p) -> None:
    """Options that say how to read a transaction file: one set for ``segwork data validate``, ``segwork report``
    and ``segwork score`` (so that what validate reads, the others read with the same options)."""
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
    p.add_argument("--header-row", type=int, metavar="N",
                   help="row number of the column names (1-based, as Excel or an editor shows it) when title "
                        "lines stand above them (default: row 1, else the first of the first 20 rows that names "
                        "the required columns; the report says which)")
    p.add_argument("--observation-end", metavar="YYYY-MM-DD",
                   help="the day the histories end: rows dated after it are dropped (segwork score measures T and "
                        "recency to it; default: the last date)")
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
        "header_row": args.header_row,
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

    _add_report_parser(sub)
    _add_service_parsers(sub)
    _add_export_parser(sub)
    _add_score_parser(sub)
    return parser


# --------------------------------------------------------------------------- segwork report

_REPORT_EPILOG = """examples:
  segwork report                                   all notebooks on the built-in synthetic data
  segwork report --dataset cdnow --output reports  the CDNOW data
  segwork report -p n_customers 2000 --only 01     a quick look at the data overview
  segwork report -f params.yaml --jobs 2           parameters from a YAML file, two notebooks at a time
  segwork report --list                            the notebooks and their parameters
  segwork report --dataset export.csv --sep ';' --map Kunde=customer_id --map Datum=date --map Betrag=amount
                                                   your own transaction file, read like 'segwork data validate'
"""


def _jobs(text: str) -> int:
    from .report.parameters import check_jobs

    try:
        return check_jobs(text)
    except ValueError as exc:
        raise _UsageError(f"segwork report: {exc}") from None


def _add_report_parser(subparsers) -> argparse.ArgumentParser:
    from .datasets import DATASETS

    names = ", ".join(d.name for d in DATASETS.values() if d.listed)
    p = subparsers.add_parser(
        "report", help="run the notebooks with papermill and render the HTML report",
        description=("Execute the notebooks into a new run folder under --output, render each without code and "
                     "write its index.html. A full report (every notebook, every parameter at its default) moves "
                     "OUTPUT/latest-<data set>, and on the default data set OUTPUT/latest; quick looks (--only, "
                     "-p) move no pointer. OUTPUT/index.html lists every run."),
        epilog=_REPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", metavar="NAME|PATH",
                   help=f"{names} or a transaction file (default: the notebooks' own, synthetic)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), dest="parameters",
                   help="set a notebook parameter; VALUE is read like YAML (2000, 0.5, true, text); repeatable")
    p.add_argument("-f", "--parameters-file", metavar="PARAMS.yaml", dest="params_file",
                   help="a YAML file of 'name: value' lines (-p and --dataset override it)")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                   help="run only these notebooks (01, 01_data_overview or data_overview)")
    p.add_argument("--output", default="reports", metavar="DIR",
                   help="folder for run folders, the 'latest' pointers and index.html, the list of runs "
                        "(default: reports)")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="notebooks to run at a time, the longest first (default: 1)")
    p.add_argument("--notebooks", metavar="DIR", help="folder with the NN_topic.ipynb notebooks (default: the checkout's)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel to execute with (default: python3)")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bars")
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, run nothing")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://host:8786) for the notebooks' Dask steps: checked first, "
                        "given to the kernels as DASK_SCHEDULER_ADDRESS and to notebooks with a 'scheduler' parameter")
    add_read_options(p.add_argument_group(
        "reading a transaction file (--dataset PATH): the same options as 'segwork data validate'"))
    p.set_defaults(func=_cmd_report)
    return p


def _cmd_report(args) -> int:
    from .report.runner import plan_report, run_report

    plan = plan_report(dataset=args.dataset, parameters=args.parameters or [], params_file=args.params_file,
                       only=args.only, notebooks_dir=args.notebooks)
    if args.list:
        print(f"notebooks in {plan.notebooks_dir}:")
        for path in plan.notebooks:
            print(f"  {path.stem}")
            for param in plan.declared[path.stem].values():
                value = plan.per_notebook[path.stem].get(param.name, param.source)
                allowed = f"   (one of: {', '.join(map(str, param.choices))})" if param.choices else ""
                print(f"      {param.name} = {value}" + (f"   # {param.help}" if param.help else "") + allowed)
        return EXIT_OK
    command = "segwork report" + (" " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2
                                  and sys.argv[1] == "report" else "")
    run_report(plan=plan, output=args.output, jobs=args.jobs, kernel_name=args.kernel,
               progress=not args.no_progress, echo=lambda msg: print(msg, flush=True), command=command,
               read_options=read_options_from_args(args), scheduler=args.scheduler)
    return EXIT_OK


# --------------------------------------------------------------------------- segwork models / serve


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _share(text: str) -> float:
    """A share of revenue in (0, 1] (the margin)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share of revenue above 0 and at most 1 (e.g. 0.3), got {text!r}")
    return value


def _max_batch(text: str) -> int:
    value = _positive(text)
    if value > 10_000:
        raise argparse.ArgumentTypeError(f"must be at most 10000 (the WSDL's limit of customers per request), "
                                         f"got {text!r}")
    return value


def _public_url(text: str) -> str:
    from urllib.parse import urlsplit

    example = "https://crm.example.com/segments/"
    parts = urlsplit(text)
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or any(c in text for c in "\"'<>\\ \t\r\n")):
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// address such as {example}, got {text!r}")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        # the WSDL's soap:address is where clients post: a query or fragment there is no endpoint address
        what = " and ".join(w for w, v in (("a query (?...)", parts.query or text.endswith("?")),
                                           ("a fragment (#...)", parts.fragment or text.endswith("#"))) if v)
        raise argparse.ArgumentTypeError(f"must be an address without {what} (the endpoint clients post to), "
                                         f"such as {example}, got {text!r}")
    try:
        port = parts.port
    except ValueError:  # urllib: not a number, or over 65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        shown = parts.netloc.rpartition(":")[2]
        raise argparse.ArgumentTypeError(f"has port {shown!r}; a port is a number from 1 to 65535, got {text!r}")
    return text


def _port(text: str) -> int:
    """--port: a whole number 0 to 65535 (0: a free one). argparse's int would let 99999 through, and the
    socket layer would wrap it (modulo 65536) or waitress would end in a traceback."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: a free one), got {text!r}")
    return value


#: A DNS host name (labels of letters, digits and hyphens).
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_HOST_HELP = ("must be an IPv4 address (0.0.0.0 to 255.255.255.255, e.g. 127.0.0.1; 0.0.0.0 = all interfaces), "
              "an IPv6 address (e.g. ::1; :: = all interfaces) or a host name of this machine")


def _host(text: str) -> str:
    """--host: an IPv4 or IPv6 address or a host name (whether it resolves is checked when binding)."""
    import ipaddress

    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    # a name made of digits and dots only is a malformed IPv4 address (999.1.1.1), not a host name
    if not value or ":" in value or re.fullmatch(r"[0-9.]+", value) or not _HOST_NAME.match(value):
        raise argparse.ArgumentTypeError(f"{_HOST_HELP}, got {text!r}")
    return value


def _add_service_parsers(subparsers) -> None:
    models = subparsers.add_parser("models", help="build the models the segmentation service serves")
    models_sub = models.add_subparsers(dest="models_command", parser_class=_Parser)
    build = models_sub.add_parser(
        "build", help="prepare the data, build the default segmentations and CLV models, write them with a manifest",
        description="Writes DIR atomically: table.parquet, clv.json, segmentations/*.pkl, defection/ (what "
                    "ExplainDefection answers from: the time-varying Pareto/NBD and every customer's reasons when the "
                    "data has a profile or weekly events) and manifest.json (segwork version, data set, date range, "
                    "creation time, SHA-256 of every file).")
    build.add_argument("--dataset", required=True, metavar="NAME|PATH",
                       help="a built-in data set (synthetic, cdnow, ...), a prepared folder or a transaction file")
    build.add_argument("--output", required=True, metavar="DIR", help="the model folder to write")
    _add_random_state(build, "random state of the synthetic data and the clustering")
    build.add_argument("--n-customers", type=_positive, default=20_000,
                       help="customers of the synthetic data set (default 20000)")
    build.add_argument("--defection", action="store_true",
                       help="synthetic data only: the planted defection world (contract, complaints and contacts "
                            "per week), whose reasons ExplainDefection then gives (as 'segwork export retention' "
                            "uses it); without it the synthetic profile's channel and region are the only drivers")
    build.add_argument("--margin", type=_share, default=DEFAULT_MARGIN,
                       help=f"profit share of revenue of the folder's CLV (default {DEFAULT_MARGIN}, the margin of "
                            "the report pages and the exports; 1 gives expected revenue)")
    build.set_defaults(func=_cmd_models_build)

    serve = subparsers.add_parser(
        "serve", help="serve the segmentation service (SOAP 1.1, WSDL at /?wsdl)",
        description="Serves a model folder until stopped (Ctrl-C). Requests are read by one thread and answered by "
                    "--workers threads; a slow client holds a connection, never a worker. The connection settings "
                    "bound what slow or idle clients can hold: both timeouts are checked every third of the "
                    "shorter one (1-10 s, waitress's cleanup_interval), request heads are at most 64 KiB "
                    "(segwork/service/README.md, 'Server settings' and 'Limits').")
    serve.add_argument("--models", required=True, metavar="DIR", help="a folder written by 'segwork models build'")
    serve.add_argument("--host", type=_host, default="127.0.0.1",
                       help="address to listen on: an IPv4/IPv6 address or host name (default 127.0.0.1; "
                            "0.0.0.0 or :: = all interfaces)")
    serve.add_argument("--port", type=_port, default=8000, help="port, 0 to 65535 (default 8000; 0 = a free one)")
    serve.add_argument("--max-body-bytes", type=_positive, default=16 * 1024 * 1024, metavar="N",
                       help="largest request accepted, in bytes (default 16 MiB)")
    serve.add_argument("--public-url", type=_public_url, metavar="URL",
                       help="the address the served WSDL names, e.g. https://crm.example.com/segments/ behind a "
                            "proxy (default: the address the client used, from its Host header)")
    serve.add_argument("--max-batch", type=_max_batch, default=10_000, metavar="N",
                       help="most customers in one request, 1 to 10000 (default 10000, the WSDL's maxOccurs)")
    serve.add_argument("--workers", type=_positive, default=4, metavar="N",
                       help="worker threads answering complete requests; the models are loaded once and shared "
                            "(default 4)")
    serve.add_argument("--connection-limit", type=_positive, default=500, metavar="N",
                       help="open connections at once; past it new clients wait (default 500; waitress's own "
                            "default of 100 let 100 slow clients lock everyone out)")
    serve.add_argument("--channel-timeout", type=_positive, default=30, metavar="SECONDS",
                       help="close a connection after this many seconds without a byte (default 30)")
    serve.add_argument("--request-timeout", type=_positive, default=60, metavar="SECONDS",
                       help="drop a request still arriving this many seconds after its first byte (default 60; "
                            "a client trickling bytes would otherwise hold its connection for hours)")
    serve.set_defaults(func=_cmd_serve)


def _cmd_models_build(args) -> int:
    from pathlib import Path

    from .clv.record import FitRecord
    from .datasets import builtin_dataset, load_dataset
    from .models.store import build_models, read_manifest

    random_state = _random_state(args, "segwork models build")
    if args.defection and args.dataset != "synthetic":
        raise DataError(f"models build: --defection plants the defection drivers in the synthetic data and does "
                        f"nothing for {args.dataset!r}; leave it out")
    say = lambda msg: print(f"models build: {msg}", file=sys.stderr, flush=True)  # noqa: E731 - progress, as export
    if builtin_dataset(args.dataset) is not None:  # a file is read first: a refused file stays one error line
        say(f"loading {_dataset_words(args)} ...")
    dataset = load_dataset(args.dataset, n_customers=args.n_customers, random_state=random_state,
                           defection=args.defection)
    # the manifest (and ListSegmentations) name a file by its name only: no local path goes to clients
    source = args.dataset if builtin_dataset(args.dataset) is not None else Path(args.dataset).name
    out = build_models(dataset, args.output, random_state=random_state, source=source, margin=args.margin,
                       progress=say)
    from .clv.margin import value_label

    print(f"models written to {out}; values: {value_label(args.margin)} over 12 months")
    # what the CLV numbers rest on: the models fitted, any at a limit, the fallbacks taken
    manifest = read_manifest(out)
    for line in FitRecord.from_dict(manifest.get("clv_record")).lines():
        print(f"  {line}")
    defection = manifest.get("defection") or {}
    if defection.get("available"):
        print(f"  ExplainDefection: reasons from the drivers {', '.join(defection['drivers'])}")
    elif defection:
        print("  ExplainDefection: no reasons (the data has no profile drivers or weekly events); P(alive), "
              "relationship and value at risk only")
    return EXIT_OK


def _cmd_serve(args) -> int:
    from .service.server import serve

    warnings.simplefilter("ignore")  # nothing is held back while serving (it would grow without end)
    serve(args.models, host=args.host, port=args.port, max_body_bytes=args.max_body_bytes, workers=args.workers,
          max_batch=args.max_batch, public_url=args.public_url, connection_limit=args.connection_limit,
          channel_timeout=args.channel_timeout, request_timeout=args.request_timeout)
    return EXIT_OK


def _add_export_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write segment memberships, a target, trigger or retention list for a CRM (CSV or Parquet)",
        description="Columns, types and units: segwork.act.export.EXPORT_SCHEMAS. Targets and triggers are made "
                    "on the data's last day for the next --days days. The retention list ranks the customers at "
                    "risk (Vulnerable, Win-back) by retention value (CLV saved by the best action minus its "
                    "assumed cost) with their reasons; '--dataset synthetic' makes it from the planted defection "
                    "world (make_crm(..., defection=True)), whose profile and weekly events are what reasons "
                    "need; data without drivers gives P(alive) and value at risk only.")
    p.add_argument("kind", choices=["segments", "targets", "triggers", "retention", "transactions"],
                   help="transactions: the data set's cleaned transaction log (customer_id, date, amount, ...), "
                        "what 'segwork score --transactions' reads")
    p.add_argument("--dataset", required=True, metavar="NAME|PATH", help="a built-in data set or a transaction file")
    p.add_argument("--output", required=True, metavar="FILE", help="FILE.csv or FILE.parquet")
    _add_random_state(p, "random state of the synthetic data and the clustering")
    p.add_argument("--n-customers", type=_positive, default=20_000,
                   help="customers of the synthetic data set (default 20000)")
    p.add_argument("--days", type=_positive, default=30, help="campaign / trigger period in days (default 30)")
    p.add_argument("--channel", choices=["email", "sms", "phone", "post"], default="email",
                   help="contact channel of targets and triggers: customers without its opt-in are left out "
                        "(default email)")
    p.add_argument("--margin", type=_share, default=DEFAULT_MARGIN,
                   help="profit share of revenue for the targets' expected profit, the segments' and the retention "
                        f"list's CLV (default {DEFAULT_MARGIN}, the margin of every report page; 1 gives expected "
                        "revenue)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    from pathlib import Path

    from .act.export import export_frame, write_export
    from .datasets import builtin_dataset, load_dataset

    if Path(args.output).suffix.lower() not in (".csv", ".parquet"):
        raise DataError(f"export: {Path(args.output).name!r} must end in .csv or .parquet")
    random_state = _random_state(args, "segwork export")
    if args.kind == "transactions":
        return _export_transactions(args, random_state)
    say = lambda msg: print(f"export {args.kind}: {msg}", file=sys.stderr, flush=True)  # noqa: E731 - progress
    if builtin_dataset(args.dataset) is not None:  # a file is read first: a refused file stays one error line
        say(f"loading {_dataset_words(args)} ...")
    # the retention list's reasons need drivers: the synthetic data set is the planted defection world for it
    data = load_dataset(args.dataset, n_customers=args.n_customers, random_state=random_state,
                        defection=args.kind == "retention")
    say(_EXPORT_STEPS[args.kind] + " ...")
    frame = export_frame(args.kind, data, random_state=random_state, horizon_days=args.days, channel=args.channel,
                         margin=args.margin)
    out = write_export(frame, args.output)
    if args.kind == "retention":
        return _print_retention_counts(frame, out)
    a = frame.attrs
    what = {"segments": "rows (one per customer and segmentation)", "targets": "rows (one per target)",
            "triggers": "rows (one per event)"}[args.kind]
    print(f"{len(frame):,} {what} of {args.kind} written to {out}: {a['n_customers']:,} customers")
    for label, n in a["counts"].items():  # every customer in one line; they add up to the customers above
        print(f"  {n:,} {label}")
    if args.kind == "segments":
        print(f"  the value tiers rank by {a['value_label']} over 12 months")
    elif args.kind == "targets":
        from .clv.margin import margin_text

        print(f"  expected profit: P(buy) x incremental share {a['incremental_share']:g} x mean spend x "
              f"{margin_text(a['margin'])} of revenue - {a['cost_per_contact']:g} per contact, in {a['currency']}")
    return EXIT_OK


#: What ``export_frame`` does for each kind, said on stderr before it starts (the long step of ``segwork export``).
_EXPORT_STEPS = {
    "segments": "fitting the CLV models and the default segmentations (RFM, value, relationship, clusters, needs)",
    "targets": "fitting the CLV models and scoring P(buy) for the campaign period",
    "triggers": "fitting the CLV models and finding the trigger events",
    "retention": "fitting the CLV models and the time-varying Pareto/NBD, explaining each customer at risk",
}


def _dataset_words(args) -> str:
    if args.dataset == "synthetic":
        return f"the synthetic data ({args.n_customers:,} customers)"
    return f"the {args.dataset} data"


def _export_transactions(args, random_state: int) -> int:
    """``segwork export transactions``: the data set's cleaned transactions, canonical columns, one row each."""
    from .act.export import transaction_log, write_export
    from .datasets import load_dataset

    data = load_dataset(args.dataset, n_customers=args.n_customers, random_state=random_state)
    out = write_export(transaction_log(data.transactions), args.output)  # no float noise, whole quantities
    tx = data.transactions
    print(f"{len(tx):,} transactions of {tx['customer_id'].nunique():,} customers "
          f"({tx['date'].min():%Y-%m-%d} to {tx['date'].max():%Y-%m-%d}) written to {out}")
    return EXIT_OK


def _print_retention_counts(frame, out) -> int:
    """The retention export's counts, one a line; they add up to the customers of the data."""
    from .clv.margin import value_label

    a = frame.attrs
    by_type = lambda counts: ", ".join(f"{t} {n:,}" for t, n in counts.items()) or "none"  # noqa: E731
    print(f"retention list written to {out}: {a['n_customers']:,} customers")
    print(f"  {a['counts']['listed']:,} listed: at risk ({by_type(a['listed_by_type'])}); {a['worth_acting']:,} with "
          "a retention value above 0")
    print(f"  {a['counts']['not at risk']:,} not at risk ({by_type(a['not_at_risk'])})")
    if a.get("why_empty"):  # a header-only file is not left to speak for itself
        print(f"  why nobody is listed: {a['why_empty']}")
    if a["available"]:
        top = frame["top_reason"].value_counts()
        print("  top reasons of the listed: " + (", ".join(f"{r} {n:,}" for r, n in top.items()) or "none"))
    else:
        print("  no reasons: the data has no drivers; reasons need a customer profile (contract, acquisition_channel, "
              "region) or events per week (open_complaint, marketing_contact)")
    b = a["clv_basis"]
    print(f"  CLV, value at risk and CLV saved: {value_label(b['margin'])} over {b['horizon_months']} months, "
          f"discounted {b['discount_rate']:.0%} a month, in {b['currency']}")
    return EXIT_OK


# --------------------------------------------------------------------------- segwork score

_SCORE_EPILOG = """examples:
  segwork score --models models --transactions 'tx/*.parquet' --output scores.parquet
  segwork score --models models --transactions tx/ --output scores.parquet --engine dask --scheduler tcp://10.0.0.5:8786
  segwork score --models models --transactions export.csv --output scores.parquet --sep ';' \\
                --map Kunde=customer_id --map Datum=date --map Betrag=amount
  segwork score --models models --transactions report.xlsx --output scores.parquet --engine pandas
"""


def _add_score_parser(subparsers) -> None:
    from .models.bulk import DEFAULT_CHUNK_SIZE, ENGINES

    p = subparsers.add_parser(
        "score", help="score every customer of a transaction log with a model folder (segments, P(alive), CLV)",
        description="Aggregates the transactions chunk by chunk of customers, scores each chunk with the models "
                    "'segwork models build' saved (nothing is refitted) and writes one Parquet file atomically. "
                    "Columns: segwork.models.score.score_table.",
        epilog=_SCORE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, metavar="DIR", help="a folder written by 'segwork models build'")
    p.add_argument("--transactions", required=True, metavar="PATH",
                   help="a Parquet or CSV file, a folder of them or a glob ('tx/*.parquet'); an Excel workbook with "
                        "--engine pandas; other column names with --map")
    p.add_argument("--output", required=True, metavar="FILE.parquet", help="the scores to write")
    p.add_argument("--engine", choices=ENGINES,
                   help="duckdb (default without --scheduler: out of core on this machine), dask (partitions on a cluster) or pandas "
                        "(everything in memory)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --engine dask)")
    p.add_argument("--chunk-size", type=_positive, default=DEFAULT_CHUNK_SIZE, metavar="N",
                   help=f"customers per chunk (default {DEFAULT_CHUNK_SIZE:,})")
    # the day the histories end is --observation-end, one of the reading options below (the cleaning rule that
    # drops later rows; score measures T and recency to it); --as-of is its old name
    p.add_argument("--as-of", metavar="YYYY-MM-DD",
                   help=f"deprecated alias of --observation-end, removed in segwork {RENAMED_REMOVED_IN}")
    p.add_argument("--no-progress", action="store_true", help="no progress line per chunk on stderr")
    add_read_options(p.add_argument_group(
        "reading the transactions: the same options as 'segwork data validate' (an option an engine cannot "
        "honour is refused with the engine that can)"))
    p.set_defaults(func=_cmd_score)


def _cmd_score(args) -> int:
    from .models.bulk import score_transactions

    engine = args.engine or ("dask" if args.scheduler else "duckdb")
    if args.as_of is not None:
        if args.observation_end is not None:  # both names of one flag: refused, as --seed with --random-state
            raise _UsageError(f"segwork score: --as-of {args.as_of} and --observation-end {args.observation_end} "
                              "both given; --as-of is the deprecated name of --observation-end: give only "
                              "--observation-end")
        warn_renamed("segwork score", "--as-of", "--observation-end", kind="flag", stacklevel=2)
        args.observation_end = args.as_of
    # distributed logs every shuffle it starts and ends as a WARNING ("Shuffle ... initialized by task ...",
    # "... deactivated due to stimulus ..."), shown after the run's one result line: routine, nothing to act on
    # A partition the cleaning refuses is logged by the worker as "distributed.worker - ERROR - Compute Failed
    # ... Traceback" (distributed's own handler, not the held root one); the error itself reaches the client and
    # is the one error: line, so the worker's log of it is held back too (workers in this process; a local
    # cluster of processes is started with silence_logs, see segwork.models.bulk)
    quiet = {"distributed.shuffle": logging.ERROR, "distributed.worker": logging.CRITICAL}
    levels = {name: logging.getLogger(name).level for name in quiet}
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)
    try:
        result = score_transactions(args.models, args.transactions, args.output, engine=engine,
                                    scheduler=args.scheduler, chunk_size=args.chunk_size,
                                    progress=not args.no_progress, read_options=read_options_from_args(args))
    finally:
        for name, lvl in levels.items():
            logging.getLogger(name).setLevel(lvl)
    for name, why in result.skipped.items():
        print(f"segmentation {name!r} not scored: {why}", file=sys.stderr)
    print(f"{result.customers:,} customers scored ({result.engine}, {result.chunks} chunk{'s' if result.chunks != 1 else ''}, histories to "
          f"{result.observation_end}) in {result.seconds:.1f} s; written to {result.output}", flush=True)
    if result.report is not None:  # what cleaning and reading decided: the facts 'data validate' prints, briefly
        print(result.report.brief(), file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- main


class _HeldLogs(logging.Handler):
    """Holds library log records (WARNING and up) while a command runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.held: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.held.append(record)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Warnings and library log messages raised while the command runs are held
    back: after a success each warning is one ``note: ...`` line (:func:`segwork.io.note_line`, as ``segwork
    report`` says its notes) and log messages are shown as usual; after a refusal (exit 2)
    or a failed run (exit 1) only the one ``error:`` line is printed.
    """
    held_logs = _HeldLogs()
    root = logging.getLogger()
    root.addHandler(held_logs)
    status = EXIT_FAILED
    with warnings.catch_warnings(record=True) as held_warnings:
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            func = getattr(args, "func", None)
            if func is None:
                parser.print_help(sys.stderr)
                status = EXIT_USAGE
            else:
                status = func(args)
        except (_UsageError, DataError, ReportError) as exc:
            status = EXIT_USAGE if not isinstance(exc, ReportError) else EXIT_FAILED
            held_warnings.clear()
            held_logs.held.clear()
            print(f"error: {_one_line(exc)}", file=sys.stderr)
        except KeyboardInterrupt:
            held_warnings.clear()
            held_logs.held.clear()
            print("error: interrupted", file=sys.stderr)
            status = 130
        except BrokenPipeError:
            # the reader of stdout left (`segwork data validate f.csv | head`): stop quietly, as Unix tools do;
            # point stdout at devnull so that the interpreter's final flush does not raise again
            held_warnings.clear()
            held_logs.held.clear()
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            status = 128 + 13  # killed by SIGPIPE, as a shell reports it
        finally:
            root.removeHandler(held_logs)
    from .io import note_line

    # one `note:` line each, as `segwork report` says its notes: no source path, line or category (they name
    # segwork's or a library's file, nothing the user can act on); the same text once
    for line in dict.fromkeys(note_line(w.message) for w in held_warnings):
        print(line, file=sys.stderr)
    for record in held_logs.held:
        logging.getLogger(record.name).handle(record)
    return status


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
