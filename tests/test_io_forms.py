"""Real-world input forms (issue 13, kinds 1-3): dates, local number formats, workbooks with several sheets.

The field cases in tests/data come from ../shared/field-cases; their right answers are the ones in
that README (computed by hand from the raw rows, not from segwork's output).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.features import rfm_summary
from segwork.io import CleaningRules, read_transactions

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = HERE / "data"
KEEP = CleaningRules(duplicates="keep", non_positive_amount="keep", implausible_date="keep")  # forms, not rules


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def frame(dates) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(dates))], "date": list(dates),
                         "amount": 1.0})


def dates_of(dates, **kwargs):
    tx, report = read_transactions(frame(dates), rules=KEEP, **kwargs)
    return tx.sort_values("customer_id", key=lambda s: s.str[1:].astype(int))["date"].tolist(), report


def decisions(report, topic):
    return [d for d in report.decisions if d.topic == topic]


# --------------------------------------------------------------------------- field cases


def test_dates_dayfirst_mixed_reads_one_convention():
    tx, report = read_transactions(DATA / "dates_dayfirst_mixed.csv")
    rfm = rfm_summary(tx, observation_end="2014-12-31")
    assert rfm.loc["C0", "T"] == 298
    assert rfm.loc["C2", ["frequency", "recency", "T", "monetary_value"]].tolist() == [2, 68, 292, 22.5]
    assert tx["date"].dt.month.tolist() == [3, 5, 3, 4, 5]  # 08/03 is 8 March like 21/05 is 21 May
    (d,) = decisions(report, "date convention")
    assert d.column == "date" and "day-first" in d.decision and "21/05/2014" in d.evidence
    assert "day-first" in str(report)


def test_dates_utc_offset_changes_keep_the_local_day_as_written():
    tx, report = read_transactions(DATA / "dates_utc_offset_changes.csv")
    rfm = rfm_summary(tx, observation_end="2021-12-31")
    expected = {"Z1": [2, 14, 286], "Z2": [1, 217, 278], "Z3": [0, 0, 199]}
    for customer, values in expected.items():
        assert rfm.loc[customer, ["frequency", "recency", "T"]].tolist() == values, customer
    # wall-clock time as written: 23:45+01:00 stays 23:45 on 31 October, not 22:45 UTC
    assert pd.Timestamp("2021-10-31 23:45") in tx["date"].tolist()
    assert "+01:00" in decisions(report, "time zone")[0].evidence


def test_amounts_decimal_comma_thousands_dot():
    tx, report = read_transactions(DATA / "amounts_decimal_comma_thousands_dot.csv",
                                   columns={"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"})
    assert tx["amount"].tolist() == [1250, 980, 1499, 2000, 1100, 75, 12.5]
    assert report.rows_kept == 7 and report.revenue == pytest.approx(6916.50)
    (d,) = decisions(report, "number format")
    assert d.column == "amount" and "decimal ','" in d.decision and "12,50" in d.evidence


def test_online_retail_ii_two_sheets_reads_every_sheet():
    tx, report = read_transactions(DATA / "online_retail_ii_two_sheets.xlsx")
    assert report.layout == "online_retail_ii"
    assert report.rows_read == 8 and report.rows_kept == 6
    assert sorted(tx["customer_id"].unique()) == ["12680", "13085", "16321"]
    assert report.sheets_read == ["Year 2009-2010", "Year 2010-2011"] and report.sheets_skipped == []
    # one sheet when asked
    tx1, rep1 = read_transactions(DATA / "online_retail_ii_two_sheets.xlsx", sheet_name="Year 2010-2011")
    assert rep1.rows_read == 2 and sorted(tx1["customer_id"]) == ["12680", "16321"]


# --------------------------------------------------------------------------- dates: conventions


@pytest.mark.parametrize("sep", ["/", "-", "."])
def test_one_convention_per_column_whatever_the_separator(sep):
    values = [f"08{sep}03{sep}2014", f"21{sep}05{sep}2014"]
    got, _ = dates_of(values)
    assert got == [pd.Timestamp("2014-03-08"), pd.Timestamp("2014-05-21")]
    values = [f"03{sep}08{sep}2014", f"05{sep}21{sep}2014"]
    got, report = dates_of(values)
    assert got == [pd.Timestamp("2014-03-08"), pd.Timestamp("2014-05-21")]
    assert "month-first" in decisions(report, "date convention")[0].decision


def test_a_column_proving_both_conventions_is_refused_in_one_line():
    with pytest.raises(DataError) as err:
        dates_of(["08/03/2014", "21/05/2014", "05/21/2014"])
    msg = str(err.value)
    assert "\n" not in msg and "'date'" in msg and "21/05/2014" in msg and "05/21/2014" in msg
    assert "--date-format" in msg and "dayfirst" in msg


def test_no_proof_is_assumed_in_the_report_and_can_be_overridden():
    got, report = dates_of(["08/03/2014", "09/04/2014"])
    assert got == [pd.Timestamp("2014-08-03"), pd.Timestamp("2014-09-04")]  # pandas' month-first default
    (d,) = decisions(report, "date convention")
    assert d.evidence.startswith("ASSUMED") and "dayfirst" in d.evidence
    got, report = dates_of(["08/03/2014", "09/04/2014"], dayfirst=True)
    assert got == [pd.Timestamp("2014-03-08"), pd.Timestamp("2014-04-09")]
    got, _ = dates_of(["08/03/2014", "09/04/2014"], date_format="%d/%m/%Y")
    assert got == [pd.Timestamp("2014-03-08"), pd.Timestamp("2014-04-09")]
    # DD.MM.YYYY is a day-first form: nobody writes MM.DD.YYYY
    got, _ = dates_of(["08.03.2014", "09.04.2014"])
    assert got == [pd.Timestamp("2014-03-08"), pd.Timestamp("2014-04-09")]


def test_explicit_dayfirst_wins_over_the_evidence_and_misfits_are_reported():
    got, report = dates_of(["08/03/2014", "05/21/2014"], dayfirst=True)
    assert got == [pd.Timestamp("2014-03-08")]
    assert next(r for r in report.rules if r.rule == "unparseable_date").rows == 1


# --------------------------------------------------------------------------- dates: forms

FORMS = {
    "iso date": (["2014-03-08", "2014-05-21"], ["2014-03-08", "2014-05-21"]),
    "iso T Z fraction": (["2014-03-08T10:15:00Z", "2014-05-21T23:59:59.250Z"],
                         ["2014-03-08 10:15", "2014-05-21 23:59:59.250"]),
    "iso date and date-time mixed": (["2014-03-08", "2014-05-21 13:45"], ["2014-03-08", "2014-05-21 13:45"]),
    "iso one offset": (["2014-03-08T23:30:00-05:00", "2014-05-21T01:00:00-05:00"],
                       ["2014-03-08 23:30", "2014-05-21 01:00"]),
    "offsets +0530 and Z": (["2014-03-08 23:30:00+0530", "2014-05-21 01:00:00Z"],
                            ["2014-03-08 23:30", "2014-05-21 01:00"]),
    "YYYYMMDD text": (["20140308", "20140521"], ["2014-03-08", "2014-05-21"]),
    "Y/M/D": (["2014/03/08", "2014/05/21"], ["2014-03-08", "2014-05-21"]),
    "DD.MM.YYYY HH:MM": (["08.03.2014 10:00", "21.05.2014 13:45"], ["2014-03-08 10:00", "2014-05-21 13:45"]),
    "D/M/Y date and date-time": (["8/3/2014", "21/5/2014 13:45:10"], ["2014-03-08", "2014-05-21 13:45:10"]),
    "US with AM/PM": (["3/8/2014 2:15:00 PM", "5/21/2014 9:05 AM"], ["2014-03-08 14:15", "2014-05-21 09:05"]),
    "two-digit years": (["08/03/14", "21/05/99"], ["2014-03-08", "1999-05-21"]),
    "DD-Mon-YYYY": (["08-Mar-2014", "21-May-2014"], ["2014-03-08", "2014-05-21"]),
    "D Month YY": (["8 March 14", "21 May 14"], ["2014-03-08", "2014-05-21"]),
    "Mon D, YYYY": (["Mar 8, 2014", "May 21, 2014 13:45"], ["2014-03-08", "2014-05-21 13:45"]),
    "ISO with a UTC word": (["2014-03-08 10:00:00 UTC", "2014-05-21 13:45:00 UTC"],
                            ["2014-03-08 10:00", "2014-05-21 13:45"]),
    "D/M/Y with offsets": (["08/03/2014 10:00 +0100", "21/05/2014 13:45 +0200"], ["2014-03-08 10:00", "2014-05-21 13:45"]),
    "YYYYMMDD integers": ([20140308, 20140521], ["2014-03-08", "2014-05-21"]),
    "Excel serials": ([41706, 41780.5], ["2014-03-08", "2014-05-21 12:00"]),
    "Unix seconds": ([1394236800, 1400630400], ["2014-03-08", "2014-05-21"]),
    "Unix milliseconds": ([1394236800000, 1400630400000], ["2014-03-08", "2014-05-21"]),
    "datetime cells with text": ([pd.Timestamp("2014-03-08 10:00"), "21/05/2014"], ["2014-03-08 10:00", "2014-05-21"]),
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_date_forms_of_real_exports(name):
    values, expected = FORMS[name]
    got, _ = dates_of(values)
    assert got == [pd.Timestamp(v) for v in expected]


@pytest.mark.parametrize("name", ["iso T Z fraction", "DD.MM.YYYY HH:MM", "two-digit years", "YYYYMMDD text",
                                  "offsets +0530 and Z"])
def test_date_forms_from_a_csv_file(tmp_path, name):
    values, expected = FORMS[name]
    body = "".join(f"c{i},{v},1\n" for i, v in enumerate(values))
    tx, _ = read_transactions(write(tmp_path / "t.csv", "customer_id,date,amount\n" + body))
    assert tx["date"].tolist() == [pd.Timestamp(v) for v in expected]


def test_numeric_date_forms_are_recorded():
    _, report = dates_of([20140308, 20140521])
    assert "YYYYMMDD" in decisions(report, "date form")[0].decision
    _, report = dates_of([1394236800, 1400630400])
    assert "Unix time in seconds" in decisions(report, "date form")[0].decision


@pytest.mark.parametrize("values, fragment", [
    (["8th March 2014", "21st May 2014", "2014-03-08"], "'8th March 2014'"),
    (["10:15", "11:00"], "'10:15'"),
    ([123, 456], "123"),
    ([20140308, 1400630400], "not one date form"),
])
def test_unreadable_date_forms_are_refused_in_one_line_naming_the_form(values, fragment):
    with pytest.raises(DataError) as err:
        dates_of(values)
    msg = str(err.value)
    assert "\n" not in msg and "'date'" in msg and fragment in msg and "date_format" in msg


def test_offsets_with_an_explicit_format():
    got, _ = dates_of(["2021-03-27T23:30:00+01:00", "2021-04-03T09:00:00+02:00"], date_format="%Y-%m-%dT%H:%M:%S%z")
    assert got == [pd.Timestamp("2021-03-27 23:30"), pd.Timestamp("2021-04-03 09:00")]


def test_time_zone_aware_datetimes_keep_their_wall_clock_time():
    stamps = pd.to_datetime(["2021-03-27 23:30", "2021-03-28 03:30"]).tz_localize("Europe/Berlin")
    got, _ = dates_of(stamps)
    assert got == [pd.Timestamp("2021-03-27 23:30"), pd.Timestamp("2021-03-28 03:30")]


def test_excel_workbook_with_datetime_cells_serials_and_text(tmp_path):
    raw = pd.DataFrame({"customer_id": ["a", "b", "c"],
                        "date": [pd.Timestamp("2014-03-08 10:00"), 41780, "21/05/2014"], "amount": [1, 2, 3]})
    raw.to_excel(tmp_path / "t.xlsx", index=False)
    tx, _ = read_transactions(tmp_path / "t.xlsx")
    assert tx["date"].tolist() == [pd.Timestamp("2014-03-08 10:00"), pd.Timestamp("2014-05-21"),
                                   pd.Timestamp("2014-05-21")]


# --------------------------------------------------------------------------- numbers

NUMBERS = {
    # name: (sep, cells, expected)
    "German with proof": (";", ["1.250", "980", "12,50"], [1250, 980, 12.5]),
    "German thousands and decimals": (";", ["1.234.567,89", "0,99", "2.000"], [1234567.89, 0.99, 2000]),
    "US with thousands commas": (",", ['"1,250.00"', "980", '"2,000"'], [1250, 980, 2000]),
    "space thousands, decimal comma": (";", ["1 250,00", "2 000,5", "12,50"], [1250, 2000.5, 12.5]),
    "no-break space thousands": (";", ["1\u00a0250,00", "3,5"], [1250, 3.5]),
    "apostrophe thousands (Swiss)": (",", ["1'250.00", "12.50"], [1250, 12.5]),
    "euro symbol both sides": (";", ["€ 12,50", "1.250,00 €", "EUR 3,00"], [12.5, 1250, 3]),
    "dollar and negatives": (",", ['"$1,250.00"', "(12.50)", "12.50-", "-3.00", "USD 20"],
                             [1250, -12.5, -12.5, -3, 20]),
    "leading zero proves the decimal": (",", ["0.250", "1.250"], [0.25, 1.25]),
    "several thousands dots": (",", ["1.234.567", "1.250"], [1234567, 1250]),
    "tab file with decimal comma": ("\t", ["12,5", "3"], [12.5, 3]),
    "Brazilian real": (";", ["R$ 1.250,00", "R$ 9,90"], [1250, 9.9]),
    "Scandinavian kroner": (";", ["kr 1 250,00", "99,50 kr"], [1250, 99.5]),
    "currency code suffix": (",", ["12.50 EUR", "1250 EUR"], [12.5, 1250]),
    "unicode minus": (";", ["\u221212,50", "3,00"], [-12.5, 3]),
}


@pytest.mark.parametrize("name", sorted(NUMBERS))
def test_number_formats_of_real_exports(tmp_path, name):
    sep, cells, expected = NUMBERS[name]
    body = "".join(sep.join((f"c{i}", "2024-01-05", cell)) + "\n" for i, cell in enumerate(cells))
    tx, report = read_transactions(write(tmp_path / "t.csv", sep.join(("customer_id", "date", "amount")) + "\n" + body),
                                   rules=KEEP)
    got = tx.sort_values("customer_id", key=lambda s: s.str[1:].astype(int))["amount"].tolist()
    assert got == pytest.approx(expected)
    assert next(r for r in report.rules if r.rule == "bad_amount").rows == 0


def test_a_column_mixing_decimal_marks_is_refused_in_one_line(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id;date;amount\na;2024-01-05;12.5\nb;2024-01-05;12,50\n")
    with pytest.raises(DataError) as err:
        read_transactions(path)
    msg = str(err.value)
    assert "\n" not in msg and "'amount'" in msg and "'12.5'" in msg and "'12,50'" in msg and "--decimal" in msg


def test_ambiguous_thousands_groups_follow_the_evidence_or_are_refused(tmp_path):
    # ';' file: the European convention, recorded as an assumption
    path = write(tmp_path / "semi.csv", "customer_id;date;amount\na;2024-01-05;1.250\nb;2024-01-05;980\n")
    tx, report = read_transactions(path)
    assert sorted(tx["amount"]) == [980, 1250]
    (d,) = decisions(report, "number format")
    assert d.decision.startswith("ASSUMED") and "1.250" in d.decision and "--decimal" in d.evidence
    # another column proves the decimal comma: 1.000 units
    path = write(tmp_path / "price.csv", "customer_id,date,quantity,price\na,2024-01-05,\"1.000\",\"0,25\"\n"
                 "b,2024-01-05,3,\"2,50\"\n")
    tx, report = read_transactions(path)
    assert sorted(tx["amount"]) == [7.5, 250]
    # no evidence anywhere: refused, never a silent factor of 1000
    path = write(tmp_path / "comma.csv", "customer_id,date,amount\na,2024-01-05,1.250\nb,2024-01-05,980\n")
    with pytest.raises(DataError) as err:
        read_transactions(path)
    assert "'1.250'" in str(err.value) and "--decimal" in str(err.value)
    tx, _ = read_transactions(path, decimal=",")
    assert sorted(tx["amount"]) == [980, 1250]
    tx, _ = read_transactions(path, decimal=".")
    assert sorted(tx["amount"]) == [1.25, 980]


def test_malformed_numbers_are_bad_amounts_not_guesses(tmp_path):
    path = write(tmp_path / "t.csv", "customer_id;date;amount\na;2024-01-05;12,5,5\nb;2024-01-05;five\n"
                 "c;2024-01-05;3,50\n")
    tx, report = read_transactions(path)
    assert tx["amount"].tolist() == [3.5]
    assert next(r for r in report.rules if r.rule == "bad_amount").rows == 2


def test_number_decision_speed_path_uses_unique_values():
    # many rows, few distinct values: the decision runs on the distinct strings only
    raw = pd.DataFrame({"customer_id": np.arange(200_000).astype(str), "date": "2024-01-05",
                        "amount": np.tile(["1.250,00", "12,50", "980"], 200_000 // 3 + 1)[:200_000]})
    tx, _ = read_transactions(raw)
    assert set(tx["amount"]) == {1250.0, 12.5, 980.0}


# --------------------------------------------------------------------------- workbooks


def retail_sheet(invoice: str, customer: float, date: str) -> pd.DataFrame:
    return pd.DataFrame({"Invoice": [invoice], "StockCode": ["85048"], "Description": ["X"], "Quantity": [2],
                         "InvoiceDate": [pd.Timestamp(date)], "Price": [1.5], "Customer ID": [customer],
                         "Country": ["France"]})


def test_workbook_sheets_in_other_layouts_are_named_as_skipped(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["exported by the shop system"]}).to_excel(xl, sheet_name="About", index=False)
        retail_sheet("1", 1.0, "2010-01-01").to_excel(xl, sheet_name="2010", index=False)
        retail_sheet("2", 2.0, "2011-01-01").to_excel(xl, sheet_name="2011", index=False)
        pd.DataFrame({"customer_id": ["9"], "date": ["2011-01-01"], "amount": [1]}).to_excel(
            xl, sheet_name="Manual", index=False)
        pd.DataFrame().to_excel(xl, sheet_name="Empty", index=False)
    tx, report = read_transactions(path)
    assert report.sheets_read == ["2010", "2011"] and sorted(tx["customer_id"]) == ["1", "2"]
    assert [name for name, _ in report.sheets_skipped] == ["About", "Manual", "Empty"]
    text = str(report)
    assert all(f"SHEET SKIPPED '{n}'" in text for n in ("About", "Manual", "Empty"))
    tx, report = read_transactions(path, sheet_name="Manual")
    assert tx["customer_id"].tolist() == ["9"]
    with pytest.raises(DataError, match="no sheet 'Nope'.*'2010'"):
        read_transactions(path, sheet_name="Nope")
    # a sheet named like a number is the sheet of that name; other numbers are positions
    tx, report = read_transactions(path, sheet_name=2011)
    assert tx["customer_id"].tolist() == ["2"] and report.sheets_read == ["2011"]
    tx, report = read_transactions(path, sheet_name=1)
    assert tx["customer_id"].tolist() == ["1"] and report.sheets_read == ["2010"]
    with pytest.raises(DataError, match="no sheet 7"):
        read_transactions(path, sheet_name=7)


def test_canonical_workbook_with_yearly_sheets_and_error_rows_name_the_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        for year, customer in (("2023", "a"), ("2024", None)):
            pd.DataFrame({"customer_id": [customer], "date": [f"{year}-01-05"], "amount": [1.0]}).to_excel(
                xl, sheet_name=year, index=False)
    with pytest.raises(DataError, match="row 2 of sheet '2024'"):
        read_transactions(path, rules=CleaningRules(missing_customer_id="error"))


# --------------------------------------------------------------------------- CLI


def run(*args):
    return subprocess.run([sys.executable, "-W", "default", "-m", "segwork.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("rows", [
    "a,08/03/2014,1\nb,21/05/2014,1\nc,05/21/2014,1\n",  # both conventions
    "a,8th of March 2014,1\nb,21st of May 2014,1\n",  # a form segwork does not read (pandas would warn here)
    "a,2024-01-05,12.5\nb,2024-01-05,\"12,50\"\n",  # two decimal marks
])
def test_validate_refuses_with_exactly_one_stderr_line(tmp_path, rows):
    bad = write(tmp_path / "bad.csv", "customer_id,date,amount\n" + rows)
    res = run("data", "validate", bad)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.csv" in lines[0], res.stderr


def test_validate_prints_decisions_and_sheets():
    res = run("data", "validate", DATA / "amounts_decimal_comma_thousands_dot.csv", "--map", "Kunde=customer_id",
              "--map", "Datum=date", "--map", "Betrag=amount")
    assert res.returncode == 0, res.stderr
    assert "decimal ','" in res.stdout and "6,916.50" in res.stdout and res.stderr == ""
    res = run("data", "validate", DATA / "online_retail_ii_two_sheets.xlsx")
    assert res.returncode == 0 and "'Year 2009-2010', 'Year 2010-2011'" in res.stdout and "rows read   8" in res.stdout
    res = run("data", "validate", DATA / "online_retail_ii_two_sheets.xlsx", "--sheet", "Year 2010-2011", "--json")
    assert res.returncode == 0 and '"rows_read": 2' in res.stdout
    res = run("data", "validate", DATA / "dates_dayfirst_mixed.csv", "--dayfirst")
    assert res.returncode == 0 and "given by dayfirst" in res.stdout


def test_workbook_number_cells_are_numbers_and_text_cells_are_decided(tmp_path):
    raw = pd.DataFrame({"customer_id": ["a", "b", "c"], "date": ["2024-01-05"] * 3,
                        "amount": [1250.5, "12,50", "1.000,25"]})
    raw.to_excel(tmp_path / "t.xlsx", index=False)
    tx, _ = read_transactions(tmp_path / "t.xlsx")
    assert tx["amount"].tolist() == [1250.5, 12.5, 1000.25]


def test_cdnow_yyyymmdd_is_recorded_as_the_layouts_format():
    _, report = read_transactions(ROOT / "data" / "CDNOW_sample.txt", rules=KEEP)
    (d,) = decisions(report, "date format")
    assert d.decision == "'%Y%m%d'" and d.evidence == "the cdnow layout"


# --------------------------------------------------------------------------- properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DAYS = st.dates(min_value=pd.Timestamp("1970-01-01").date(), max_value=pd.Timestamp("2060-12-31").date())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.lists(DAYS, min_size=1, max_size=25), dayfirst=st.booleans(), sep=st.sampled_from("/-."))
def test_property_numeric_dates_read_back_under_one_convention(days, dayfirst, sep):
    fmt = sep.join(("%d", "%m", "%Y") if dayfirst else ("%m", "%d", "%Y"))
    text = [d.strftime(fmt) for d in days]
    truth = [pd.Timestamp(d) for d in days]
    got, _ = dates_of(text, dayfirst=dayfirst)
    assert got == truth
    got, report = dates_of(text)
    (d,) = decisions(report, "date convention")
    proved = any(x.day > 12 and x.day != x.month for x in days)
    if proved:
        assert got == truth and not d.evidence.startswith("ASSUMED")
    else:  # nothing proves it: the report says what was assumed
        assert d.evidence.startswith("ASSUMED")
        assert (got == truth) == (("day-first" in d.decision) == dayfirst or all(x.day == x.month for x in days))


@settings(max_examples=60, deadline=None)
@given(cents=st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=20),
       style=st.sampled_from(["de", "us", "ch", "fr"]))
def test_property_local_number_formats_read_back_exactly(tmp_path_factory, cents, style):
    sep, thousands, decimal = {"de": (";", ".", ","), "us": (",", ",", "."), "ch": (",", "'", "."),
                               "fr": (";", " ", ",")}[style]

    def fmt(c):
        whole = f"{c // 100:,}".replace(",", thousands)
        cell = f"{whole}{decimal}{c % 100:02d}"
        return f'"{cell}"' if sep in cell else cell

    body = "".join(sep.join((f"c{i}", "2024-01-05", fmt(c))) + "\n" for i, c in enumerate(cents))
    path = write(tmp_path_factory.mktemp("n") / "t.csv", sep.join(("customer_id", "date", "amount")) + "\n" + body)
    tx, _ = read_transactions(path, rules=KEEP)
    got = tx.sort_values("customer_id", key=lambda s: s.str[1:].astype(int))["amount"].tolist()
    assert got == pytest.approx([c / 100 for c in cents], rel=1e-12)
