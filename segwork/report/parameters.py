"""Report parameters: read what each notebook declares, check what the user gives.

Every report notebook declares its parameters in its first code cell, tagged
``parameters``, as literal assignments (``n_customers = 20000``). The type of
a parameter is the type of that literal. User values come from a YAML file
(``-f params.yaml``), from ``-p NAME VALUE`` (parsed as a YAML scalar:
``2000`` is an int, ``0.5`` a float, ``true`` a bool, anything else text) and
from ``--dataset``; later sources win. All of them are checked here, before
any notebook runs, so a typo fails in a second, not after ten minutes.

A notebook may also name a parameter's allowed values in its metadata,
``metadata.segwork.parameters.<name>.choices`` (a list of literals of the
default's type that holds the default, e.g. ``{"monetary_column": {"choices":
["revenue", "mean_amount"]}}``); any other value is refused here, with the
allowed ones, before any notebook runs.

Renamed parameters (:data:`RENAMED_PARAMETERS`, issue 18: ``seed`` is
``random_state``) keep working for one release, with a FutureWarning: a user
value given under the old name (``-p seed 4``, ``seed:`` in ``-f``) is the new
one, and a notebook that still declares the old name is known by the new name
(:attr:`NotebookParameter.declared_as` keeps the old one; the runner injects
the value under it).
"""
from __future__ import annotations

import ast
import datetime
import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .._checks import warn_renamed
from ..errors import DataError

__all__ = [
    "RUNNER_PARAMETERS",
    "RENAMED_PARAMETERS",
    "injected_names",
    "renamed_overrides",
    "NotebookParameter",
    "inspect_parameters",
    "parse_cli_value",
    "load_params_file",
    "check_value",
    "resolve_dataset",
    "resolve_parameters",
    "check_jobs",
]

#: Parameters the runner sets itself; users cannot: each notebook's artefact folder, and the customer table
#: the runner prepared once for the run (:func:`segwork.prepare.load_or_prepare` loads it).
RUNNER_PARAMETERS = ("output_dir", "prepared_table")
_RUNNER_SETS = {"output_dir": "each notebook's artefact folder; choose where runs go with --output DIR",
                "prepared_table": "the customer table it prepares once per run, with the CLV models fitted once; "
                                  "choose the data with --dataset"}

#: Report parameters renamed in segwork 0.2 (old name -> new name); the old names go in 0.3.
RENAMED_PARAMETERS = {"seed": "random_state"}

_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "text",
               list: "a list like [1, 2]", dict: "a mapping like {a: 1}"}


@dataclass(frozen=True)
class NotebookParameter:
    """One parameter as a notebook declares it.

    ``default`` is the Python value of the literal (or its source text when it
    is not a literal, then ``type`` is ``None`` and any value is accepted).
    ``type`` is ``None`` also when the default is ``None``. ``declared_as``
    is the old name the notebook declares when it still uses one of
    :data:`RENAMED_PARAMETERS` (``name`` is then the new name), else ``""``.
    ``choices`` are the allowed values the notebook names in
    ``metadata.segwork.parameters.<name>.choices`` (empty: any value of the type).
    """

    name: str
    notebook: str
    default: Any
    type: type | None
    source: str
    help: str = ""
    declared_as: str = ""
    choices: tuple = ()


def inspect_parameters(path: str | Path) -> dict[str, NotebookParameter]:
    """The parameters the notebook at ``path`` declares (via :func:`papermill.inspect_notebook`)."""
    import papermill

    path = Path(path)
    try:
        raw = papermill.inspect_notebook(str(path))
    except Exception as exc:  # papermill raises several types for unreadable notebooks
        raise DataError(f"{path.name}: cannot read its parameters cell ({type(exc).__name__}: {exc})") from None
    params = {}
    for name, info in raw.items():
        source = str(info.get("default", ""))
        try:
            default = ast.literal_eval(source)
            kind = None if default is None else type(default)
        except (ValueError, SyntaxError):
            default, kind = source, None
        params[name] = NotebookParameter(name=name, notebook=path.stem, default=default, type=kind,
                                         source=source, help=str(info.get("help", "") or ""))
    for name, spec in _declared_choices(path).items():
        if name not in params:
            raise DataError(f"{path.name}: metadata.segwork.parameters names {name!r}, which its parameters "
                            f"cell does not declare ({', '.join(params) or 'none'})")
        params[name] = replace(params[name], choices=_checked_choices(path, params[name], spec))
    for old, new in RENAMED_PARAMETERS.items():
        if old in params and new not in params:
            warn_renamed(f"notebook {path.stem}", old, new, kind="parameter", stacklevel=2)
            params[new] = replace(params.pop(old), name=new, declared_as=old)
    return params


