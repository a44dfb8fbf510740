"""Real-world inputs, round 3 (issue 17): UTF-16 text, several currencies, implausible dates, ids in
scientific notation, report-style workbooks with title rows.

The field cases in tests/data come from ../shared/field-cases; their right answers are the ones in that
README (computed by hand from the raw rows, not from segwork's output). Each kind is also tested beyond its
one file (other encodings, other placeholders, CSV title lines, ...).
"""
from __future__ import annotations

import codecs
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segwork import DataError
from segwork.features import rfm_summary
from segwork.io import PLACEHOLDER_DATES, CleaningRules, read_transactions, text_dialect

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


# --------------------------------------------------------------------------- 1. UTF-16 text

UTF16_ANSWER = {"A1": [2, 69, 80, 35], "B2": [1, 35, 65, 10], "C3": [0, 0, 0, 0]}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_utf16_tab_unicode_text(engine):
    path = DATA / "utf16_tab_unicode_text.txt"
    assert path.read_bytes().startswith(codecs.BOM_UTF16_LE)
    rfm = rfm_summary(path, engine=engine, observation_end="2023-03-31")
    assert rfm_rows(rfm) == UTF16_ANSWER
    tx, report = read_transactions(path)
    assert len(tx) == 6 and tx["amount"].sum() == pytest.approx(215.49)
    assert any(d.topic == "encoding" and "UTF-16" in d.decision for d in report.decisions)
    assert text_dialect(path) == ("utf-16", "\t", 0)


def test_utf16_with_an_explicit_encoding_and_without_a_bom(tmp_path):
    text = (DATA / "utf16_tab_unicode_text.txt").read_bytes().decode("utf-16")
    tx_given, _ = read_transactions(DATA / "utf16_tab_unicode_text.txt", encoding="utf-16")
    no_bom = tmp_path / "no_bom.txt"
    no_bom.write_bytes(text.encode("utf-16-le"))
    with pytest.raises(DataError, match=r"no_bom.txt: looks like a binary file.*--encoding utf-16-le"):
        read_transactions(no_bom)
    tx, _ = read_transactions(no_bom, encoding="utf-16-le")
    pd.testing.assert_frame_equal(tx, tx_given)
    utf32 = tmp_path / "utf32.csv"  # the UTF-32 LE mark starts like the UTF-16 LE one
    utf32.write_bytes(text.replace("\t", ",").encode("utf-32"))
    pd.testing.assert_frame_equal(read_transactions(utf32)[0], tx_given)
    assert rfm_rows(rfm_summary(utf32, engine="duckdb", observation_end="2023-03-31")) == UTF16_ANSWER
    with pytest.raises(DataError, match="unknown encoding 'utf-17'"):
        read_transactions(no_bom, encoding="utf-17")


def test_utf16_on_the_cli_and_the_engine_that_reads_no_csv():
    res = run("data", "validate", DATA / "utf16_tab_unicode_text.txt")
    assert res.returncode == 0 and "rows kept   6" in res.stdout and res.stderr == "", res.stderr
    with pytest.raises(DataError, match=r"utf16_tab_unicode_text.txt: engine='dask' reads Parquet") as err:
        rfm_summary(DATA / "utf16_tab_unicode_text.txt", engine="dask")
    assert "\n" not in str(err.value)


def test_utf16_encoding_found_from_the_bom_is_not_called_given(tmp_path):
    """The encoding decision says where it came from: the file's byte-order mark, or --encoding."""
    path = DATA / "utf16_tab_unicode_text.txt"
    res = run("data", "validate", path)
    assert res.returncode == 0, res.stderr
    assert "encoding: UTF-16 (detected from its byte-order mark FF FE)" in res.stdout, res.stdout
    assert "given by" not in res.stdout
    res = run("data", "validate", path, "--encoding", "utf-16")
    assert res.returncode == 0 and "encoding: UTF-16 (given by encoding= / --encoding)" in res.stdout, res.stdout
    no_bom = tmp_path / "no_bom.txt"
    no_bom.write_bytes(path.read_bytes().decode("utf-16").encode("utf-16-le"))
    (decision,) = [d for d in read_transactions(no_bom, encoding="utf-16-le")[1].decisions if d.topic == "encoding"]
    assert decision.decision == "UTF-16-LE" and decision.evidence == "given by encoding= / --encoding"
    utf32 = tmp_path / "utf32.csv"  # the UTF-32 LE mark starts with the UTF-16 LE one: the longer mark wins
    utf32.write_bytes(path.read_bytes().decode("utf-16").replace("\t", ",").encode("utf-32"))
    (decision,) = [d for d in read_transactions(utf32)[1].decisions if d.topic == "encoding"]
    assert decision.evidence == "detected from its byte-order mark FF FE 00 00"


