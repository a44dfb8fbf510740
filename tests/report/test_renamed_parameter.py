"""The report parameter ``seed`` is ``random_state`` (issue 18): the old name keeps working for one release."""
from __future__ import annotations

import pytest

from segwork._checks import RENAMED_REMOVED_IN


def test_report_takes_seed_as_random_state(tmp_path, make_nb):
    from segwork.errors import DataError
    from segwork.report.parameters import inspect_parameters, injected_names
    from segwork.report.runner import plan_report

    nbs = tmp_path / "nbs"
    make_nb(nbs / "01_new.ipynb", 'dataset = "synthetic"\nn_customers = 10\nrandom_state = 0\noutput_dir = "."',
            "pass")
    make_nb(nbs / "02_old.ipynb", 'dataset = "synthetic"\nn_customers = 10\nseed = 0\noutput_dir = "."', "pass")
    pattern = "notebook 02_old: the parameter 'seed' was renamed 'random_state'.*" + RENAMED_REMOVED_IN
    with pytest.warns(FutureWarning, match=pattern):  # a notebook that still declares the old name
        old_nb = inspect_parameters(nbs / "02_old.ipynb")
    assert old_nb["random_state"].declared_as == "seed" and "seed" not in old_nb
    assert injected_names(old_nb, {"random_state": 5, "n_customers": 3}) == {"seed": 5, "n_customers": 3}

    with pytest.warns(FutureWarning) as record:
        plan = plan_report(parameters=[("seed", "5")], notebooks_dir=nbs)
    said = [str(w.message) for w in record]
    assert any(m.startswith("-p seed: the report parameter 'seed' was renamed 'random_state'") for m in said), said
    assert dict(plan.per_notebook) == {"01_new": {"random_state": 5}, "02_old": {"random_state": 5}}
    assert plan.sources["01_new"] == plan.sources["02_old"]  # one data set, built once with random_state 5
    assert dict(plan.sources["01_new"].values) == {"n_customers": 10, "random_state": 5}
    with pytest.warns(FutureWarning), pytest.raises(DataError, match="give only random_state"):
        plan_report(parameters=[("seed", "5"), ("random_state", "5")], notebooks_dir=nbs)
