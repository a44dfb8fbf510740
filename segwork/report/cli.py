"""``segwork report``: the command line of the report runner (see :mod:`segwork.report.runner`)."""
from __future__ import annotations

import shlex
import sys

from ..errors import DataError

__all__ = ["add_report_parser"]

_EPILOG = """examples:
  segwork report                                   all notebooks on the built-in synthetic data
  segwork report --dataset cdnow --output reports  the CDNOW data
  segwork report -p n_customers 2000 --only 01     a quick look at the data overview
  segwork report -f params.yaml --jobs 2           parameters from a YAML file, two notebooks at a time
  segwork report --list                            the notebooks and their parameters
  segwork report --dataset export.csv --sep ';' --map Kunde=customer_id --map Datum=date --map Betrag=amount
                                                   your own transaction file, read like 'segwork data validate'
"""


def add_report_parser(subparsers):
    """Add the ``report`` sub-command to the ``segwork`` parser."""
    import argparse

    p = subparsers.add_parser(
        "report", help="run the notebooks with papermill and render the HTML report",
        description=("Execute the notebooks in order into a new run folder under --output, render each "
                     "without code, write index.html and point OUTPUT/latest at the run."),
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", metavar="NAME|PATH",
                   help="synthetic, cdnow, cdnow_sample or a transaction file (default: the notebooks' own, synthetic)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), dest="parameters",
                   help="set a notebook parameter; VALUE is read like YAML (2000, 0.5, true, text); repeatable")
    p.add_argument("-f", "--parameters-file", metavar="PARAMS.yaml", dest="params_file",
                   help="a YAML file of 'name: value' lines (-p and --dataset override it)")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME",
                   help="run only these notebooks (01, 01_data_overview or data_overview)")
    p.add_argument("--output", default="reports", metavar="DIR",
                   help="folder for run folders and the 'latest' pointer (default: reports)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="notebooks to run at a time (default: 1)")
    p.add_argument("--notebooks", metavar="DIR", help="folder with the NN_topic.ipynb notebooks (default: the checkout's)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel to execute with (default: python3)")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bars")
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, run nothing")
    from ..cli import add_read_options

    add_read_options(p.add_argument_group(
        "reading a transaction file (--dataset PATH): the same options as 'segwork data validate'"))
    p.set_defaults(func=_run)
    return p


def _run(args) -> int:
    from .runner import plan_report, run_report

    if args.jobs < 1:
        raise DataError(f"--jobs {args.jobs}: give a whole number of notebooks to run at a time, 1 or more")
    common = dict(dataset=args.dataset, parameters=args.parameters or [], params_file=args.params_file,
                  only=args.only, notebooks_dir=args.notebooks)
    if args.list:
        plan = plan_report(**common)
        print(f"notebooks in {plan.notebooks_dir}:")
        for path in plan.notebooks:
            print(f"  {path.stem}")
            for param in plan.declared[path.stem].values():
                value = plan.per_notebook[path.stem].get(param.name, param.source)
                print(f"      {param.name} = {value}" + (f"   # {param.help}" if param.help else ""))
        return 0
    command = "segwork report" + (" " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2
                                  and sys.argv[1] == "report" else "")
    from ..cli import read_options_from_args

    run_report(**common, output=args.output, jobs=args.jobs, kernel_name=args.kernel,
               progress=not args.no_progress, echo=lambda msg: print(msg, flush=True), command=command,
               read_options=read_options_from_args(args))
    return 0
