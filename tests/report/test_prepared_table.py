"""A report run prepares the customer table once: the CLV models are fitted once per run, not once per notebook."""
from __future__ import annotations

import json
from collections import Counter

import nbformat
import pandas as pd
import pytest

from segwork.clv.gamma_gamma import GammaGamma
from segwork.clv.transaction import TransactionModel
from segwork.datasets import load_prepared
from segwork.errors import DataError
from segwork.prepare import load_or_prepare, prepare

from .conftest import NOTEBOOKS

PARAMS = ('dataset = "synthetic"\nn_customers = 300\nrandom_state = 3\noutput_dir = "."\nmargin = 1.0\n'
          'prepared_table = None')
#: The data cell of the segmentation notebooks, with every CLV fit of the kernel counted (outermost calls).
BODY = """
import json
from segwork.clv.gamma_gamma import GammaGamma
from segwork.clv.transaction import TransactionModel
fits = []
def counted(cls):
    fit = cls.fit
    def wrapper(self, *args, **kwargs):
        fits.append(type(self).__name__)
        return fit(self, *args, **kwargs)
    cls.fit = wrapper
counted(TransactionModel)
counted(GammaGamma)

from segwork.datasets import load_dataset
from segwork.prepare import load_or_prepare
from segwork.report import save_metrics
data = load_dataset(dataset, n_customers=n_customers, random_state=random_state)
table = load_or_prepare(data, prepared_table, margin=margin).table
table.to_parquet(f"{output_dir}/table.parquet")
save_metrics({"fits": fits, "prepared_table": prepared_table}, output_dir)
"""


@pytest.fixture
def counted_fits(monkeypatch):
    """Counts the CLV fits of this process (the runner's): transaction model and spend model, outermost calls."""
    fits: Counter = Counter()
    for cls in (TransactionModel, GammaGamma):
        original = cls.fit

        def wrapper(self, *args, _original=original, **kwargs):
            fits[type(self).__name__] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", wrapper)
    return fits


@pytest.mark.slow
def test_a_report_run_fits_each_clv_model_once_and_every_notebook_gets_the_same_table(tmp_path, make_nb,
                                                                                      counted_fits):
    from segwork.report import run_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS, BODY)
    make_nb(nbs / "02_b.ipynb", PARAMS, BODY)
    make_nb(nbs / "03_c.ipynb", PARAMS.replace("margin = 1.0", "margin = 0.3"), BODY)  # other settings, same fit
    make_nb(nbs / "04_d.ipynb", 'dataset = "synthetic"\nn_customers = 300\nrandom_state = 3\noutput_dir = "."',
            "from segwork.report import save_metrics\nsave_metrics({'names': sorted(dir())}, output_dir)")
    result = run_report(notebooks_dir=nbs, output=tmp_path / "out", progress=False, echo=None, jobs=1)
    run = result.run_dir
    notebook_fits = Counter()
    for stem in ("01_a", "02_b", "03_c"):
        metrics = json.loads((run / stem / "metrics.json").read_text())
        assert metrics["prepared_table"] == str(run / "data" / "table")
        notebook_fits.update(metrics["fits"])
    total = counted_fits + notebook_fits
    assert total == Counter({"ModifiedBetaGeo": 1, "GammaGamma": 1}), total  # before: one of each per notebook
    assert notebook_fits == Counter()
    assert "prepared_table" not in json.loads((run / "04_d" / "metrics.json").read_text())["names"]  # not declared

    # what each notebook loaded equals the table it would prepare on its own from the run's data, exactly
    data = load_prepared(run / "data")
    for stem, margin in (("01_a", 1.0), ("03_c", 0.3)):
        fresh = prepare(data, margin=margin).table
        loaded = pd.read_parquet(run / stem / "table.parquet")
        pd.testing.assert_frame_equal(loaded, fresh, check_exact=True)
    record = json.loads((run / "run.json").read_text())
    assert record["prepared_tables"]["data/table"]["clv_models"] == "MBG/NBD"
    assert all("prepared_table" not in row["name"] for row in record["parameters"])  # set by the runner, not a choice


def test_notebooks_without_prepared_table_get_no_table_and_no_fit(tmp_path, make_nb, counted_fits):
    from segwork.report import run_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", 'dataset = "synthetic"\nn_customers = 50\nrandom_state = 0\noutput_dir = "."', "pass")
    result = run_report(notebooks_dir=nbs, output=tmp_path / "out", progress=False, echo=None)
    assert not (result.run_dir / "data" / "table").exists()
    assert counted_fits == Counter()


