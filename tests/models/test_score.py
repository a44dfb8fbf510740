"""``segwork score``: bulk scores of a transaction log in Parquet parts, equal to the in-memory scores.

The model folder is the service tests' (``models_dir``: make_crm with 1,500 customers, built once per
session). The transactions it was built from are written to three Parquet files; scoring them with the
folder's own models must give back what the build computed (``p_alive``, ``clv`` in the stored table,
the segment labels of the stored segmentations), and every engine the same as the in-memory scoring.
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.cli import main
from segwork.features import customer_table
from segwork.models import score_table, score_transactions

pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def tx_dir(tmp_path_factory, crm):
    """The build's transactions as three Parquet files, split across customers' histories (rows shuffled)."""
    folder = tmp_path_factory.mktemp("score") / "tx"
    folder.mkdir()
    tx = crm.transactions.sample(frac=1.0, random_state=1).reset_index(drop=True)
    for i, rows in enumerate(np.array_split(np.arange(len(tx)), 3)):
        tx.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def in_memory(store, crm):
    """The scores of the whole log in one pandas table (the reference every engine must equal)."""
    return score_table(store, customer_table(crm.transactions, observation_end=crm.observation_end))


def _end(crm) -> str:
    return str(pd.Timestamp(crm.observation_end).date())


def _read(path, like: pd.DataFrame) -> pd.DataFrame:
    out = pd.read_parquet(path)
    assert out["customer_id"].is_unique
    out = out.set_index("customer_id")
    assert set(out.index) == set(like.index)
    return out.reindex(like.index)


def _at_a_value_threshold(store, clv: pd.Series, rtol: float) -> pd.Series:
    """Customers whose CLV is (within rtol) a value-tier threshold: the build's edge customers.

    The thresholds are the smallest CLV of each tier in the build, i.e. some customer's CLV exactly; summing
    that customer's amounts in another order (DuckDB, shuffled files) moves it by an ulp and may cross it.
    """
    cuts = np.asarray(store.segmentations["value"].segmenter.thresholds_, dtype=float)
    near = np.abs(clv.to_numpy()[:, None] - cuts[None, :]) <= rtol * np.abs(cuts)[None, :]
    return pd.Series(near.any(axis=1), index=clv.index)


def _assert_same(out: pd.DataFrame, ref: pd.DataFrame, rtol: float, store) -> None:
    assert list(out.columns) == list(ref.columns)
    edge = _at_a_value_threshold(store, ref["clv"], rtol)
    assert edge.sum() <= len(store.segmentations["value"].segmenter.thresholds_)
    for col in ref.columns:
        if not pd.api.types.is_float_dtype(ref[col]):
            same = out[col].astype(str) == ref[col].astype(str)
            if col == "segment_value":
                same |= edge
            assert same.all(), (col, list(ref.index[~same.to_numpy()][:5]))
        else:
            np.testing.assert_allclose(out[col].to_numpy(), ref[col].to_numpy(), rtol=rtol, atol=0, err_msg=col)


def test_in_memory_scores_give_back_what_the_build_computed(store, in_memory):
    # independent of the scoring code: the build's own prepared table and segmentation labels
    table = store.table.reindex(in_memory.index)
    np.testing.assert_allclose(in_memory["p_alive"], table["p_alive"], rtol=1e-12)
    np.testing.assert_allclose(in_memory["clv"], table["clv"], rtol=1e-12)
    np.testing.assert_allclose(in_memory["frequency"], table["frequency"])
    for name, column in (("value", "segment_value"), ("relationship", "relationship_type"),
                         ("kmeans", "segment_kmeans")):
        labels = store.segmentations[name].labels.astype(str).reindex(in_memory.index)
        assert (in_memory[column] == labels).all(), name
    # needs: the survey is not in a transaction log; non-respondents are placed from behaviour either way
    quiet = ~table["has_survey"].astype(bool)
    labels = store.segmentations["needs"].labels.astype(str).reindex(in_memory.index)
    assert quiet.sum() > 100 and (in_memory.loc[quiet, "segment_needs"] == labels[quiet]).all()
    assert "segment_apriori" not in in_memory.columns  # needs the profile
    # propensity: 1 - exp(-E[purchases in 30 days]) is below the expected purchases of the 12-month horizon
    assert ((in_memory["p_buy_30d"] > 0) & (in_memory["p_buy_30d"] < 1)).all()


def test_cli_duckdb_in_chunks_equals_the_in_memory_scores(store, models_dir, tx_dir, crm, in_memory, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    status = main(["score", "--models", str(models_dir), "--transactions", str(tx_dir / "*.parquet"),
                   "--output", str(out), "--chunk-size", "400", "--observation-end", _end(crm)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "chunk 4/4" in captured.err  # 1,500 customers in 4 hash parts, one progress line each
    assert f"{len(in_memory):,} customers scored" in captured.out
    _assert_same(_read(out, in_memory), in_memory, rtol=1e-9, store=store)
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]  # no temp file or part folder left


def test_pandas_engine_equals_the_in_memory_scores(store, models_dir, tx_dir, crm, in_memory, tmp_path):
    result = score_transactions(models_dir, tx_dir, tmp_path / "s.parquet", engine="pandas", chunk_size=700,
                                observation_end=_end(crm), progress=False)
    assert result.customers == len(in_memory) and result.chunks == 3
    _assert_same(_read(tmp_path / "s.parquet", in_memory), in_memory, rtol=1e-9, store=store)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        yield c


def test_dask_on_an_existing_cluster_equals_the_in_memory_scores(store, cluster, models_dir, tx_dir, crm, in_memory,
                                                                   tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    status = main(["score", "--models", str(models_dir), "--transactions", str(tx_dir), "--output", str(out),
                   "--scheduler", cluster.scheduler_address, "--chunk-size", "500", "--observation-end", _end(crm)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "(dask, " in captured.out and "score: partition 1/" in captured.err
    _assert_same(_read(out, in_memory), in_memory, rtol=1e-6, store=store)


def _old_version(models_dir, tmp_path):
    copy = tmp_path / "old-models"
    shutil.copytree(models_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["segwork_version"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("case", ["no models folder", "no file matches", "other segwork version",
                                  "no amount column", "scheduler without dask"])
def test_bad_input_is_one_error_line_exit_2_and_the_old_output_stays(case, models_dir, tx_dir, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    models, transactions, extra = models_dir, tx_dir, []
    if case == "no models folder":
        models, expected = tmp_path / "nowhere", "no such model folder"
    elif case == "no file matches":
        transactions, expected = tmp_path / "tx-*.parquet", "matches no file"
    elif case == "other segwork version":
        models, expected = _old_version(models_dir, tmp_path), "built by segwork '0.0.1'"
    elif case == "no amount column":
        transactions = tmp_path / "tx.parquet"
        pd.read_parquet(tx_dir / "part-0.parquet").drop(columns="amount").to_parquet(transactions)
        expected = "no 'amount' column"
    else:
        extra, expected = ["--engine", "duckdb", "--scheduler", "tcp://127.0.0.1:1"], "engine 'dask' only"
    status = main(["score", "--models", str(models), "--transactions", str(transactions), "--output", str(out),
                   "--no-progress", *extra])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert out.read_bytes() == b"yesterday's scores"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _dead_pid() -> int:
    """The id of a process that has ended (a child run to completion)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_a_rerun_removes_the_leftovers_of_a_killed_run_and_keeps_those_of_running_ones(models_dir, tx_dir, crm,
                                                                                        tmp_path):
    """A run killed with kill -9 leaves its temporary output and DuckDB parts; the next run removes them (their
    process is gone), keeps the temporaries of a process still running, and leaves no file of its own."""
    import os
    import time

    from segwork.models.output import HOST_TAG

    out = tmp_path / "scores.parquet"
    dead = f"{_dead_pid()}-{HOST_TAG}"
    stale_file = tmp_path / f".scores.parquet.pid{dead}.abc123.tmp"
    stale_file.write_bytes(b"PAR1 half written")
    stale_parts = tmp_path / f".score-parts.pid{dead}.xyz789"
    (stale_parts / "_part=0").mkdir(parents=True)
    (stale_parts / "_part=0" / "data_0.parquet").write_bytes(b"PAR1")
    old_style = tmp_path / ".scores.parquet.q1w2e3.tmp"  # an earlier version's name, without a pid
    old_style.write_bytes(b"old")
    hour_ago = time.time() - 2 * 3600
    os.utime(old_style, (hour_ago, hour_ago))
    live = tmp_path / f".scores.parquet.pid{os.getppid()}-{HOST_TAG}.live.tmp"  # a running process's: kept
    elsewhere = tmp_path / f".scores.parquet.pid{_dead_pid()}-00000000.abc.tmp"  # another machine's: kept
    elsewhere.write_bytes(b"theirs")
    live.write_bytes(b"in progress")
    other_output = tmp_path / f".other.parquet.pid{dead}.abc.tmp"  # another output's: not this run's business
    other_output.write_bytes(b"x")
    result = score_transactions(models_dir, tx_dir, out, engine="duckdb", chunk_size=700, observation_end=_end(crm),
                                progress=False)
    assert result.customers == 1_500 and out.exists()
    assert not stale_file.exists() and not stale_parts.exists() and not old_style.exists()
    assert live.exists() and other_output.exists() and elsewhere.exists()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([out.name, live.name, other_output.name, elsewhere.name]), left


