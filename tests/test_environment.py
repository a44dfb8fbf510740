"""Set-up files agree with each other: pyproject.toml, environment.yml, Makefile, .ci/run, README."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    for extra in ("test", "scale"):
        pip_names |= {_name(r) for r in project["optional-dependencies"][extra]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    for extra in env["dependencies"]:
        if isinstance(extra, dict):
            conda_names |= {_name(d) for d in extra.get("pip", [])}
    assert conda_names == pip_names


def test_python_311_and_newer_not_pinned_to_one_minor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "segwork" in project["scripts"]


def test_two_commands_are_wired():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^report: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert ".venv" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make report" in first_block and "make test" in first_block
