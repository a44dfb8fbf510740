"""Report parameters are checked before any notebook runs: unknown names and wrong types exit 2 in one line."""
from __future__ import annotations

import pytest

from segwork.errors import DataError
from segwork.report.parameters import (
    NotebookParameter,
    check_value,
    inspect_parameters,
    load_params_file,
    parse_cli_value,
    resolve_parameters,
)
from segwork.report.runner import plan_report


def param(name, default, source=None):
    return NotebookParameter(name=name, notebook="01_x", default=default,
                             type=None if default is None else type(default), source=source or repr(default))


@pytest.mark.parametrize("text, expected", [
    ("2000", 2000), ("-3", -3), ("0.5", 0.5), ("1e-3", "1e-3"), ("1.0e-3", 0.001), ("true", True),
    ("false", False), ("cdnow", "cdnow"), ("data/x.csv", "data/x.csv"), ("[3, 4]", [3, 4]), ("None", None),
    ("null", None), ("2024-01-31", "2024-01-31"), ("a: b: c", "a: b: c"),
])
def test_cli_values_are_parsed_like_yaml_scalars(text, expected):
    value = parse_cli_value(text)
    assert value == expected and type(value) is type(expected)


def test_inspect_reads_names_types_and_defaults(tiny_notebooks):
    params = inspect_parameters(tiny_notebooks / "01_first.ipynb")
    assert list(params) == ["dataset", "n_customers", "random_state", "label", "rate", "flag", "output_dir"]
    assert params["n_customers"].default == 10 and params["n_customers"].type is int
    assert params["rate"].type is float and params["flag"].type is bool and params["label"].type is str


@pytest.mark.parametrize("default, value, raw, expected", [
    (10, 2000, "2000", 2000),
    (10, 3.0, None, 3),              # a whole float from YAML is an integer
    (0.5, 2, "2", 2.0),              # an int is a fine float
    (True, False, "false", False),
    ("x", 2024, "2024", "2024"),     # text parameters take the typed text as is
    ("x", "abc", None, "abc"),
    ([1, 2], [3], "[3]", [3]),
    (None, "anything", "anything", "anything"),  # a None default accepts any value
])
def test_check_value_accepts_and_converts(default, value, raw, expected):
    got = check_value(param("p", default), value, raw)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("default, value, raw", [
    (10, "abc", "abc"), (10, 2.5, "2.5"), (10, True, "true"), (0.5, "fast", "fast"), (True, 1, "1"),
    ("x", 5, None), ([1], 3, "3"),
])
def test_check_value_rejects_wrong_types_naming_parameter_and_value(default, value, raw):
    with pytest.raises(DataError) as err:
        check_value(param("p", default), value, raw)
    message = str(err.value)
    assert "parameter p" in message and "01_x" in message and str(raw if raw is not None else value) in message


def test_resolve_passes_each_notebook_only_what_it_declares():
    declared = {"01_a": {"n_customers": param("n_customers", 10), "random_state": param("random_state", 0)},
                "02_b": {"k": param("k", 3), "random_state": param("random_state", 0)}}
    per_nb, effective = resolve_parameters(declared, {"random_state": (5, "5", "-p"), "k": (4, "4", "-p")})
    assert per_nb == {"01_a": {"random_state": 5}, "02_b": {"k": 4, "random_state": 5}}
    assert effective == {"random_state": 5, "k": 4}


def test_resolve_rejects_unknown_names_with_a_suggestion():
    declared = {"01_a": {"n_customers": param("n_customers", 10)}}
    with pytest.raises(DataError, match="n_custmers: unknown parameter.*did you mean n_customers"):
        resolve_parameters(declared, {"n_custmers": (5, "5", "-p")})


def test_output_dir_is_the_runners():
    declared = {"01_a": {"output_dir": param("output_dir", ".")}}
    with pytest.raises(DataError, match="set by the runner"):
        resolve_parameters(declared, {"output_dir": ("/tmp/x", "/tmp/x", "-p")})


def test_dataset_paths_become_absolute_and_unknown_names_fail(tmp_path, monkeypatch):
    (tmp_path / "sales.csv").write_text("customer_id,date,amount\nA,2024-01-01,1\n")
    monkeypatch.chdir(tmp_path)
    declared = {"01_a": {"dataset": param("dataset", "synthetic")}}
    per_nb, _ = resolve_parameters(declared, {"dataset": ("sales.csv", "sales.csv", "--dataset")})
    assert per_nb["01_a"]["dataset"] == str(tmp_path / "sales.csv")
    with pytest.raises(DataError, match="not a built-in data set"):
        resolve_parameters(declared, {"dataset": ("nosuch", "nosuch", "--dataset")})