# --------------------------------------------------------------------------- real-world inputs (issue 17, round 3)

FIELD = __import__("pathlib").Path(__file__).parents[1] / "data"
HISTORIES = ["frequency", "recency", "T", "monetary_value"]


def _score_cli(models_dir, path, out, engine, *extra):
    return main(["score", "--models", str(models_dir), "--transactions", str(path), "--output", str(out),
                 "--engine", engine, "--no-progress", *extra])


def test_utf16_tab_unicode_text_scores_on_every_engine(models_dir, cluster, tmp_path, capsys):
    """Excel's "Unicode Text" (UTF-16 LE, tabs): DuckDB reads a UTF-8 copy, Dask and pandas the file itself."""
    got = {}
    for engine in ("pandas", "duckdb", "dask"):
        out = tmp_path / f"{engine}.parquet"
        extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
        status = _score_cli(models_dir, FIELD / "utf16_tab_unicode_text.txt", out, engine, *extra)
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert "3 customers scored" in captured.out and "histories to 2023-03-31" in captured.out
        got[engine] = pd.read_parquet(out).set_index("customer_id").sort_index()
    assert {c: got["pandas"].loc[c, HISTORIES].tolist() for c in got["pandas"].index} == \
        {"A1": [2, 69, 80, 35], "B2": [1, 35, 65, 10], "C3": [0, 0, 0, 0]}
    for engine in ("duckdb", "dask"):
        pd.testing.assert_frame_equal(got[engine][got["pandas"].columns], got["pandas"], check_dtype=False,
                                      rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.parquet", "duckdb.parquet", "pandas.parquet"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_year_typo_dates_do_not_set_the_observation_end(models_dir, tmp_path, capsys, engine):
    status = _score_cli(models_dir, FIELD / "year_typo_dates.csv", tmp_path / "s.parquet", engine)
    captured = capsys.readouterr()
    assert status == 0 and "histories to 2023-03-31" in captured.out, captured.err
    scores = pd.read_parquet(tmp_path / "s.parquet").set_index("customer_id").sort_index()
    assert {c: scores.loc[c, HISTORIES].tolist() for c in scores.index} == \
        {"P1": [2, 59, 85, 27.5], "P2": [0, 0, 70, 0], "P3": [0, 0, 0, 0]}


@pytest.mark.parametrize("case, expected", [
    ("excel_scientific_ids.csv", "excel_scientific_ids.csv: column 'customer_id' holds ids in scientific notation"),
    ("mixed_currencies.csv", "mixed_currencies.csv: column 'amount'"),
    ("not utf-8", "DuckDB cannot read it"),
])
def test_unreadable_field_cases_are_one_error_line_on_duckdb(models_dir, tmp_path, capsys, case, expected):
    path = FIELD / case
    if case == "not utf-8":  # cp1252 text: DuckDB's CSV reader stops; pandas reads it
        path = tmp_path / "cp1252.csv"
        path.write_bytes("customer_id,date,amount\nMüller,2023-01-05,10\n".encode("cp1252"))
    status = _score_cli(models_dir, path, tmp_path / "s.parquet", "duckdb")
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert ".score-parts" not in err
    assert not (tmp_path / "s.parquet").exists()


def test_csv_title_lines_score_on_every_engine(models_dir, cluster, tmp_path, capsys):
    """Title lines above a CSV header (the kind of excel_title_rows.xlsx) are skipped on every engine."""
    path = tmp_path / "report.csv"
    path.write_text("Sales by customer, Q1 2023\nGenerated 2023-04-01 by CRM\n\ncustomer_id,date,amount\n"
                    "R1,2023-01-05,20\nR1,2023-02-05,30\nR2,2023-01-20,15\nR2,2023-03-20,25\nR3,2023-03-31,10\n")
    for engine in ("pandas", "duckdb", "dask"):
        out = tmp_path / f"{engine}.parquet"
        extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
        status = _score_cli(models_dir, path, out, engine, *extra)
        captured = capsys.readouterr()
        assert status == 0 and "histories to 2023-03-31" in captured.out, (engine, captured.err)
        scores = pd.read_parquet(out).set_index("customer_id").sort_index()
        assert {c: scores.loc[c, HISTORIES].tolist() for c in scores.index} == \
            {"R1": [1, 31, 85, 30], "R2": [1, 59, 70, 25], "R3": [0, 0, 0, 0]}, engine


# --------------------------------------------------------------------------- score reads what data validate reads

GERMAN_MAP = ["--map", "Kunde=customer_id", "--map", "Datum=date", "--map", "Betrag=amount"]


def _scores(path) -> dict:
    scores = pd.read_parquet(path).set_index("customer_id").sort_index()
    return {c: scores.loc[c, HISTORIES].tolist() for c in scores.index}


def _one_line(capsys, status, *fragments) -> str:
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def test_score_takes_the_reading_options_of_data_validate():
    """One argparse helper for both subcommands: every option of validate is an option of score."""
    from segwork.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    validate = next(a for a in sub["data"]._actions if a.dest == "data_command").choices["validate"]

    def options(parser):
        return {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help", "--json")}

    assert options(validate) <= options(sub["score"])
    assert {"--map", "--sep", "--encoding", "--header-row", "--implausible-date"} <= options(sub["score"])


def test_excel_title_rows_scores_on_pandas(models_dir, tmp_path, capsys):
    """The pandas engine reads a workbook through read_transactions (header below title rows, total row dropped)."""
    out = tmp_path / "s.parquet"
    status = _score_cli(models_dir, FIELD / "excel_title_rows.xlsx", out, "pandas")
    captured = capsys.readouterr()
    assert status == 0 and "3 customers scored (pandas" in captured.out, captured.err
    assert "histories to 2023-03-31" in captured.out
    assert _scores(out) == {"R1": [1, 31, 85, 30], "R2": [1, 59, 70, 25], "R3": [0, 0, 0, 0]}
    status = _score_cli(models_dir, FIELD / "excel_title_*.xlsx", out, "pandas", "--header-row", "4")  # a glob too
    captured = capsys.readouterr()
    assert status == 0 and "out-of-core" not in captured.err, captured.err
    assert _scores(out) == {"R1": [1, 31, 85, 30], "R2": [1, 59, 70, 25], "R3": [0, 0, 0, 0]}


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_excel_title_rows_on_an_out_of_core_engine_names_the_pandas_engine(models_dir, tmp_path, capsys, engine):
    status = _score_cli(models_dir, FIELD / "excel_title_rows.xlsx", tmp_path / "s.parquet", engine)
    err = _one_line(capsys, status, "excel_title_rows.xlsx", f"the {engine} engine does not read Excel",
                    "--engine pandas")
    assert "engine='pandas'" not in err
    assert not (tmp_path / "s.parquet").exists()


GERMAN_ANSWER = {"G1": [2, 69, 124, 1239.5], "G2": [1, 72, 109, 1100], "G3": [1, 70, 70, 12.5]}


@pytest.mark.parametrize("engine", ["pandas", "dask"])
def test_amounts_decimal_comma_thousands_dot_scores_with_the_map(models_dir, cluster, tmp_path, capsys, engine):
    """'1.250' is 1250 (a ';' file whose '12,50' proves the decimal comma): 1250, 980, 1499, 2000, 1100, 75, 12.50."""
    out = tmp_path / "s.parquet"
    extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
    status = _score_cli(models_dir, FIELD / "amounts_decimal_comma_thousands_dot.csv", out, engine, *GERMAN_MAP,
                        "--sep", ";", *extra)
    captured = capsys.readouterr()
    assert status == 0 and "histories to 2023-05-09" in captured.out, captured.err
    assert _scores(out) == GERMAN_ANSWER
    from segwork.io import read_transactions

    tx, report = read_transactions(FIELD / "amounts_decimal_comma_thousands_dot.csv",
                                   columns={"Kunde": "customer_id", "Datum": "date", "Betrag": "amount"})
    assert sorted(tx["amount"]) == [12.5, 75, 980, 1100, 1250, 1499, 2000]
    assert report.revenue == pytest.approx(6916.50)


def test_amounts_decimal_comma_thousands_dot_on_duckdb_names_the_engines_that_read_it(models_dir, tmp_path, capsys):
    """DuckDB honours the map but reads plain numbers only: one line naming the value and --engine pandas."""
    status = _score_cli(models_dir, FIELD / "amounts_decimal_comma_thousands_dot.csv", tmp_path / "s.parquet",
                        "duckdb", *GERMAN_MAP)
    err = _one_line(capsys, status, "amounts_decimal_comma_thousands_dot.csv: column 'amount' uses a decimal comma "
                    "/ a thousands dot ('12,50', '1.250'): the duckdb engine reads only plain numbers with a decimal "
                    "point (12.50); score it with --engine pandas or --engine dask")
    assert "proven by" not in err
    assert "engine='pandas'" not in err and ".score-parts" not in err
    status = _score_cli(models_dir, FIELD / "amounts_decimal_comma_thousands_dot.csv", tmp_path / "s.parquet",
                        "duckdb", *GERMAN_MAP, "--decimal", ",")
    _one_line(capsys, status, "--decimal", "the duckdb engine", "--engine pandas or --engine dask")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_map_naming_no_column_is_one_line_on_every_engine(models_dir, tmp_path, capsys):
    for engine in ("pandas", "duckdb"):
        status = _score_cli(models_dir, FIELD / "dates_dayfirst_mixed.csv", tmp_path / "s.parquet", engine,
                            "--map", "Kunde=customer_id")
        _one_line(capsys, status, "dates_dayfirst_mixed.csv", "'Kunde'", "not in the file")


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_dates_dayfirst_mixed_scores_on_every_engine(models_dir, cluster, tmp_path, capsys, engine):
    """21/05/2014 proves day-first for the column: 08/03/2014 is 8 March. DuckDB decides with io's date reader."""
    out = tmp_path / "s.parquet"
    extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
    status = _score_cli(models_dir, FIELD / "dates_dayfirst_mixed.csv", out, engine, "--observation-end", "2014-12-31",
                        *extra)
    captured = capsys.readouterr()
    assert status == 0 and "histories to 2014-12-31" in captured.out, captured.err
    scores = _scores(out)
    assert scores["C0"][2] == 298
    assert scores["C2"] == [2, 68, 292, 22.5]
    assert scores["C1"] == [0, 0, 224, 0]


def test_day_first_dates_that_contradict_are_refused_on_duckdb_as_io_refuses_them(models_dir, tmp_path, capsys):
    path = tmp_path / "both.csv"
    path.write_text("customer_id,date,amount\nA,21/05/2014,10\nB,05/21/2014,20\n")
    status = _score_cli(models_dir, path, tmp_path / "s.parquet", "duckdb")
    _one_line(capsys, status, "both.csv", "date")
    status = _score_cli(models_dir, FIELD / "dates_dayfirst_mixed.csv", tmp_path / "s.parquet", "duckdb",
                        "--date-format", "%d/%m/%Y")
    assert status == 0, capsys.readouterr().err
    assert _scores(tmp_path / "s.parquet")["C2"] == [2, 68, 68, 22.5]  # as of its last date, 2014-05-21


def test_utf16_without_a_bom_scores_with_encoding_on_every_engine(models_dir, cluster, tmp_path, capsys):
    """Without --encoding each engine names --encoding utf-16-le (which score now takes); with it each reads."""
    text = (FIELD / "utf16_tab_unicode_text.txt").read_bytes().decode("utf-16")
    path = tmp_path / "no_bom.txt"
    path.write_bytes(text.encode("utf-16-le"))
    for engine in ("duckdb", "pandas"):
        status = _score_cli(models_dir, path, tmp_path / "s.parquet", engine)
        _one_line(capsys, status, "no_bom.txt", "--encoding utf-16-le")
    for engine in ("duckdb", "pandas", "dask"):
        out = tmp_path / f"{engine}.parquet"
        extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
        status = _score_cli(models_dir, path, out, engine, "--encoding", "utf-16-le", *extra)
        captured = capsys.readouterr()
        assert status == 0 and "histories to 2023-03-31" in captured.out, (engine, captured.err)
        assert _scores(out) == {"A1": [2, 69, 80, 35], "B2": [1, 35, 65, 10], "C3": [0, 0, 0, 0]}, engine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.parquet", "duckdb.parquet", "no_bom.txt",
                                                          "pandas.parquet"]


def test_header_row_and_cleaning_rules_reach_the_engines(models_dir, tmp_path, capsys):
    path = tmp_path / "report.csv"
    path.write_text("Sales by customer\nR1;x;y\ncustomer_id,date,amount\nR1,2023-01-05,20\nR1,2023-02-05,30\n"
                    "R2,2023-01-20,15\nR2,2203-03-20,25\nR3,2023-03-31,10\n")
    for engine in ("pandas", "duckdb"):
        out = tmp_path / f"{engine}.parquet"
        status = _score_cli(models_dir, path, out, engine, "--header-row", "3")
        captured = capsys.readouterr()
        assert status == 0 and "histories to 2023-03-31" in captured.out, captured.err
        assert _scores(out)["R2"] == [0, 0, 70, 0], engine  # the 2203 typo dropped
        status = _score_cli(models_dir, path, out, engine, "--header-row", "3", "--implausible-date", "error")
        _one_line(capsys, status, "report.csv", "implausible", "date=2203-03-20")


def test_dask_shuffle_log_lines_are_not_printed(models_dir, tmp_path):
    """distributed logs 'Shuffle ... initialized / deactivated' as warnings: not after the one result line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "segwork.cli", "score", "--models", str(models_dir),
                          "--transactions", str(FIELD / "dates_dayfirst_mixed.csv"), "--output",
                          str(tmp_path / "s.parquet"), "--engine", "dask", "--no-progress"],
                         capture_output=True, text=True, cwd=root, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("\n") == 1 and "3 customers scored (dask" in res.stdout
    assert "Shuffle" not in res.stderr and "Shuffle" not in res.stdout, res.stderr


def _score_subprocess(models_dir, path, out, *extra):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "segwork.cli", "score", "--models", str(models_dir),
                           "--transactions", str(path), "--output", str(out), "--no-progress", *extra],
                          capture_output=True, text=True, cwd=root, env=env, timeout=300)


@pytest.mark.parametrize("case, fragment", [
    ("excel_scientific_ids.csv", "column 'customer_id' holds ids in scientific notation, e.g. '1.23457E+11'"),
    ("mixed_currencies.csv", "column 'amount' holds amounts in 5 currencies"),
])
def test_a_refusal_on_a_local_dask_cluster_is_one_line_without_the_worker_log(models_dir, tmp_path, case, fragment):
    """The worker's "Compute Failed ... Traceback" log is not printed; the one line names the file, not <DataFrame>."""
    res = _score_subprocess(models_dir, FIELD / case, tmp_path / "s.parquet", "--engine", "dask")
    assert res.returncode == 2 and res.stdout == "", res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {FIELD / case}: {fragment}"), res.stderr
    assert "<DataFrame>" not in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s.parquet").exists()


def test_a_local_dask_cluster_starts_no_dashboard_even_when_port_8787_is_taken(models_dir, tmp_path):
    import socket

    taken = socket.socket()
    try:
        try:
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        except OSError:
            pass  # already in use by something else: the same case
        res = _score_subprocess(models_dir, FIELD / "dates_dayfirst_mixed.csv", tmp_path / "s.parquet",
                                "--engine", "dask", "--observation-end", "2014-12-31")
    finally:
        taken.close()
    assert res.returncode == 0, res.stderr
    assert "3 customers scored (dask" in res.stdout
    assert "8787" not in res.stderr and "HTTP server" not in res.stderr and "UserWarning" not in res.stderr, res.stderr


def _mixed_folder(folder):
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,date,amount\nP1,2023-01-05,10\nP2,2023-02-05,20\nP3,2023-03-05,30\n"
                                  "P1,2023-03-01,15\n")
    pd.DataFrame({"customer_id": ["Q1", "Q2", "Q1"], "date": pd.to_datetime(["2023-01-10", "2023-02-10", "2023-03-10"]),
                  "amount": [5.0, 7.0, 9.0]}).to_parquet(folder / "b.parquet")
    return folder


