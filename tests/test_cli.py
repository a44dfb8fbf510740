"""The segwork command: `segwork data validate` exits 0 with a report, 2 with one error line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
RETAIL = Path(__file__).parent / "data" / "online_retail_ii_sample.csv"


def run(*args):
    return subprocess.run([sys.executable, "-m", "segwork.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "segwork"
    assert exe.exists()
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("segwork ")


def test_validate_prints_the_cleaning_report():
    res = run("data", "validate", RETAIL)
    assert res.returncode == 0, res.stderr
    assert "rows read" in res.stdout and "rows kept" in res.stdout and "customers" in res.stdout
    assert "returns / cancellations" in res.stdout and "date range  2009-12-01 .. 2010-01-05" in res.stdout


def test_validate_json_matches_the_file():
    res = run("data", "validate", ROOT / "data" / "CDNOW_sample.txt", "--json", "--duplicates", "keep",
              "--non-positive-amount", "keep")
    report = json.loads(res.stdout)
    assert report["rows_read"] == report["rows_kept"] == 6919 and report["customers"] == 2357


def test_validate_with_mapping_and_dialect(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("Kunde;Datum;Betrag\nMüller;2024-01-05;1,50\n".encode("cp1252"))
    res = run("data", "validate", path, "--map", "Kunde=customer_id", "--map", "Datum=date", "--map", "Betrag=amount",
              "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["revenue"] == 1.5


def assert_one_line_error(res, *fragments):
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unusable_sources_exit_2_with_one_line(tmp_path):
    assert_one_line_error(run("data", "validate", tmp_path / "missing.csv"), "missing.csv", "no such file")
    bad = tmp_path / "bad.csv"
    bad.write_text("client,date,amount\nA,2024-01-01,1\n")
    assert_one_line_error(run("data", "validate", bad), "bad.csv", "'customer_id'")
    bad.write_text("customer_id,date,amount\nA,2024-01-01,1\nA,2024-01-01,1\n")
    assert_one_line_error(run("data", "validate", bad, "--duplicates", "error"), "duplicate", "row 3")


def test_usage_errors_exit_2_with_one_line(tmp_path):
    assert_one_line_error(run("data", "validate"), "path")
    assert_one_line_error(run("data", "validate", RETAIL, "--map", "nonsense"), "--map")
    assert_one_line_error(run("data", "validate", RETAIL, "--missing-customer-id", "keep"), "not possible")
    # a day that is no date is refused by the rules themselves, on every command that takes --observation-end
    for bad_day in ("2021-13-45", "notadate", "2021-02-31"):
        assert_one_line_error(run("data", "validate", RETAIL, "--observation-end", bad_day), bad_day, "not a date")


#: Run the CLI in a subprocess after making the reader emit a library warning and a log message, as
#: pandas or openpyxl can, so the test sees whether anything but the one error line reaches stderr.
NOISY = """
import logging, sys, warnings
import segwork.io as io
real = io.read_transactions
def noisy(*args, **kwargs):
    warnings.warn("Could not infer format, so each element will be parsed individually", UserWarning)
    logging.getLogger("openpyxl").warning("Workbook contains no default style")
    return real(*args, **kwargs)
io.read_transactions = noisy
from segwork.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_noisy(*args):
    return subprocess.run([sys.executable, "-c", NOISY, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_a_refused_input_prints_exactly_one_line_even_after_library_warnings(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("client,date,amount\nA,2024-01-01,1\n")
    assert_one_line_error(run_noisy("data", "validate", bad), "bad.csv", "'customer_id'")
    out = tmp_path / "out"
    assert_one_line_error(run_noisy("report", "--dataset", bad, "--output", out, "--no-progress"),
                          "bad.csv", "'customer_id'")
    assert not out.exists() or not any(out.iterdir())  # refused before any run folder


def test_warnings_of_a_successful_command_are_still_shown(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("customer_id,date,amount\nA,2024-01-01,1\n")
    res = run_noisy("data", "validate", good, "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["rows_kept"] == 1
    assert "Could not infer format" in res.stderr and "no default style" in res.stderr
    # a warning is one `note:` line, as `segwork report` says its notes: no source path, line or category
    line = next(x for x in res.stderr.splitlines() if "Could not infer format" in x)
    assert line == "note: Could not infer format, so each element will be parsed individually"
    assert "UserWarning" not in res.stderr and ".py:" not in res.stderr


def test_report_usage_errors_exit_2_with_one_line(tmp_path):
    assert_one_line_error(run("report", "--jobs", "0"), "--jobs 0", "1 or more")
    assert_one_line_error(run("report", "--jobs", "two"), "--jobs two")
    assert_one_line_error(run("report", "-p", "n_customerz", "10", "--output", tmp_path), "did you mean n_customers")
    assert_one_line_error(run("report", "--dataset", "nowhere.csv", "--output", tmp_path),
                          "not a built-in data set (synthetic, cdnow, cdnow_sample)")
    assert not any(tmp_path.iterdir())


def test_the_cli_is_one_module_and_the_report_package_does_not_import_it():
    import ast

    assert not (ROOT / "segwork" / "report" / "cli.py").exists()
    for path in (ROOT / "segwork" / "report").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"] + [f"{node.module or ''}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("cli" in n.strip(".").split(".") for n in names), (path, names)


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path, monkeypatch, capsys):
    """`segwork data validate f.csv | head -1`: the pipe closes early; the command stops quietly with exit 141
    (as a process killed by SIGPIPE), never a BrokenPipeError traceback."""
    import os

    from segwork.cli import main

    csv = tmp_path / "tx.csv"
    csv.write_text("customer_id,date,amount\nC1,2024-01-01,10\nC1,2024-02-01,12\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left
    monkeypatch.setattr(sys, "stdout", os.fdopen(write_end, "w", buffering=1))  # line-buffered: writes fail at once
    assert main(["data", "validate", str(csv)]) == 141
    sys.stdout.write("after\n")  # stdout now goes to devnull: nothing raises at the interpreter's final flush
    sys.stdout.flush()
    assert "Traceback" not in capsys.readouterr().err


def test_serve_refuses_a_public_url_with_a_bad_port_or_a_query_saying_which(tmp_path):
    """--public-url https://crm.example.com:99999/ was accepted (a Host header with :99999 is not taken), and a
    query was refused as "must be an http:// or https:// address" without saying the query was the problem."""
    for url, said in (("https://crm.example.com:99999/", "has port '99999'; a port is a number from 1 to 65535"),
                      ("https://crm.example.com:0/", "has port '0'"),
                      ("https://crm.example.com/seg?x=1", "must be an address without a query (?...)"),
                      ("https://crm.example.com/seg#top", "must be an address without a fragment (#...)"),
                      ("ftp://crm.example.com/", "must be an http:// or https:// address")):
        res = run("serve", "--models", tmp_path, "--public-url", url)
        assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
        assert "--public-url" in res.stderr and said in res.stderr and repr(url) in res.stderr, res.stderr
