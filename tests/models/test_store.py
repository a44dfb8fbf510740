"""The model folder: built atomically with a manifest, loaded only when complete, unchanged and of this version."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from segwork.cli import main
from segwork.clv.predict import bg_nbd_inputs
from segwork.errors import DataError
from segwork.models.store import build_models, file_sha256, load_models


def test_manifest_records_version_data_range_time_and_a_hash_of_every_file(models_dir, crm):
    manifest = json.loads((models_dir / "manifest.json").read_text())
    assert manifest["segwork_version"] and manifest["dataset"] == "synthetic"
    assert manifest["date_range"] == [str(crm.observation_start.date()), str(crm.observation_end.date())]
    assert manifest["created"].endswith("+00:00")
    files = sorted(p.relative_to(models_dir).as_posix() for p in models_dir.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == [f for f in files if f != "manifest.json"]
    for rel, digest in manifest["files"].items():
        assert file_sha256(models_dir / rel) == digest
    assert not list(models_dir.parent.glob(".models.*"))  # no temporary folder left behind


def test_clv_parameters_are_json_and_reproduce_the_prepared_table(store, models_dir):
    doc = json.loads((models_dir / "clv.json").read_text())
    assert set(doc["transaction_model"]["params"]) == {"r", "alpha", "a", "b"}
    x = bg_nbd_inputs(store.table)
    p = store.transaction_model.p_alive(x["frequency"], x["recency"], x["T"])
    np.testing.assert_allclose(np.asarray(p), store.table["p_alive"].to_numpy(), rtol=1e-9)
    assert set(store.segmentations) == set(json.loads((models_dir / "manifest.json").read_text())["segmentations"])
    assert len(store.table) == 1_500 and all(isinstance(i, str) for i in store.table.index)


def _copy(models_dir, tmp_path):
    return shutil.copytree(models_dir, tmp_path / "copy")


@pytest.mark.parametrize("damage, expected", [
    ("tamper", "does not match the SHA-256"),
    ("remove", "incomplete model folder"),
    ("version", "rebuild it"),
    ("manifest", "not a model folder"),
])
def test_a_damaged_folder_is_refused_in_one_line(models_dir, tmp_path, capsys, damage, expected):
    folder = _copy(models_dir, tmp_path)
    if damage == "tamper":
        path = folder / "segmentations" / "rfm.pkl"
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "remove":
        (folder / "segmentations" / "kmeans.pkl").unlink()
    elif damage == "version":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["segwork_version"] = "9.9.0"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        (folder / "manifest.json").unlink()
    with pytest.raises(DataError, match=expected):
        load_models(folder)
    assert main(["serve", "--models", str(folder), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err


def test_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["serve", "--models", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such model folder" in err and err.count("\n") == 1


def test_build_refuses_a_folder_that_is_not_a_model_folder_and_replaces_a_model_folder(tmp_path, crm, models_dir):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a segwork model folder"):
        build_models(crm, other)
    assert (other / "notes.txt").read_text() == "mine"
    again = shutil.copytree(models_dir, tmp_path / "again")
    before = json.loads((again / "manifest.json").read_text())["created"]
    build_models(crm, again, random_state=0)
    assert load_models(again).manifest["n_customers"] == 1_500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "other"]
    assert before  # the rebuilt folder has its own creation time (same or later)


def test_models_build_takes_the_margin(tmp_path, capsys):
    """One margin: the folder's CLV is at DEFAULT_MARGIN unless --margin says otherwise (issue 21)."""
    import numpy as np

    out = tmp_path / "m"
    assert main(["models", "build", "--dataset", "synthetic", "--n-customers", "300", "--output", str(out),
                 "--margin", "1"]) == 0
    assert "values: expected revenue over 12 months" in capsys.readouterr().out
    store = load_models(out)
    assert store.clv_settings["margin"] == 1.0
    from segwork.datasets import make_crm
    from segwork.prepare import prepare

    np.testing.assert_allclose(store.table["clv"], prepare(make_crm(300, random_state=0)).table["clv"] / 0.3,
                               rtol=1e-9)


def test_models_build_command(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["models", "build", "--dataset", "synthetic", "--n-customers", "800", "--output", str(out)]) == 0
    store = load_models(out)
    assert store.manifest["n_customers"] == 800
    # what the CLV numbers rest on is printed: one line per model (and per fallback), as the folder keeps it
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("values: CLV (margin 30 %) over 12 months") and store.clv_settings["margin"] == 0.3
    printed = printed[1:]
    assert printed[:-1] == [f"  {line}" for line in store.clv_record.lines()] and len(printed) >= 3
    # and what ExplainDefection can say (the plain synthetic profile: channel and region are its drivers)
    assert printed[-1] == "  ExplainDefection: reasons from the drivers acquisition_channel, region"
    assert main(["models", "build", "--dataset", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_models_build_says_each_long_step_on_stderr(tmp_path, capsys):
    """Progress on stderr, as `segwork export` does: what it loads, fits and writes, before each step."""
    out = tmp_path / "m"
    assert main(["models", "build", "--dataset", "synthetic", "--n-customers", "300", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    steps = [line for line in captured.err.splitlines() if not line.startswith("note: ")]  # notes: held warnings
    assert all(line.startswith("models build: ") and line.endswith(" ...") for line in steps), steps
    said = " | ".join(steps)
    for words in ("loading the synthetic data (300 customers)", "fitting the CLV models", "segmentations",
                  "explaining defection", f"writing the model folder {out}"):
        assert words in said
    assert said.index("loading") < said.index("fitting") < said.index("segmentations") < said.index("writing")
    assert "models build:" not in captured.out  # stdout keeps the result lines only


def test_models_build_from_a_file_records_its_name_not_its_path(tmp_path, crm):
    path = tmp_path / "deep" / "export.csv"
    path.parent.mkdir()
    tx = crm.transactions
    tx[tx["customer_id"].isin(tx["customer_id"].unique()[:600])][["customer_id", "date", "amount"]].to_csv(
        path, index=False)
    assert main(["models", "build", "--dataset", str(path), "--output", str(tmp_path / "m")]) == 0
    manifest = load_models(tmp_path / "m").manifest
    assert manifest["dataset"] == "export.csv" and str(tmp_path) not in json.dumps(manifest)


def test_models_build_fits_each_clv_model_once(crm, tmp_path, monkeypatch):
    """Issue 18: prepare, the relationship typer and the saved models used to fit the MBG/NBD three times."""
    from segwork.clv import GammaGamma, ModifiedBetaGeo

    calls = {"ModifiedBetaGeo": 0, "GammaGamma": 0}
    for cls in (ModifiedBetaGeo, GammaGamma):
        plain = cls.fit

        def counting(self, *args, _plain=plain, _name=cls.__name__, **kwargs):
            calls[_name] += 1
            return _plain(self, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", counting)
    folder = build_models(crm, tmp_path / "m", random_state=0, source="synthetic")
    assert calls == {"ModifiedBetaGeo": 1, "GammaGamma": 1}
    store = load_models(folder)
    # the relationship typer typed with that one fit: its P(alive) is the table's, to the last bit
    rel = store.segmentations["relationship"]
    assert rel.params["p_alive_source"] == "model" and rel.params["p_alive_model"] == "MBG/NBD"
    np.testing.assert_array_equal(rel.params["p_alive"].reindex(store.table.index).to_numpy(),
                                  store.table["p_alive"].to_numpy())