def test_a_folder_of_csv_and_parquet_files_is_read_whole_or_refused_never_half(models_dir, tmp_path, capsys):
    """Before, a folder's CSV files were skipped silently when it held Parquet files too (2 of 5 customers scored)."""
    folder = _mixed_folder(tmp_path / "tx")
    status = _score_cli(models_dir, folder, tmp_path / "s.parquet", "pandas")
    captured = capsys.readouterr()
    assert status == 0 and "5 customers scored (pandas" in captured.out, captured.err
    assert _scores(tmp_path / "s.parquet") == {"P1": [1, 55, 64, 15], "P2": [0, 0, 33, 0], "P3": [0, 0, 5, 0],
                                               "Q1": [1, 59, 59, 9], "Q2": [0, 0, 28, 0]}
    for engine in ("duckdb", "dask"):
        status = _score_cli(models_dir, folder, tmp_path / f"{engine}.parquet", engine)
        err = _one_line(capsys, status, "Parquet files (b.parquet) and CSV files (a.csv)",
                        f"the {engine} engine reads one kind", "--engine pandas")
        assert "engine='pandas'" not in err
        assert not (tmp_path / f"{engine}.parquet").exists()
    from segwork.features import rfm_summary

    assert sorted(rfm_summary(folder, engine="pandas").index) == ["P1", "P2", "P3", "Q1", "Q2"]
    with pytest.raises(DataError, match=r"b\.parquet.*a\.csv.*would skip"):
        rfm_summary(folder, engine="duckdb")


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "dask"])
def test_score_prints_what_cleaning_and_reading_decided_on_every_engine(models_dir, cluster, tmp_path, capsys, engine):
    """After the result line: rows read / kept, each rule that dropped rows, every ASSUMED reading decision."""
    extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
    status = _score_cli(models_dir, FIELD / "dates_dayfirst_mixed.csv", tmp_path / "s.parquet", engine,
                        "--date-format", "%m/%d/%Y", *extra)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "2 customers scored" in captured.out and "1 chunk," in captured.out
    lines = [ln for ln in captured.err.splitlines() if "apriori" not in ln]
    assert lines[0] == "cleaning: 5 rows read, 2 kept"
    assert re.match(r"^  unparseable date +3 rows dropped", lines[1]), lines
    assert len(lines) == 2, lines
    path = tmp_path / "ambiguous.csv"
    path.write_text("customer_id,date,amount\nA,01/02/2023,10\nB,03/04/2023,20\n,03/04/2023,5\n")
    status = _score_cli(models_dir, path, tmp_path / "s.parquet", engine, *extra)
    captured = capsys.readouterr()
    assert status == 0 and "histories to 2023-03-04" in captured.out, captured.err
    lines = [ln for ln in captured.err.splitlines() if "apriori" not in ln]
    assert lines[0] == "cleaning: 3 rows read, 2 kept"
    assert re.match(r"^  missing customer id +1 rows dropped", lines[1]), lines
    assert lines[2].startswith("  reading decision: date: date convention: month-first (M/D/Y) (ASSUMED: "), lines
    assert len(lines) == 3, lines


