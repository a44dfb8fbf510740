"""``segwork export transactions`` writes a data set's cleaned log that ``segwork score`` reads; ``export`` says
what it does before its long step."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segwork.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "online_retail_II_example.csv"


def _segwork(*args, cwd):
    return subprocess.run([sys.executable, "-m", "segwork.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_the_log_is_the_cleaned_transactions_of_the_data_set(tmp_path, suffix):
    out = tmp_path / f"tx{suffix}"
    proc = _segwork("export", "transactions", "--dataset", str(EXAMPLE), "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = load_dataset(str(EXAMPLE)).transactions.reset_index(drop=True)
    got = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"customer_id": str},
                                                                        parse_dates=["date"])
    assert len(got) == len(expected) == 818  # 826 lines less 3 without customer, 4 cancelled, 1 repeated
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["amount"].sum() == pytest.approx(expected["amount"].sum(), rel=1e-12)
    assert f"818 transactions of {expected['customer_id'].nunique()} customers" in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_score_reads_the_exported_log_and_gives_every_customer(tmp_path, models_dir, crm):
    tx = tmp_path / "tx" / "log.parquet"
    made = _segwork("export", "transactions", "--dataset", "synthetic", "--n-customers", "1500",
                    "--output", str(tx), cwd=tmp_path)  # the data models_dir was built from (make_crm(1500, 0))
    assert made.returncode == 0, made.stderr
    scored = _segwork("score", "--models", str(models_dir), "--transactions", str(tmp_path / "tx" / "*.parquet"),
                      "--output", str(tmp_path / "scores.parquet"), cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(scores) == crm.transactions["customer_id"].nunique()


def test_export_segments_says_what_it_loads_and_fits_before_it_does(tmp_path):
    proc = _segwork("export", "segments", "--dataset", "synthetic", "--n-customers", "400",
                    "--output", str(tmp_path / "s.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("export segments: ")]
    assert lines[:2] == ["export segments: loading the synthetic data (400 customers) ...",
                         "export segments: fitting the CLV models and the default segmentations (RFM, value, "
                         "relationship, clusters, needs) ..."]
    assert "of segments written" in proc.stdout  # the result stays on stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_log_has_no_float_noise_and_the_gate_reads_back_the_same_numbers(tmp_path, suffix):
    """quantity x price leaves binary noise (29.700000000000003) and quantities read as floats (6.0): the log
    says 29.7 and 6, and reading it through the gate again gives the same transactions, to 1e-9."""
    from segwork.io import read_transactions

    out = tmp_path / f"tx{suffix}"
    proc = _segwork("export", "transactions", "--dataset", str(EXAMPLE), "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = load_dataset(str(EXAMPLE)).transactions.reset_index(drop=True)
    noisy = expected["amount"].map(repr)
    assert noisy.str.contains(r"\.\d*0000000\d|\.\d*9999999\d").any()  # the data has noise to remove
    if suffix == ".csv":
        text = out.read_text()
        rows = text.splitlines()
        assert not any(s in text for s in ("0000000", "9999999")), next(
            r for r in rows if "0000000" in r or "9999999" in r)
        header = rows[0].split(",")
        quantities = [r.split(",")[header.index("quantity")] for r in rows[1:]]
        assert all(q.lstrip("-").isdigit() for q in quantities)  # 6, not 6.0
    back, report = read_transactions(out)
    assert report.rows_kept == len(expected) == len(back)
    back = back.reset_index(drop=True)
    assert back["customer_id"].tolist() == expected["customer_id"].tolist()
    assert (back["date"] == expected["date"]).all()
    for col in ("amount", "quantity"):
        assert ((back[col].astype(float) - expected[col].astype(float)).abs() < 1e-9).all(), col
