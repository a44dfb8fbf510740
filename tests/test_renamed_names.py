"""One name per idea (issue 18): the renamed keywords, flags and report parameters keep working for one release.

``seed`` is ``random_state``; ``as_of`` / ``cutoff`` (the day the histories end) are ``observation_end``;
``hit_rate_at_k``'s and ``purchase_labels``' split ``cutoff`` is ``calibration_end``. For each family: the old
name warns (FutureWarning naming both names and the release that removes it), gives identical results, and
giving both names is a TypeError (a usage error on the command line, a DataError in the report).
"""
from __future__ import annotations

import inspect
import json
import re
import shutil

import pandas as pd
import pytest

from segwork._checks import RENAMED_REMOVED_IN, renamed_keywords
from segwork.datasets import load_dataset, make_crm, plant_campaign

OLD = r"'{old}' was renamed '{new}'.*removed in segwork " + RENAMED_REMOVED_IN


def _warns(old: str, new: str):
    return pytest.warns(FutureWarning, match=OLD.format(old=re.escape(old), new=re.escape(new)))


def _says_renamed(err: str, old: str, new: str) -> None:
    """The command line says a renamed option as one ``note:`` line (segwork.io.note_line), without a source path."""
    notes = [line for line in err.splitlines()
             if line.startswith("note: ") and re.search(OLD.format(old=re.escape(old), new=re.escape(new)), line)]
    assert len(notes) == 1 and ".py:" not in notes[0], err


@pytest.fixture(scope="module")
def small():
    return make_crm(n_customers=300, random_state=2)


# --------------------------------------------------------------------------- the helper


def test_the_helper_keeps_the_function_and_shows_the_new_name():
    @renamed_keywords(seed="random_state")
    def draw(n, *, random_state=0):
        """Draw."""
        return (n, random_state)

    assert draw.__name__ == "draw" and draw.__doc__ == "Draw."
    assert list(inspect.signature(draw).parameters) == ["n", "random_state"]
    with _warns("seed", "random_state"):
        assert draw(1, seed=5) == draw(1, random_state=5)
    with pytest.raises(TypeError, match="both 'seed' and 'random_state'"):
        draw(1, seed=5, random_state=5)
    with pytest.raises(TypeError, match="must be a parameter"):
        renamed_keywords(seed="rng")(draw)


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(FutureWarning) as record:
        make_crm(n_customers=20, seed=1)
    assert record[0].filename == __file__


# --------------------------------------------------------------------------- seed -> random_state


def test_datasets_take_seed_as_random_state(small):
    with _warns("seed", "random_state"):
        old = make_crm(n_customers=300, seed=2)
    pd.testing.assert_frame_equal(old.transactions, small.transactions)
    with _warns("seed", "random_state"):
        via = load_dataset("synthetic", n_customers=300, seed=2)
    pd.testing.assert_frame_equal(via.customers, small.customers)
    day = pd.Timestamp("2024-03-01")
    with _warns("seed", "random_state"):
        a = plant_campaign(small.customers, small.truth, day, seed=3)
    b = plant_campaign(small.customers, small.truth, day, random_state=3)
    pd.testing.assert_frame_equal(a[0], b[0])
    for call in (lambda: make_crm(20, seed=1, random_state=1), lambda: load_dataset(seed=1, random_state=1),
                 lambda: plant_campaign(small.customers, small.truth, day, seed=1, random_state=1)):
        with pytest.raises(TypeError, match="give only 'random_state'"):
            call()


def test_segmentations_and_comparison_take_seed_as_random_state(small):
    from segwork import compare
    from segwork.prepare import prepare_table
    from segwork.segment import default_segmentations

    table = prepare_table(small)
    with _warns("seed", "random_state"):
        old = default_segmentations(table, seed=4, approaches=["rfm", "kmeans"])
    new = default_segmentations(table, random_state=4, approaches=["rfm", "kmeans"])
    pd.testing.assert_series_equal(old["kmeans"].labels, new["kmeans"].labels)
    with _warns("seed", "random_state"):
        a = compare(new, table, sample=100, seed=1)
    pd.testing.assert_frame_equal(a, compare(new, table, sample=100, random_state=1))
    with pytest.raises(TypeError):
        default_segmentations(table, seed=4, random_state=4)
    with pytest.raises(TypeError):
        compare(new, table, seed=1, random_state=1)