def test_a_given_encoding_that_contradicts_the_byte_order_mark_is_named_on_every_engine(models_dir, cluster,
                                                                                       tmp_path, capsys):
    """--encoding latin-1 on a UTF-16 LE file with its FF FE mark: not 'no byte-order mark', not a temp path."""
    path = FIELD / "utf16_tab_unicode_text.txt"
    for engine in ("pandas", "duckdb", "dask"):
        extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
        status = _score_cli(models_dir, path, tmp_path / "s.parquet", engine, "--encoding", "latin-1", *extra)
        err = _one_line(capsys, status, f"{path}: the file starts with a UTF-16 LE byte-order mark",
                        "'latin-1' (--encoding latin-1) disagrees")
        assert ".score-parts" not in err and "no UTF-16/32 byte-order mark" not in err
    status = main(["data", "validate", str(path), "--encoding", "latin-1"])
    _one_line(capsys, status, "UTF-16 LE byte-order mark", "disagrees")
    status = _score_cli(models_dir, path, tmp_path / "s.parquet", "duckdb", "--encoding", "utf-16")  # agrees
    assert status == 0 and "3 customers scored" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]


def test_the_result_line_says_1_chunk_and_2_chunks(models_dir, tmp_path, capsys):
    for chunk_size, words in (("1000", "(pandas, 1 chunk,"), ("2", "(pandas, 2 chunks,")):
        status = _score_cli(models_dir, FIELD / "dates_dayfirst_mixed.csv", tmp_path / "s.parquet", "pandas",
                            "--chunk-size", chunk_size)
        out = capsys.readouterr().out
        assert status == 0 and "3 customers scored " + words in out, out


