"""One gate: the same dirty rows give the same numbers and segments on every way into segwork.

One dirty log in two CSV files: ids written as null strings ("NA", "", "null"), amounts of 0 and below,
a row repeated within a file and rows repeated in the second file, dates day-first (13/02/2021). It goes
in through ``read_transactions`` + ``rfm_summary``, ``rfm_summary`` and ``customer_table`` of the frame
pandas reads (text, as a user reads it), a SOAP ``SegmentCustomers`` request over HTTP to the real server
(zeep), and ``segwork score`` on the pandas, DuckDB and Dask engines. Every way must give the same
frequency, recency, T and monetary value and the same RFM segment.

It lives beside the service tests for their fixtures: the model folder (``models_dir``, make_crm with
1,500 customers) and the running server (``client``).
"""
from __future__ import annotations

import sys

import pandas as pd
import pytest

import segwork.io
from segwork.cli import main
from segwork.features import customer_table, rfm_summary
from segwork.io import read_transactions
from segwork.models import score_table

END = "2021-07-31"
HISTORY = ["frequency", "recency", "T", "monetary_value"]

FILE_A = """customer_id,date,amount
C1,13/02/2021,50.00
C1,13/02/2021,50.00
C1,20/03/2021,30.00
C1,25/06/2021,0
C2,01/01/2021,20.00
C2,15/05/2021,-5.00
C2,16/07/2021,40.00
NA,14/02/2021,10.00
,15/02/2021,10.00
null,16/02/2021,10.00
C3,02/01/2021,25.00
C3,28/02/2021,35.00
C4,20/05/2021,15
C5,01/01/2021,50.0
C5,01/06/2021,0.0
C6,01/01/2021,80.0
C6,02/02/2021,20.0
C6,03/03/2021,20.0
C6,14/07/2021,45.5
"""
# rows of file A again (duplicates across files), and new ones
FILE_B = """customer_id,date,amount
C3,28/02/2021,35.00
C1,20/03/2021,30.00
C4,30/06/2021,60
C2,16/07/2021,40.00
C6,14/07/2021,45.5
NA,30/06/2021,99
"""


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """The folder of the two files, and one file of both (file A, then file B)."""
    root = tmp_path_factory.mktemp("one_gate")
    folder = root / "log"
    folder.mkdir()
    (folder / "a.csv").write_text(FILE_A)
    (folder / "b.csv").write_text(FILE_B)
    (root / "all.csv").write_text(FILE_A + FILE_B.split("\n", 1)[1])
    return folder, root / "all.csv"


@pytest.fixture(scope="module")
def raw(dirty):
    """The rows as a user reads them with pandas: every column as text (pandas reads 'NA', '', 'null' as missing)."""
    folder, _ = dirty
    return pd.concat([pd.read_csv(folder / f, dtype=str) for f in ("a.csv", "b.csv")], ignore_index=True)


@pytest.fixture(scope="module")
def reference(dirty):
    """read_transactions of the file, then rfm_summary of the frame it returns (not cleaned again)."""
    _, one_file = dirty
    tx, report = read_transactions(one_file)
    return rfm_summary(tx, observation_end=END, cleaned=report)


def test_the_reference_is_what_the_cleaning_rules_say(reference):
    # C1: 13/02 50 (its copy dropped), 20/03 30 (its copy in file B dropped), 25/06 0 dropped
    assert reference.loc["C1", HISTORY].tolist() == [1, 35.0, 168.0, 30.0]
    # C2: -5 dropped, 16/07 40 once; C5: the 0 is no purchase (one purchase only)
    assert reference.loc["C2", HISTORY].tolist() == [1, 196.0, 211.0, 40.0]
    assert reference.loc["C5", HISTORY].tolist() == [0, 0.0, 211.0, 0.0]
    assert list(reference.index) == ["C1", "C2", "C3", "C4", "C5", "C6"]  # no customer 'NA', '' or 'null'
    report = reference.attrs["cleaning_report"]
    rows = {r.rule: r.rows for r in report.rules}
    assert rows["missing_customer_id"] == 4 and rows["non_positive_amount"] == 3 and rows["duplicates"] == 5


def _same(got: pd.DataFrame, reference: pd.DataFrame, leg: str) -> None:
    assert list(got.index) == list(reference.index), leg
    pd.testing.assert_frame_equal(got[HISTORY].astype(float), reference[HISTORY].astype(float),
                                  check_names=False, check_index_type=False, obj=leg)


def test_rfm_summary_of_the_raw_frame(raw, reference):
    got = rfm_summary(raw, observation_end=END)
    _same(got, reference, "rfm_summary(raw DataFrame)")
    assert got.attrs["cleaning_report"].rows_kept == reference.attrs["cleaning_report"].rows_kept


def test_rfm_summary_of_the_folder(dirty, reference):
    folder, _ = dirty
    _same(rfm_summary(folder, observation_end=END, engine="pandas"), reference, "rfm_summary(folder, pandas)")


def test_customer_table_of_the_raw_frame(raw, reference):
    table = customer_table(raw, observation_end=END)
    _same(table, reference, "customer_table(raw DataFrame)")
    assert table.attrs["cleaning_report"].rows_kept == reference.attrs["cleaning_report"].rows_kept