def test_simulate_takes_seed_as_random_state():
    from segwork.clv.simulate import simulate_bg_nbd

    params = dict(r=0.25, alpha=4.0, a=0.8, b=2.4)
    with _warns("seed", "random_state"):
        old = simulate_bg_nbd(200, seed=9, **params)
    pd.testing.assert_frame_equal(old, simulate_bg_nbd(200, random_state=9, **params))
    with pytest.raises(TypeError):
        simulate_bg_nbd(200, seed=9, random_state=9, **params)


def test_propensity_classifier_takes_seed_in_its_constructor_only(small):
    from segwork.act import PropensityClassifier

    assert "random_state" in inspect.signature(PropensityClassifier).parameters
    with _warns("seed", "random_state"):
        clf = PropensityClassifier(seed=7, max_iter=20)
    assert clf == PropensityClassifier(random_state=7, max_iter=20) and not hasattr(clf, "seed")
    with pytest.raises(TypeError):
        PropensityClassifier(seed=7, random_state=7)


# --------------------------------------------------------------------------- cutoff / as_of -> observation_end


def test_propensity_and_cross_sell_take_cutoff(small):
    from segwork.act import clv_propensity, purchase_labels, recommend
    from segwork.act.crosssell import basket_matrix, hit_rate_at_k
    from segwork.act.evaluation import oracle_propensity
    from segwork.act.propensity import propensity_features

    tx, cut = small.transactions, "2024-06-30"
    with _warns("cutoff", "calibration_end"):
        pd.testing.assert_series_equal(purchase_labels(tx, cutoff=cut), purchase_labels(tx, calibration_end=cut))
    with _warns("cutoff", "observation_end"):
        pd.testing.assert_frame_equal(clv_propensity(tx, cutoff=cut, transaction_model="bgnbd"),
                                      clv_propensity(tx, observation_end=cut, transaction_model="bgnbd"))
    with _warns("cutoff", "observation_end"):
        pd.testing.assert_frame_equal(propensity_features(tx, cutoff=cut), propensity_features(tx, observation_end=cut))
    with _warns("cutoff", "observation_end"):
        pd.testing.assert_frame_equal(basket_matrix(tx, cutoff=cut), basket_matrix(tx, observation_end=cut))
    with _warns("cutoff", "observation_end"):
        pd.testing.assert_series_equal(oracle_propensity(small.truth, cutoff=cut),
                                       oracle_propensity(small.truth, observation_end=cut))
    rec = recommend(tx, 2, observation_end=cut, method="popularity")
    with _warns("cutoff", "observation_end"):
        pd.testing.assert_frame_equal(recommend(tx, 2, cutoff=cut, method="popularity"), rec)
    with pytest.warns(FutureWarning) as record:
        old = hit_rate_at_k(rec, tx, cutoff=cut, end="2024-09-30")
    assert {str(w.message).split(":")[0] for w in record} == {"hit_rate_at_k()"} and len(record) == 2
    assert old == hit_rate_at_k(rec, tx, calibration_end=cut, observation_end="2024-09-30")
    with pytest.raises(TypeError, match="give only 'observation_end'"):
        basket_matrix(tx, cutoff=cut, observation_end=cut)
    with pytest.raises(TypeError, match="give only 'calibration_end'"):
        hit_rate_at_k(rec, tx, cutoff=cut, calibration_end=cut)