def test_params_file(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("n_customers: 2000\nlabel: hello\nend: 2024-01-31\n")
    assert load_params_file(good) == {"n_customers": 2000, "label": "hello", "end": "2024-01-31"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_customers: [1, 2\n")
    with pytest.raises(DataError, match="not valid YAML"):
        load_params_file(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(DataError, match="mapping"):
        load_params_file(listy)
    with pytest.raises(DataError, match="cannot read"):
        load_params_file(tmp_path / "missing.yaml")


def test_plan_orders_sources_file_then_p_then_dataset(tiny_notebooks, tmp_path):
    pfile = tmp_path / "p.yaml"
    pfile.write_text("n_customers: 50\nrandom_state: 7\ndataset: cdnow\n")
    plan = plan_report(parameters=[("n_customers", "60")], params_file=pfile, dataset="cdnow_sample",
                       notebooks_dir=tiny_notebooks)
    assert plan.per_notebook["01_first"] == {"n_customers": 60, "random_state": 7, "dataset": "cdnow_sample"}
    assert plan.per_notebook["02_second"] == {"n_customers": 60}


def test_only_selects_by_number_topic_or_name(tiny_notebooks):
    assert [p.stem for p in plan_report(only=["02"], notebooks_dir=tiny_notebooks).notebooks] == ["02_second"]
    assert [p.stem for p in plan_report(only=["first"], notebooks_dir=tiny_notebooks).notebooks] == ["01_first"]
    both = plan_report(only=["02_second", "01_first.ipynb"], notebooks_dir=tiny_notebooks).notebooks
    assert [p.stem for p in both] == ["01_first", "02_second"]


# --------------------------------------------------------------------------- the command line


def _one_error_line(code, stderr):
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["-p", "n_custmers", "5"], "n_custmers: unknown parameter"),
    (["-p", "n_customers", "abc"], "parameter n_customers: expected an integer"),
    (["-p", "flag", "maybe"], "parameter flag: expected true or false"),
    (["-p", "rate", "fast"], "parameter rate: expected a number"),
    (["-p", "output_dir", "/tmp"], "set by the runner"),
    (["--dataset", "no_such_data"], "not a built-in data set"),
    (["--only", "07"], "--only 07: no such notebook"),
    (["--jobs", "0"], "--jobs 0"),
    (["-p", "random_state"], "expected 2 arguments"),
])
def test_cli_rejects_bad_parameters_in_one_line_and_runs_nothing(capsys, tiny_notebooks, tmp_path, args, expected):
    from segwork.cli import main

    out = tmp_path / "reports"
    code = main(["report", "--notebooks", str(tiny_notebooks), "--output", str(out), *args])
    assert expected in _one_error_line(code, capsys.readouterr().err)
    assert not out.exists() or not any(out.iterdir()), "no run folder may be made for bad parameters"


def test_cli_process_exits_2_without_traceback(run_cli, tiny_notebooks, tmp_path):
    """The same through a real process: exit status 2 and one line on stderr."""
    proc = run_cli("report", "--notebooks", str(tiny_notebooks), "--output", str(tmp_path / "r"),
                   "-p", "n_customers", "2000.5")
    assert "parameter n_customers: expected an integer" in _one_error_line(proc.returncode, proc.stderr)


def test_cli_checks_the_real_notebooks_too(capsys, tmp_path):
    from segwork.cli import main

    code = main(["report", "--output", str(tmp_path / "r"), "-p", "n_customers", "many"])
    assert "n_customers" in _one_error_line(code, capsys.readouterr().err)


def test_cli_bad_params_file(capsys, tiny_notebooks, tmp_path):
    from segwork.cli import main

    pfile = tmp_path / "p.yaml"
    pfile.write_text("random_state: [1, 2]\n")
    code = main(["report", "--notebooks", str(tiny_notebooks), "--output", str(tmp_path / "r"), "-f", str(pfile)])
    assert "parameter random_state: expected an integer" in _one_error_line(code, capsys.readouterr().err)


def test_cli_list_shows_notebooks_and_values(capsys, tiny_notebooks):
    from segwork.cli import main

    assert main(["report", "--notebooks", str(tiny_notebooks), "--list", "-p", "k", "9"]) == 0
    out = capsys.readouterr().out
    assert "01_first" in out and "02_second" in out and "k = 9" in out


CHOICES = {"segwork": {"parameters": {"monetary_column": {"choices": ["revenue", "mean_amount"]}}}}


def test_a_notebook_names_a_parameters_allowed_values_in_its_metadata(tmp_path, make_nb):
    path = make_nb(tmp_path / "01_x.ipynb", 'monetary_column = "revenue"\noutput_dir = "."', metadata=CHOICES)
    declared = inspect_parameters(path)
    assert declared["monetary_column"].choices == ("revenue", "mean_amount")
    assert check_value(declared["monetary_column"], "mean_amount", "mean_amount") == "mean_amount"
    with pytest.raises(DataError, match=r"monetary_column: 'bogus' is not an allowed value; 01_x takes revenue "
                                        r"or mean_amount"):
        check_value(declared["monetary_column"], "bogus", "bogus")


@pytest.mark.parametrize("spec, words", [
    ({"monetary_column": {"choices": ["total", "mean_amount"]}}, "default monetary_column = \"revenue\" is not"),
    ({"monetary_column": {"choices": [1, 2]}}, "must all be text"),
    ({"monetary_column": {"choices": []}}, "non-empty list"),
    ({"monetary_kolumn": {"choices": ["revenue"]}}, "does not declare"),
])
def test_a_notebooks_wrong_choices_are_named_with_the_notebook(tmp_path, make_nb, spec, words):
    path = make_nb(tmp_path / "01_x.ipynb", 'monetary_column = "revenue"\noutput_dir = "."',
                   metadata={"segwork": {"parameters": spec}})
    with pytest.raises(DataError, match="01_x.ipynb") as info:
        inspect_parameters(path)
    assert words in str(info.value)


def test_a_value_outside_the_choices_fails_before_any_notebook_runs(tmp_path, run_cli):
    """The shipped notebook 03 names monetary_column's values: `-p monetary_column bogus` is one error line,
    exit 2, and no run folder."""
    out = tmp_path / "out"
    res = run_cli("report", "-p", "monetary_column", "bogus", "--output", str(out))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "error: parameter monetary_column: 'bogus' is not an allowed value; 03_rfm_segmentation takes revenue or "
        'mean_amount (monetary_column = "revenue" by default)']
    assert not out.exists()