def test_a_frame_is_cleaned_once(raw, dirty, monkeypatch):
    """Every way cleans once: a raw frame in rfm_summary / customer_table, a file, and a frame the caller says
    is cleaned (the report read_transactions gave) not at all."""
    calls = []
    real = segwork.io.clean_rows  # the gate: clean_transactions is clean_rows in the canonical order

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    # wherever the gate is looked up (segwork.io re-exports it; io.clean, io.read and the engines import it)
    for module in [m for name, m in sys.modules.items() if name.startswith("segwork")]:
        if getattr(module, "clean_rows", None) is real:
            monkeypatch.setattr(module, "clean_rows", counting)
    for run in (lambda: rfm_summary(raw, observation_end=END), lambda: customer_table(raw, observation_end=END),
                lambda: rfm_summary(dirty[1], observation_end=END, engine="pandas"),
                lambda: customer_table(dirty[1], observation_end=END, engine="pandas")):
        calls.clear()
        run()
        assert len(calls) == 1
    _, one_file = dirty
    tx, report = read_transactions(one_file)
    calls.clear()
    rfm_summary(tx, cleaned=report)
    customer_table(tx, cleaned=report)
    customer_table(tx, cleaned=True)
    assert calls == []


@pytest.fixture(scope="module")
def labels(store, raw):
    """The RFM segment of each customer from the customer table of the raw frame (what score computes)."""
    return score_table(store, customer_table(raw, observation_end=END))["segment_rfm"].astype(str)


def test_soap_segment_customers_over_xml(client, dirty, labels):
    """The same rows as XML: each customer's transactions, dates as xs:date. Rows without a customer id and
    rows of a negative amount cannot be written in a request (no customer to put them under; the WSDL's
    Amount is not negative): the gate drops them on the other ways anyway."""
    folder, _ = dirty
    rows = pd.concat([pd.read_csv(folder / f, dtype=str) for f in ("a.csv", "b.csv")], ignore_index=True)
    rows = rows[rows["customer_id"].notna()]
    rows = rows.assign(date=pd.to_datetime(rows["date"], format="%d/%m/%Y"), amount=rows["amount"].astype(float))
    rows = rows[rows["amount"] >= 0]
    customers = [{"customerId": cid, "transactions": {"transaction": [
        {"date": d.date(), "amount": a} for d, a in zip(own["date"], own["amount"])]}}
        for cid, own in rows.groupby("customer_id", sort=True)]
    r = client.service.SegmentCustomers(segmentation="rfm", asOf=pd.Timestamp(END).date(), customer=customers)
    got = {a["customerId"]: a["segmentName"] for a in r["assignment"]}
    assert got == labels.to_dict()


def test_soap_history_with_a_zero_amount_gets_the_score_segment(client, store):
    """[(2020-01-01, 50.0), (2020-06-01, 0.0)]: the 0 is no purchase over SOAP, as in segwork score."""
    history = [("2020-01-01", 50.0), ("2020-06-01", 0.0)]
    r = client.service.SegmentCustomers(segmentation="rfm", asOf=pd.Timestamp("2020-06-01").date(), customer=[
        {"customerId": "Z", "transactions": {"transaction": [{"date": pd.Timestamp(d).date(), "amount": a}
                                                             for d, a in history]}}])
    tx = pd.DataFrame({"customer_id": "Z", "date": [d for d, _ in history], "amount": [a for _, a in history]})
    expected = score_table(store, customer_table(tx, observation_end="2020-06-01"))["segment_rfm"]
    assert r["assignment"][0]["segmentName"] == expected["Z"]


def test_soap_customer_whose_every_row_is_dropped_gets_a_fault_naming_it(client):
    zeep = pytest.importorskip("zeep")
    with pytest.raises(zeep.exceptions.Fault) as err:
        client.service.SegmentCustomers(segmentation="rfm", asOf=pd.Timestamp("2020-06-01").date(), customer=[
            {"customerId": "OK", "transactions": {"transaction": [{"date": pd.Timestamp("2020-01-01").date(),
                                                                    "amount": 5.0}]}},
            {"customerId": "FREE", "transactions": {"transaction": [
                {"date": pd.Timestamp("2020-01-01").date(), "amount": 0.0},
                {"date": pd.Timestamp("2020-02-01").date(), "amount": 0.0}]}}])
    text = err.value.message
    assert "customer 'FREE' has no transaction the cleaning rules keep" in text
    assert "2 with zero or negative amount" in text and "'OK'" not in text


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        yield c


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "dask"])
def test_segwork_score(engine, request, models_dir, dirty, reference, labels, tmp_path, capsys):
    folder, _ = dirty
    extra = ["--scheduler", request.getfixturevalue("cluster").scheduler_address] if engine == "dask" else []
    out = tmp_path / "scores.parquet"
    status = main(["score", "--models", str(models_dir), "--transactions", str(folder), "--output", str(out),
                   "--engine", engine, "--observation-end", END, "--no-progress", *extra])
    assert status == 0, capsys.readouterr().err
    got = pd.read_parquet(out).set_index("customer_id").sort_index()
    _same(got, reference, f"segwork score --engine {engine}")
    assert got["segment_rfm"].astype(str).to_dict() == labels.to_dict()
