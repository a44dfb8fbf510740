"""Every fenced shell and Python block of the README runs, in order, in a fresh copy of the project.

The copy holds the files a clone has (git's tracked files plus new ones not ignored), with ``.venv`` linked to the
environment running the tests (what ``make setup`` makes) and ``PYTHONPATH`` on the copy, so the copy's code runs.
It is committed to a throw-away git repository first; after the blocks ran, ``git status`` must be clean: every
example writes only into git-ignored folders (``out/``), and nothing the project ships is changed.

Skipped, and only these:
- a block right after the line ``<!-- readme-test: needs a server -->`` (a SOAP server, a Dask cluster);
- ``make`` lines are run as ``make -n`` (a dry run: the target exists and its set-up is wired), since running
  ``make test`` inside the test suite would run the suite again and ``make report`` is the report tests' job.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SERVER_MARK = "<!-- readme-test: needs a server -->"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


def readme_blocks(text: str) -> list[tuple[str, str, bool]]:
    """``(language, code, needs_server)`` of every fenced block, in order."""
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip().splitlines()
        needs_server = bool(before) and before[-1].strip() == SERVER_MARK
        blocks.append((match.group(1).lower(), match.group(2), needs_server))
    return blocks


def test_block_parser_sees_marks_and_languages():
    text = f"a\n```bash\necho 1\n```\n{SERVER_MARK}\n```python\nimport x\n```\n```\nplain\n```\n"
    assert readme_blocks(text) == [("bash", "echo 1\n", False), ("python", "import x\n", True), ("", "plain\n", False)]


def _fresh_copy(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a file deleted in the work tree is still listed by --cached
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    os.symlink(Path(sys.prefix), dest / ".venv", target_is_directory=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=dest, check=True)
    return dest


def _shell(code: str) -> str:
    """The block as a bash script: ``make`` lines as dry runs, stop at the first failing line."""
    lines = [re.sub(r"^make\b", "make -n", line) for line in code.splitlines()]
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


def test_every_readme_example_runs_in_a_fresh_copy(tmp_path):
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    runnable = [(lang, code) for lang, code, server in blocks if not server and lang in ("bash", "sh", "python")]
    assert len(runnable) >= 8, "the README's examples were not found"
    copy = _fresh_copy(tmp_path / "segwork")
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONWARNINGS": "ignore"}
    env.pop("SEGWORK_NOTEBOOKS", None)
    for number, (lang, code) in enumerate(runnable, 1):
        if lang == "python":
            command = [sys.executable, "-c", code]
        else:
            command = ["bash", "-c", _shell(code)]
        proc = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, (f"README block {number} ({lang}) failed:\n{code}\n--- stdout\n"
                                      f"{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    status = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=copy, capture_output=True,
                            text=True, check=True).stdout
    assert status == "", f"the README's examples changed or wrote files git does not ignore:\n{status}"
    assert (copy / "out" / "scores.parquet").is_file() and (copy / "out" / "reports" / "index.html").is_file()