def test_a_missing_engine_package_is_the_same_error_as_in_rfm_summary(models_dir, tx_dir, tmp_path, monkeypatch):
    """Issue 18: score raised DataError and the engines ImportError, with two wordings, for the same missing extra."""
    import sys

    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(DataError, match=r"^engine='duckdb' needs duckdb, which is not installed: "
                                        r"pip install 'segwork\[scale\]'$"):
        score_transactions(models_dir, tx_dir, tmp_path / "s.parquet", engine="duckdb", progress=False)
    assert not (tmp_path / "s.parquet").exists()


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "dask"])
def test_missing_customer_id_error_rule_refuses_on_every_engine(models_dir, cluster, tmp_path, capsys, engine):
    """--missing-customer-id error: the dask engine dropped rows without an id before cleaning, so it never
    refused; every engine now refuses in one line."""
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nA1,2023-01-05,10\n,2023-01-06,5\nA1,2023-02-05,12\n")
    extra = ["--scheduler", cluster.scheduler_address] if engine == "dask" else []
    status = _score_cli(models_dir, path, tmp_path / "s.parquet", engine, "--missing-customer-id", "error", *extra)
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "missing customer id" in err and not (tmp_path / "s.parquet").exists()


# --------------------------------------------------------------------------- one engine layer: the same rows, the same scores