def _declared_choices(path: Path) -> dict[str, Any]:
    """``metadata.segwork.parameters`` of the notebook: name -> its spec (a mapping)."""
    from .discover import notebook_metadata

    specs = notebook_metadata(path).get("parameters", {})
    if not isinstance(specs, dict) or not all(isinstance(v, dict) for v in specs.values()):
        raise DataError(f"{path.name}: metadata.segwork.parameters must map a parameter name to a mapping like "
                        '{"choices": ["revenue", "mean_amount"]}')
    return specs


def _checked_choices(path: Path, param: NotebookParameter, spec: dict) -> tuple:
    """The allowed values of ``param`` as the notebook's metadata names them: a list of values of the default's
    type that holds the default; else DataError naming the notebook (a mistake in the notebook, not the user's)."""
    choices = spec.get("choices", [])
    if not isinstance(choices, list) or not choices:
        raise DataError(f"{path.name}: metadata.segwork.parameters.{param.name}.choices must be a non-empty list "
                        f"of allowed values, got {choices!r}")
    if param.type is not None and not all(type(c) is param.type for c in choices):
        raise DataError(f"{path.name}: metadata.segwork.parameters.{param.name}.choices {choices!r} must all be "
                        f"{_TYPE_WORDS.get(param.type, param.type.__name__)}, the type of its default "
                        f"{param.source}")
    if param.type is not None and param.default not in choices:
        raise DataError(f"{path.name}: the default {param.name} = {param.source} is not among its allowed values "
                        f"{choices!r} (metadata.segwork.parameters.{param.name}.choices)")
    return tuple(choices)


def renamed_overrides(overrides: dict[str, Any], origin) -> dict[str, Any]:
    """``overrides`` (name -> what the user gave) with the old names of :data:`RENAMED_PARAMETERS` made new.

    Each old name warns (FutureWarning naming both names and the release that
    removes the old one); ``origin(given)`` says where it came from (``-p``,
    ``-f params.yaml:``). Raises DataError when both names are given.
    """
    overrides = dict(overrides)
    for old, new in RENAMED_PARAMETERS.items():
        if old in overrides:
            where = origin(overrides[old])
            if new in overrides:
                raise DataError(f"{where} {old}: {old} is the deprecated name of {new}; give only {new}")
            warn_renamed(f"{where.rstrip(':')} {old}", old, new, kind="report parameter", stacklevel=3)
            overrides[new] = overrides.pop(old)
    return overrides