def test_export_frame_takes_seed_and_cutoff(small):
    from segwork.act.export import export_frame

    new = export_frame("triggers", small, random_state=1, observation_end="2024-10-31")
    with pytest.warns(FutureWarning) as record:
        old = export_frame("triggers", small, seed=1, cutoff="2024-10-31")
    assert sorted(str(w.message).split("'")[1] for w in record) == ["cutoff", "seed"]
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(TypeError):
        export_frame("triggers", small, cutoff="2024-10-31", observation_end="2024-10-31")


def test_score_takes_as_of(models_dir, crm, tmp_path, capsys):
    from segwork.cli import main
    from segwork.features.engines import customer_chunks
    from segwork.models import score_transactions
    from segwork.models.reading import score_sources

    csv = tmp_path / "tx.csv"
    crm.transactions.to_csv(csv, index=False)
    day = "2024-06-30"
    new = score_transactions(models_dir, csv, tmp_path / "new.parquet", engine="pandas", observation_end=day,
                             progress=False)
    with _warns("as_of", "observation_end"):
        old = score_transactions(models_dir, csv, tmp_path / "old.parquet", engine="pandas", as_of=day,
                                 progress=False)
    assert old.observation_end == new.observation_end == day
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "old.parquet"), pd.read_parquet(tmp_path / "new.parquet"))
    with pytest.raises(TypeError):
        score_transactions(models_dir, csv, tmp_path / "x.parquet", as_of=day, observation_end=day)
    with _warns("as_of", "observation_end"), customer_chunks(score_sources(str(csv), "pandas"), "pandas",
                                                             chunk_size=5000, as_of=day) as chunks:
        assert str(chunks.end.date()) == day

    # the command line: --as-of is the deprecated name of --observation-end (one flag remains)
    capsys.readouterr()
    status = main(["score", "--models", str(models_dir), "--transactions", str(csv), "--output",
                   str(tmp_path / "cli.parquet"), "--engine", "pandas", "--no-progress", "--as-of", day])
    err = capsys.readouterr().err
    assert status == 0, err
    _says_renamed(err, "--as-of", "--observation-end")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cli.parquet"), pd.read_parquet(tmp_path / "new.parquet"))
    assert main(["score", "--models", str(models_dir), "--transactions", str(csv), "--output",
                 str(tmp_path / "y.parquet"), "--engine", "pandas", "--as-of", day,
                 "--observation-end", "2024-07-01"]) == 2
    assert "give only --observation-end" in capsys.readouterr().err
    # both names of the one flag are refused even for the same day, as --seed with --random-state is
    assert main(["score", "--models", str(models_dir), "--transactions", str(csv), "--output",
                 str(tmp_path / "z.parquet"), "--engine", "pandas", "--as-of", day, "--observation-end", day]) == 2
    assert "give only --observation-end" in capsys.readouterr().err


def test_model_folder_keyword_flag_and_old_manifests(models_dir, store, tmp_path, capsys):
    from segwork.cli import main
    from segwork.models import build_models, load_models

    assert store.manifest["random_state"] == 0 and "seed" not in store.manifest
    old = tmp_path / "old"
    shutil.copytree(models_dir, old)  # a folder built before the rename records "seed"
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["seed"] = manifest.pop("random_state")
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert load_models(old).manifest["random_state"] == 0
    with pytest.raises(TypeError):
        build_models(None, tmp_path / "m", seed=0, random_state=0)
    assert main(["models", "build", "--dataset", "synthetic", "--output", str(tmp_path / "m"), "--seed", "1",
                 "--random-state", "1"]) == 2
    assert "give only --random-state" in capsys.readouterr().err


def test_export_command_takes_seed(tmp_path, capsys):
    from segwork.cli import main

    args = ["export", "triggers", "--dataset", "synthetic", "--n-customers", "300"]
    assert main([*args, "--random-state", "2", "--output", str(tmp_path / "new.csv")]) == 0
    capsys.readouterr()
    assert main([*args, "--seed", "2", "--output", str(tmp_path / "old.csv")]) == 0
    _says_renamed(capsys.readouterr().err, "--seed", "--random-state")
    assert (tmp_path / "old.csv").read_text() == (tmp_path / "new.csv").read_text()