def _every_engine(models_dir, cluster, path, tmp_path, *extra, chunk_size=2) -> dict:
    """Scores and cleaning report of ``path`` on each engine (small chunks: several per run)."""
    got = {}
    for engine in ("pandas", "duckdb", "dask"):
        out = tmp_path / f"{engine}.parquet"
        result = score_transactions(models_dir, path, out, engine=engine, chunk_size=chunk_size, progress=False,
                                    scheduler=cluster.scheduler_address if engine == "dask" else None,
                                    **({"read_options": dict(extra)} if extra else {}))
        got[engine] = (pd.read_parquet(out).set_index("customer_id").sort_index(), result.report)
    for engine in ("duckdb", "dask"):
        pd.testing.assert_frame_equal(got[engine][0], got["pandas"][0], check_dtype=False, rtol=1e-12)
    return got


def _rule_rows(report, rule: str) -> int:
    return next(r.rows for r in report.rules if r.rule == rule)


def test_a_customer_called_NA_is_missing_on_every_engine(models_dir, cluster, tmp_path):
    """'NA' is a missing value to read_transactions (and customer_table); DuckDB's scan read it as an id."""
    from segwork.io import read_transactions

    path = tmp_path / "na.csv"
    path.write_text("customer_id,date,amount\nNA,2023-01-05,10\nNA,2023-02-05,30\nA1,2023-01-10,20\n"
                    "A1,2023-03-01,25\nN/A,2023-02-01,5\nB2,2023-03-31,15\n")
    got = _every_engine(models_dir, cluster, path, tmp_path)
    tx, _ = read_transactions(path)
    assert list(got["pandas"][0].index) == sorted(customer_table(tx).index) == ["A1", "B2"]
    for engine, (_, report) in got.items():
        assert _rule_rows(report, "missing_customer_id") == 3, engine


