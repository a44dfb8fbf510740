"""`segwork report --dataset PATH`: the file is read once, up front, with the user's reading options."""
from __future__ import annotations

import json
from segwork.report.history import newest_run

LOAD = ("from segwork.datasets import load_dataset\nfrom segwork.report import save_metrics\n"
        "d = load_dataset(dataset)\nr = d.cleaning_report\n"
        "save_metrics({'rows': len(d.transactions), 'revenue': float(d.transactions['amount'].sum()),\n"
        "              'source': r.source, 'read': r.rows_read, 'duplicates': next(x.rows for x in r.rules\n"
        "              if x.rule == 'duplicates'), 'name': d.name}, output_dir)")
PARAMS = 'dataset = "synthetic"\noutput_dir = "."'
EXPORT = "Kunde;Datum;Betrag\nK1;2024-01-05;1,50\nK1;2024-01-05;1,50\nK2;2024-02-01;10,00\n"


def test_a_mapped_semicolon_file_is_read_once_and_notebooks_see_its_cleaning_report(tmp_path, make_nb, run_cli):
    notebooks = tmp_path / "nbs"
    make_nb(notebooks / "01_load.ipynb", PARAMS, LOAD)
    export = tmp_path / "export.csv"
    export.write_bytes(EXPORT.encode("cp1252"))
    res = run_cli("report", "--dataset", str(export), "--notebooks", str(notebooks), "--output", str(tmp_path / "out"),
                  "--no-progress", "--map", "Kunde=customer_id", "--map", "Datum=date", "--map", "Betrag=amount")
    assert res.returncode == 0, res.stderr
    run = newest_run(tmp_path / "out")
    metrics = json.loads((run / "01_load" / "metrics.json").read_text())
    # the original file's report (not that of the prepared Parquet copy), its source without the local path:
    # the file lies outside the working folder, so its name alone
    assert metrics == {"rows": 2, "revenue": 11.5, "source": "export.csv", "read": 3, "duplicates": 1,
                       "name": "export.csv"}
    record = json.loads((run / "run.json").read_text())
    assert record["cleaning"]["rows_kept"] == 2 and (run / "data" / "transactions.parquet").exists()
    assert export.read_bytes() == EXPORT.encode("cp1252")  # the input is never modified


def test_an_unusable_file_stops_before_any_run_folder(tmp_path, make_nb, run_cli):
    notebooks = tmp_path / "nbs"
    make_nb(notebooks / "01_load.ipynb", PARAMS, LOAD)
    export = tmp_path / "export.csv"
    export.write_text(EXPORT)
    res = run_cli("report", "--dataset", str(export), "--notebooks", str(notebooks), "--output", str(tmp_path / "out"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "'customer_id' is missing" in res.stderr and "--map" in res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_reading_options_need_a_file(tmp_path, make_nb, run_cli):
    notebooks = tmp_path / "nbs"
    make_nb(notebooks / "01_load.ipynb", PARAMS, LOAD)
    res = run_cli("report", "--dataset", "cdnow", "--sep", ";", "--notebooks", str(notebooks),
                  "--output", str(tmp_path / "out"))
    assert res.returncode == 2 and "only apply to --dataset PATH" in res.stderr


def test_no_local_absolute_path_reaches_a_page_or_the_index(tmp_path, make_nb, run_cli):
    """A file under the working folder is shown relative to it (page 01's "Read from", the index's "Data set",
    the parameter table); run.json keeps the whole path."""
    notebooks = tmp_path / "nbs"
    make_nb(notebooks / "01_load.ipynb", PARAMS, LOAD)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "export.csv").write_bytes(EXPORT.encode("cp1252"))
    res = run_cli("report", "--dataset", "data/export.csv", "--notebooks", str(notebooks), "--output",
                  str(tmp_path / "out"), "--no-progress", "--map", "Kunde=customer_id", "--map", "Datum=date",
                  "--map", "Betrag=amount", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = newest_run(tmp_path / "out")
    assert json.loads((run / "01_load" / "metrics.json").read_text())["source"] == "data/export.csv"
    index = (run / "index.html").read_text()
    assert "<code>data/export.csv</code>" in index and str(tmp_path / "data") not in index
    record = json.loads((run / "run.json").read_text())
    assert record["dataset"] == str((tmp_path / "data" / "export.csv").resolve())
    assert record["dataset_shown"] == "data/export.csv"
    assert next(p for p in record["parameters"] if p["name"] == "dataset")["value"] == "data/export.csv"
    assert str(tmp_path / "data") not in res.stdout