def test_users_cannot_set_prepared_table(tmp_path, make_nb):
    from segwork.report.runner import plan_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS, "pass")
    with pytest.raises(DataError, match="prepared_table is set by the runner"):
        plan_report(notebooks_dir=nbs, parameters={"prepared_table": "/tmp/x"})


def test_a_table_of_another_data_set_is_refused(tmp_path):
    import dataclasses

    from segwork.datasets import make_crm
    from segwork.prepare import save_prepared_table

    data = make_crm(200, random_state=1)
    save_prepared_table(prepare(data), tmp_path / "table", data=data)
    with pytest.raises(DataError, match="another data set"):
        load_or_prepare(dataclasses.replace(data, name="elsewhere"), tmp_path / "table")
    later = dataclasses.replace(data, observation_end=data.observation_end + pd.Timedelta(days=1))
    with pytest.raises(DataError, match="another data set"):
        load_or_prepare(later, tmp_path / "table")


@pytest.mark.parametrize("stem", ["02_apriori_segmentation", "03_rfm_segmentation", "04_clustering_segmentation",
                                  "06_value_segmentation", "09_compare_segmentations"])
def test_the_segmentation_notebooks_load_the_runs_table_instead_of_fitting(stem):
    nb = nbformat.read(str(NOTEBOOKS / f"{stem}.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "prepared_table = None" in params
    assert "load_or_prepare(data, prepared_table" in code
    for fitting in ("prepare_table(", "prepare(", "fit_clv(", "predict_clv("):
        assert fitting not in code.replace("load_or_prepare(", ""), f"{stem} fits the CLV models itself: {fitting}"
    prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "prepares the same table itself" in prose  # the stand-alone fallback is said on the page


@pytest.mark.slow
def test_the_run_prepares_its_table_at_the_runs_one_margin(tmp_path, make_nb, counted_fits):
    """Issue 21: one margin per run. `-p margin 0.5` reaches every notebook and the table prepared once."""
    from segwork.clv.margin import value_label
    from segwork.prepare import PREPARED_CLV_FILE
    from segwork.report import run_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_a.ipynb", PARAMS.replace("margin = 1.0", "margin = 0.3"), BODY)
    result = run_report(notebooks_dir=nbs, output=tmp_path / "out", progress=False, echo=None, jobs=1,
                        parameters={"margin": 0.5})
    run = result.run_dir
    record = json.loads((run / "run.json").read_text())
    assert record["prepared_tables"]["data/table"]["margin"] == 0.5
    assert record["prepared_tables"]["data/table"]["value"] == value_label(0.5) == "CLV (margin 50 %)"
    assert json.loads((run / "data" / "table" / PREPARED_CLV_FILE).read_text())["settings"]["margin"] == 0.5
    assert counted_fits == Counter({"ModifiedBetaGeo": 1, "GammaGamma": 1})  # the runner's one fit
    loaded = pd.read_parquet(run / "01_a" / "table.parquet")
    pd.testing.assert_frame_equal(loaded, prepare(load_prepared(run / "data"), margin=0.5).table, check_exact=True)


def test_every_notebook_states_its_clv_at_the_one_margin():
    """Every notebook that shows a CLV declares `margin` with the one default and passes it to the table it loads,
    so that `-p margin ...` changes every page at once and the default pages agree (05 used 1.0, 06 0.3)."""
    from segwork.clv.margin import DEFAULT_MARGIN

    declaring = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        namespace: dict = {}
        exec(params, namespace)  # the parameters cell holds literals only
        if "margin" in namespace:
            declaring.append(path.stem)
            assert namespace["margin"] == DEFAULT_MARGIN, path.stem
            # papermill reads the line (a comment it cannot parse logs "Unable to parse line ..." on every run)
            from papermill.translators import PythonTranslator

            cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
            assert "margin" in [p.name for p in PythonTranslator.inspect(cell)], path.stem
        if "load_or_prepare(" in code:
            assert "margin" in namespace and "margin=margin" in code, f"{path.stem} loads a CLV without the margin"
    assert {"05_clv_models", "06_value_segmentation", "08_campaigns", "10_defection", "02_apriori_segmentation",
            "03_rfm_segmentation", "04_clustering_segmentation", "09_compare_segmentations"} <= set(declaring)