# --------------------------------------------------------------------------- 2. several currencies


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_mixed_currencies(engine):
    path = DATA / "mixed_currencies.csv"
    with pytest.raises(DataError) as err:
        rfm_summary(path, engine=engine)
    msg = str(err.value)
    assert str(path) in msg and "column 'amount'" in msg and "5 currencies" in msg
    assert "split the file" in msg and "\n" not in msg
    (a, ca, b, cb), = re.findall(r"e\.g\. '(.+?)' \((\w+)\) and '(.+?)' \((\w+)\)", msg)
    rows = path.read_text(encoding="utf-8").splitlines()
    assert ca != cb and any(r.endswith("," + a) for r in rows) and any(r.endswith("," + b) for r in rows)
    with pytest.raises(DataError, match=r"e\.g\. '€12\.50' \(EUR\) and '\$15\.00' \(USD\)"):  # file order
        read_transactions(path)
    one_error_line(run("data", "validate", path), "mixed_currencies.csv", "'amount'", "€12.50", "$15.00")


def test_one_currency_written_several_ways_still_reads(tmp_path):
    path = tmp_path / "eur.csv"
    path.write_text("customer_id;date;amount\na;2024-01-05;12,50 €\nb;2024-01-06;EUR 1.234,00\nc;2024-01-07;€3\n"
                    "d;2024-01-08;4,00\n", encoding="utf-8")
    tx, report = read_transactions(path)
    assert tx.set_index("customer_id")["amount"].to_dict() == {"a": 12.5, "b": 1234.0, "c": 3.0, "d": 4.0}
    assert any(d.topic == "currency" for d in report.decisions)
    dollars = tmp_path / "usd.csv"
    dollars.write_text("customer_id,date,amount\na,2024-01-05,$12.50\nb,2024-01-06,USD 7\n", encoding="utf-8")
    assert read_transactions(dollars)[0]["amount"].tolist() == [12.5, 7.0]  # '$' is read as USD
    cad = tmp_path / "cad.csv"
    cad.write_text("customer_id,date,amount\na,2024-01-05,$12.50\nb,2024-01-06,7 CAD\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"2 currencies \(USD, CAD\)"):
        read_transactions(cad)


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


# --------------------------------------------------------------------------- 4. ids in scientific notation


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_excel_scientific_ids(engine):
    path = DATA / "excel_scientific_ids.csv"
    with pytest.raises(DataError) as err:
        rfm_summary(path, engine=engine)
    msg = str(err.value)
    assert str(path) in msg and "column 'customer_id'" in msg and "'1.23457E+11'" in msg and "(4 row(s))" in msg
    assert "scientific notation" in msg and "as text" in msg and "\n" not in msg
    one_error_line(run("data", "validate", path), "excel_scientific_ids.csv", "1.23457E+11", "Text")


def test_scientific_ids_never_merge_silently(tmp_path):
    short = tmp_path / "short.csv"  # 1.23E+05 and 123000 would be one customer
    short.write_text("customer_id,date,amount\n123000,2023-01-11,5\n1.23E+05,2023-02-11,6\n")
    with pytest.raises(DataError, match=r"'1.23E\+05'"):
        read_transactions(short)
    frame = pd.DataFrame({"customer_id": ["7", "8.0E+3"], "date": ["2023-01-01"] * 2, "amount": [1.0, 2.0]})
    with pytest.raises(DataError, match="<DataFrame>: column 'customer_id' holds ids in scientific notation"):
        read_transactions(frame)
    invoices = tmp_path / "inv.csv"
    invoices.write_text("invoice_id,customer_id,date,amount\n1.2E+07,a,2023-01-11,5\n")
    with pytest.raises(DataError, match="column 'invoice_id'"):
        read_transactions(invoices)
    ok = tmp_path / "ok.csv"  # ids with letters, whole numbers and spreadsheet floats still read
    ok.write_text("customer_id,date,amount\nE12,2023-01-11,5\n12E,2023-01-12,5\n13085.0,2023-01-13,5\n"
                  "123456789012,2023-01-14,5\n")
    assert set(read_transactions(ok)[0]["customer_id"]) == {"12E", "123456789012", "13085", "E12"}


# --------------------------------------------------------------------------- 5. title rows above the header

TITLE_ANSWER = {"R1": [1, 31, 85, 30], "R2": [1, 59, 70, 25], "R3": [0, 0, 0, 0]}


def test_excel_title_rows():
    path = DATA / "excel_title_rows.xlsx"
    tx, report = read_transactions(path)
    assert rfm_rows(rfm_summary(tx, observation_end="2023-03-31")) == TITLE_ANSWER
    (header,) = [d for d in report.decisions if d.topic == "header row"]
    assert "row 4 of sheet 'Report'" in header.decision and "Sales by customer" in header.evidence
    (total,) = [d for d in report.decisions if d.topic == "total rows"]
    assert "dropped 1 total row" in total.decision and "row 10: customer_id=Total" in total.evidence
    assert report.rows_read == 5 and sum(r.rows for r in report.rules) == 0
    given, rep = read_transactions(path, header_row=4)
    pd.testing.assert_frame_equal(given, tx)
    assert any(d.evidence == "given by header_row=" for d in rep.decisions)
    assert rfm_rows(rfm_summary(path, engine="pandas", observation_end="2023-03-31")) == TITLE_ANSWER


def test_excel_title_rows_on_the_cli():
    res = run("data", "validate", DATA / "excel_title_rows.xlsx")
    assert res.returncode == 0 and "header row: row 4 of sheet 'Report'" in res.stdout, res.stderr
    assert "total rows: dropped 1" in res.stdout
    res = run("data", "validate", DATA / "excel_title_rows.xlsx", "--header-row", "4")
    assert res.returncode == 0 and "given by header_row=" in res.stdout, res.stderr
    one_error_line(run("data", "validate", DATA / "excel_title_rows.xlsx", "--header-row", "0"), "--header-row")


def test_a_header_that_cannot_be_found_names_the_option(tmp_path):
    book = tmp_path / "report.xlsx"
    rows = [["Umsatz je Kunde", None, None], [None, None, None], ["Kunde", "Datum", "Betrag"],
            ["K1", "2023-01-05", 10], ["K1", "2023-02-05", 12], ["Summe", None, 22]]
    pd.DataFrame(rows).to_excel(book, header=False, index=False)
    with pytest.raises(DataError) as err:
        read_transactions(book)
    msg = str(err.value)
    assert "row 1 of sheet 'Sheet1' looks like a title ('Umsatz je Kunde')" in msg
    assert "--header-row N" in msg and "--map" in msg
    mapping = {"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"}
    tx, report = read_transactions(book, columns=mapping)  # with the mapping the header row is found
    assert tx["amount"].tolist() == [10.0, 12.0]
    assert [d.topic for d in report.decisions if d.column == "(workbook)" or d.topic == "total rows"] == \
        ["header row", "total rows"]
    tx3, _ = read_transactions(book, columns=mapping, header_row=3)
    assert tx3["amount"].tolist() == [10.0, 12.0]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_csv_title_lines_are_the_same_kind(tmp_path, engine):
    path = tmp_path / "report.csv"
    path.write_text("Sales by customer, Q1 2023\nGenerated 2023-04-01 by CRM\n\ncustomer_id;date;amount\n"
                    "R1;2023-01-05;20\nR1;2023-02-05;30\nR2;2023-01-20;15\nR2;2023-03-20;25\nR3;2023-03-31;10\n")
    rfm = rfm_summary(path, engine=engine, observation_end="2023-03-31")
    assert rfm_rows(rfm) == TITLE_ANSWER
    assert text_dialect(path) == ("utf-8", ";", 3)
    if engine == "pandas":
        (d,) = [d for d in rfm.attrs["cleaning_report"].decisions if d.topic == "header row"]
        assert d.decision.startswith("line 4")
        tx, _ = read_transactions(path, header_row=4)
        assert len(tx) == 5
    bad = tmp_path / "bad.csv"
    bad.write_text("Sales by customer\nKunde;Datum;Betrag\nR1;2023-01-05;20\n")
    with pytest.raises(DataError, match=r"bad.csv: row 1 of the file looks like a title \('Sales by customer'\)"):
        read_transactions(bad)
    with pytest.raises(DataError, match="cannot read as CSV|required column"):
        read_transactions(bad, header_row=1)


def test_csv_header_hints_only_for_title_lines(tmp_path):
    title = tmp_path / "title.csv"  # a title with a comma: two cells, neither a column segwork knows
    title.write_text("Sales, Q1 2023\ncustomer,day,value\na,2024-01-01,5\n")
    with pytest.raises(DataError, match=r"required column 'customer_id' is missing .*; but row 1 of the file looks "
                                        r"like a title \('Sales, Q1 2023'\).*--header-row N"):
        read_transactions(title)
    mapping = {"customer": "customer_id", "day": "date", "value": "amount"}
    assert read_transactions(title, columns=mapping)[0]["amount"].tolist() == [5.0]
    assert read_transactions(title, columns=mapping, header_row=2)[0]["amount"].tolist() == [5.0]
    short = tmp_path / "short.csv"  # a real header that lacks a column: no title hint
    short.write_text("customer_id,date\na,2024-01-01,5\n")
    with pytest.raises(DataError) as err:
        read_transactions(short)
    assert "required column 'amount' is missing" in str(err.value) and "title" not in str(err.value)


def test_a_header_split_by_another_separator_is_not_called_a_title(tmp_path):
    """'Kunde;Datum;Betrag' above amounts with a decimal comma ('1,50'): the body's sniffed ',' does not split the
    header, ';' splits it and every row alike, so it is column names to map, not a title line."""
    path = tmp_path / "export.csv"
    path.write_text("Kunde;Datum;Betrag\nK1;2024-01-05;1,50\nK2;2024-02-01;10,00\n")
    with pytest.raises(DataError) as err:
        read_transactions(path)
    assert "required column 'customer_id' is missing" in str(err.value) and "title" not in str(err.value)
    tx, _ = read_transactions(path, columns={"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"})
    assert tx["amount"].tolist() == [1.5, 10.0]


# --------------------------------------------------------------------------- a misspelt --map target


def test_a_misspelt_map_target_is_refused_at_once_naming_the_nearest_target(tmp_path):
    from segwork.io import check_column_map

    with pytest.raises(DataError, match=r"'custmer_id' is not a column segwork reads; did you mean 'customer_id'\? "
                                        r"the targets are customer_id, date, amount, quantity"):
        read_transactions(DATA / "amounts_decimal_comma_thousands_dot.csv",
                          columns={"Kunde": "custmer_id", "Datum": "date", "Betrag": "amount"})
    check_column_map({"Kunde": "customer_id", "Preis": "price"})  # known targets pass
    res = run("data", "validate", DATA / "amounts_decimal_comma_thousands_dot.csv", "--map", "Kunde=custmer_id")
    one_error_line(res, "--map 'Kunde=custmer_id'", "did you mean 'customer_id'?")
    res = run("score", "--models", tmp_path / "no-models", "--transactions", DATA / "dates_dayfirst_mixed.csv",
              "--output", tmp_path / "s.parquet", "--map", "Kunde=custmer_id")  # before the models are even read
    one_error_line(res, "--map 'Kunde=custmer_id'", "did you mean 'customer_id'?")


def test_score_help_and_result_line_read_well():
    res = run("score", "--help")
    assert res.returncode == 0
    assert "--sep ';' \\\n                --map Kunde=customer_id" in res.stdout
    assert not re.search(r"\S {4,}--map", res.stdout)
