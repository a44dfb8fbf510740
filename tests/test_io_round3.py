"""Real-world inputs, round 3 (issue 17): UTF-16 text, several currencies, implausible dates, ids in
scientific notation, report-style workbooks with title rows.

The field cases in tests/data come from ../shared/field-cases; their right answers are the ones in that
README (computed by hand from the raw rows, not from segwork's output). Each kind is also tested beyond its
one file (other encodings, other placeholders, CSV title lines, ...).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segwork import DataError
from segwork.features import rfm_summary
from segwork.io import PLACEHOLDER_DATES, CleaningRules, read_transactions

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = HERE / "data"
RFM = ["frequency", "recency", "T", "monetary_value"]


def run(*args):
    return subprocess.run([sys.executable, "-W", "default", "-m", "segwork.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def one_error_line(res, *fragments):
    assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def rule(report, name):
    return next(r for r in report.rules if r.rule == name)


def rfm_rows(rfm: pd.DataFrame) -> dict:
    return {c: rfm.loc[c, RFM].tolist() for c in rfm.index}


# --------------------------------------------------------------------------- 3. implausible dates

YEAR_TYPO_ANSWER = {"P1": [2, 59, 85, 27.5], "P2": [0, 0, 70, 0], "P3": [0, 0, 0, 0]}


def test_year_typo_dates():
    path = DATA / "year_typo_dates.csv"
    tx, report = read_transactions(path)
    r = rule(report, "implausible_date")
    assert r.rows == 1 and r.action == "drop" and r.example["date"] == "2203-03-20"
    assert report.last_date == pd.Timestamp("2023-03-31") and len(tx) == 5
    assert "implausible or placeholder date" in str(report) and "2203-03-20" in str(report)
    assert rfm_rows(rfm_summary(tx, observation_end="2023-03-31")) == YEAR_TYPO_ANSWER
    # the observation end is no longer the typo's day: the default summary is the same
    assert rfm_rows(rfm_summary(path, engine="pandas")) == YEAR_TYPO_ANSWER


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_year_typo_dates_same_on_each_engine(engine, tmp_path):
    path = DATA / "year_typo_dates.csv"
    got = rfm_summary(path, engine=engine)
    assert rfm_rows(got) == YEAR_TYPO_ANSWER
    assert rule(got.attrs["cleaning_report"], "implausible_date").rows == 1
    pq = tmp_path / "year_typo_dates.parquet"
    pd.read_csv(path, dtype=str).to_parquet(pq, index=False)
    assert rfm_rows(rfm_summary(pq, engine=engine)) == YEAR_TYPO_ANSWER
    typed = tmp_path / "typed.parquet"  # real timestamp and number columns
    pd.read_csv(path, parse_dates=["date"], date_format="%Y-%m-%d").to_parquet(typed, index=False)
    assert rfm_rows(rfm_summary(typed, engine=engine)) == YEAR_TYPO_ANSWER


def test_implausible_dates_are_a_kind(tmp_path):
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    dates = ["2023-01-05", "1900-01-01", "1970-01-01 00:00", "9999-12-31", "2099-12-31", "1949-12-31",
             "1950-01-01", str((today + pd.Timedelta(days=366)).date()), str((today + pd.Timedelta(days=367)).date())]
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"c{i},{d},1\n" for i, d in enumerate(dates)))
    tx, report = read_transactions(path)
    assert sorted(tx["customer_id"]) == ["c0", "c6", "c7"]  # 1950-01-01 and today + 366 days are plausible
    assert rule(report, "implausible_date").rows == 6
    duck = rfm_summary(path, engine="duckdb").attrs["cleaning_report"]
    assert rule(duck, "implausible_date").rows == 6 and duck.rows_kept == 3
    # turned off, and an explicit window
    kept, report = read_transactions(path, rules=CleaningRules(implausible_date="keep"))
    assert len(kept) == len(dates) and rule(report, "implausible_date").rows == 6
    window = CleaningRules(plausible_dates=("1900-01-02", None))
    assert sorted(read_transactions(path, rules=window)[0]["customer_id"]) == ["c0", "c5", "c6", "c7"]
    with pytest.raises(DataError, match=r"t.csv: 6 row\(s\) with implausible or placeholder date \(column date\), "
                                        r"first at row 3: customer_id=c1, date=1900-01-01"):
        read_transactions(path, rules=CleaningRules(implausible_date="error"))
    with pytest.raises(ValueError, match="plausible_dates"):
        CleaningRules(plausible_dates="2020")
    assert "1900-01-01" in PLACEHOLDER_DATES and "1970-01-01" in PLACEHOLDER_DATES


def test_year_typo_dates_on_the_cli():
    res = run("data", "validate", DATA / "year_typo_dates.csv")
    assert res.returncode == 0 and "date range  2023-01-05 .. 2023-03-31" in res.stdout, res.stderr
    assert "implausible or placeholder date" in res.stdout and "2203-03-20" in res.stdout
    res = run("data", "validate", DATA / "year_typo_dates.csv", "--implausible-date", "keep")
    assert res.returncode == 0 and "2023-01-05 .. 2203-03-20" in res.stdout
    one_error_line(run("data", "validate", DATA / "year_typo_dates.csv", "--implausible-date", "error"),
                   "year_typo_dates.csv", "2203-03-20")
