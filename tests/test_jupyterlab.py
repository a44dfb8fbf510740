"""JupyterLab set-up: the kernel lives in .venv, the notebooks name it, and kernels start without the TCP warning."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text()


def test_kernel_is_installed_into_the_venv_not_per_user():
    assert re.search(r"ipykernel install --sys-prefix --name \$\(KERNEL_NAME\)", MAKEFILE)
    assert "--user" not in MAKEFILE
    assert re.search(r"^KERNEL_NAME := segwork$", MAKEFILE, re.M)


def test_every_notebook_declares_the_project_kernel():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        spec = nbformat.read(str(path), as_version=4).metadata["kernelspec"]
        assert (spec["name"], spec["display_name"]) == ("segwork", "Python (segwork .venv)"), path.name


def test_make_lab_is_usable_on_a_remote_machine():
    recipe = MAKEFILE.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--no-browser" in recipe and "--ServerApp.ip=$(HOST)" in recipe and "--ServerApp.port=$(PORT)" in recipe
    assert "id -u" in recipe and "--allow-root" in recipe  # the root hint and what it does
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", MAKEFILE, re.M) and re.search(r"^PORT \?= 8888$", MAKEFILE, re.M)


def _server_setting() -> dict:
    line = next(l for l in MAKEFILE.splitlines() if "transport_encryption" in l and "echo" in l)
    return json.loads(re.search(r"'(\{.*\})'", line).group(1))


def test_the_server_setting_names_a_real_jupyter_server_option():
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    setting = _server_setting()
    assert setting == {"MappingKernelManager": {"transport_encryption": "auto"}}
    trait = MappingKernelManager.class_traits()["transport_encryption"]
    assert "auto" in trait.values and trait.metadata.get("config")


@pytest.mark.parametrize("policy, warned", [("auto", False), ("disabled", True)])
def test_a_kernel_with_curve_keys_runs_without_the_tcp_warning(policy, warned):
    """What the server does with transport_encryption=auto: the kernel runs code and does not warn (and without
    the setting, it does: the test sees the warning it removes)."""
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryFile() as log:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(transport_encryption=policy, stdout=log, stderr=log)
        try:
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=120)
            reply = kc.execute_interactive("x = 6 * 7", timeout=60)
            assert reply["content"]["status"] == "ok"
            kc.stop_channels()
        finally:
            km.shutdown_kernel(now=True)
        log.seek(0)
        assert (b"without encryption" in log.read()) is warned