def test_an_id_written_NA_in_parquet_or_a_text_frame_is_missing_as_in_csv(models_dir, cluster, tmp_path):
    """Parquet keeps the text 'NA' (no CSV reader turns it into a missing value), and so does a DataFrame read
    with keep_default_na=False: the ids pass io.to_id / its SQL, which read the null strings as missing, so
    every engine, rfm_summary and customer_table of the frame see the customers a CSV file gives."""
    from segwork.features import rfm_summary

    frame = pd.DataFrame({"customer_id": ["NA", "NA", "A1", "A1", " null ", "B2", "None"],
                          "date": ["2023-01-05", "2023-02-05", "2023-01-10", "2023-03-01", "2023-02-01",
                                   "2023-03-31", "2023-03-02"],
                          "amount": ["10", "30", "20", "25", "5", "15", "7"]})
    path = tmp_path / "na.parquet"
    frame.to_parquet(path)
    got = _every_engine(models_dir, cluster, path, tmp_path)
    for engine, (scores, report) in got.items():
        assert sorted(scores.index) == ["A1", "B2"], engine
        assert _rule_rows(report, "missing_customer_id") == 4, engine
    assert sorted(rfm_summary(frame).index) == sorted(customer_table(frame).index) == ["A1", "B2"]


def test_day_first_dates_are_decided_once_for_every_chunk(models_dir, cluster, tmp_path):
    """Only customer Z proves the dates day-first (31/03/2023); the other customers' dates fit both forms.
    Every chunk reads them day-first, as read_transactions reads the whole file, on every engine."""
    rows = ["customer_id,date,amount"]
    for i in range(12):
        rows += [f"C{i:02d},01/02/2023,10", f"C{i:02d},{i + 1:02d}/03/2023,20"]  # 1 February, then i+1 March
    rows += ["Z,31/03/2023,15"]
    path = tmp_path / "dayfirst.csv"
    path.write_text("\n".join(rows) + "\n")
    got = _every_engine(models_dir, cluster, path, tmp_path)
    scores = got["pandas"][0]
    assert scores.loc["C00", HISTORIES].tolist()[:3] == [1, 28, 58]  # 2023-02-01 -> 03-01, to 03-31
    for engine, (_, report) in got.items():
        assert any("day-first" in str(d) or "%d/%m" in str(d) for d in report.decisions), (engine, report.decisions)


def test_exact_duplicates_across_files_count_as_duplicates_on_every_engine(models_dir, cluster, tmp_path):
    """Two files cleaned together: the row in both is one purchase (the pandas engine cleaned file by file)."""
    folder = tmp_path / "tx"
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,date,amount\nD1,2023-01-05,10\nD1,2023-02-05,30\nE2,2023-01-20,15\n")
    (folder / "b.csv").write_text("customer_id,date,amount\nD1,2023-02-05,30\nD1,2023-03-05,50\nE2,2023-03-31,25\n")
    got = _every_engine(models_dir, cluster, folder, tmp_path)
    assert got["pandas"][0].loc["D1", HISTORIES].tolist() == [2, 59, 85, 40]  # 30 once, not 30 + 30
    for engine, (_, report) in got.items():
        assert _rule_rows(report, "duplicates") == 1 and report.rows_kept == 5, engine
