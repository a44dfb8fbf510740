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
