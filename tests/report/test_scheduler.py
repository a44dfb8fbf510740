"""``segwork report --scheduler ADDRESS``: checked before anything runs, handed to the notebook kernels."""
from __future__ import annotations

import os

import pytest

from segwork.cli import main
from segwork.report.runner import _scheduler_environment, check_scheduler

distributed = pytest.importorskip("distributed")


def test_a_scheduler_that_does_not_answer_is_one_error_line_and_no_run_folder(tmp_path, capsys):
    status = main(["report", "--only", "01", "--output", str(tmp_path / "reports"),
                   "--scheduler", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: no Dask scheduler answers at tcp://127.0.0.1:1") and err.count("\n") == 1, err
    assert not (tmp_path / "reports").exists()


def test_a_running_scheduler_is_accepted_and_given_to_the_kernels_environment(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert check_scheduler(address) == address
    with _scheduler_environment(address):
        assert os.environ["DASK_SCHEDULER_ADDRESS"] == address  # what papermill's kernels inherit
    assert "DASK_SCHEDULER_ADDRESS" not in os.environ