def injected_names(declared: dict[str, NotebookParameter], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` under the names the notebook declares (the old name where it still declares one)."""
    return {(declared[k].declared_as or k) if k in declared else k: v for k, v in values.items()}


def parse_cli_value(text: str) -> Any:
    """Parse a ``-p`` value like a YAML scalar: ``12`` -> 12, ``0.5`` -> 0.5, ``true`` -> True, else the text.

    Lists and mappings in YAML flow style (``[3, 4, 5]``) are parsed too.
    """
    stripped = text.strip()
    if stripped in ("None", "null", "~"):
        return None
    if not stripped:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (datetime.date, datetime.datetime)):
        return text  # a date stays text; notebooks parse dates themselves
    return value


def load_params_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) file mapping parameter names to values."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"-f {path}: cannot read the parameters file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise DataError(f"-f {path}: not valid YAML{at}; write one 'name: value' per line") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise DataError(f"-f {path}: expected a mapping of parameter names to values, e.g. 'n_customers: 2000'")
    # YAML reads 2024-01-31 as a date; notebooks take dates as text.
    return {k: v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else v for k, v in data.items()}


def check_value(param: NotebookParameter, value: Any, raw_text: str | None = None) -> Any:
    """Return ``value`` converted to the parameter's type, or raise :class:`DataError`.

    ``raw_text`` is the text typed on the command line: for a text parameter
    it is used as is (so ``-p label 2024`` gives ``"2024"``). A value outside
    the parameter's :attr:`~NotebookParameter.choices` (when it has some) is
    refused with the allowed values.
    """
    checked = _checked_type(param, value, raw_text)
    if param.choices and checked not in param.choices:
        shown = raw_text if raw_text is not None else repr(checked)
        raise DataError(f"parameter {param.name}: {shown!r} is not an allowed value; {param.notebook} takes "
                        f"{' or '.join(map(str, param.choices))} ({param.name} = {param.source} by default)")
    return checked


def _checked_type(param: NotebookParameter, value: Any, raw_text: str | None) -> Any:
    kind = param.type
    if kind is None:
        return value
    if kind is str:
        if raw_text is not None:
            return raw_text
        if isinstance(value, str):
            return value
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind in (list, tuple):
        if isinstance(value, (list, tuple)):
            return list(value)
    elif kind is dict:
        if isinstance(value, dict):
            return value
    else:
        return value
    shown = raw_text if raw_text is not None else repr(value)
    raise DataError(
        f"parameter {param.name}: expected {_TYPE_WORDS.get(kind, kind.__name__)} "
        f"({param.notebook} declares {param.name} = {param.source}), got {shown!r}"
    )


def resolve_dataset(value: Any) -> str:
    """A built-in data set name (:data:`segwork.datasets.DATASETS`) as is, or a file path made absolute.

    Paths are made absolute because the notebooks run in another folder.
    Raises :class:`DataError` for a value that is neither.
    """
    from ..datasets import DATASETS

    names = ", ".join(d.name for d in DATASETS.values() if d.listed)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"dataset {value!r}: give a built-in name ({names}) or a file path")
    if value in DATASETS:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise DataError(f"--dataset {value}: not a built-in data set ({names}) and no such file")
    return str(path.resolve())


def resolve_parameters(
    declared: dict[str, dict[str, NotebookParameter]],
    overrides: dict[str, tuple[Any, str | None, str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Check the user's values against every notebook and build each notebook's parameters.

    Parameters
    ----------
    declared: notebook stem -> its parameters (see :func:`inspect_parameters`).
    overrides: name -> (value, raw command-line text or None, where it came from).

    Returns
    -------
    (per_notebook, effective): ``per_notebook`` maps a notebook stem to the
    values to inject (only names it declares; ``output_dir`` is added by the
    runner); ``effective`` maps every overridden name to its checked value.

    Raises
    ------
    DataError: an unknown name (declared by no notebook), a parameter the
    runner sets, or a value of the wrong type.
    """
    overrides = renamed_overrides(overrides, lambda given: given[2])
    known = sorted({name for params in declared.values() for name in params})
    for name, (_value, _raw, origin) in overrides.items():
        if name in RUNNER_PARAMETERS:
            raise DataError(f"{origin} {name}: {name} is set by the runner ({_RUNNER_SETS[name]})")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise DataError(f"{origin} {name}: unknown parameter, no notebook declares it; {hint}"
                            f"known parameters: {', '.join(n for n in known if n not in RUNNER_PARAMETERS)}")
    per_notebook: dict[str, dict[str, Any]] = {}
    effective: dict[str, Any] = {}
    for stem, params in declared.items():
        values = {}
        for name, (value, raw, _origin) in overrides.items():
            if name not in params:
                continue
            checked = check_value(params[name], value, raw)
            if name == "dataset":
                checked = resolve_dataset(checked)
            values[name] = checked
            effective[name] = checked
        per_notebook[stem] = values
    for name, (value, raw, _origin) in overrides.items():
        effective.setdefault(name, value if raw is None else raw)
    return per_notebook, effective


def check_jobs(jobs: object) -> int:
    """``jobs`` if it is a whole number of at least 1, else :class:`ValueError` naming ``--jobs``.

    The one check of ``segwork report --jobs`` and ``run_report(jobs=...)``
    (a usage error, so not a :class:`DataError`).
    """
    if isinstance(jobs, str) and jobs.strip().lstrip("+").isdigit():
        jobs = int(jobs)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"--jobs {jobs}: give a whole number of notebooks to run at a time, 1 or more")
    return jobs
