"""Run folders are unique; ``latest`` moves atomically and only to good runs; failed runs are flagged."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from segwork.report import runfolder


def test_dataset_tags_are_short_and_file_safe():
    assert runfolder.dataset_tag("synthetic") == "synthetic"
    assert runfolder.dataset_tag("cdnow_sample") == "cdnow_sample"
    assert runfolder.dataset_tag("/data/My Sales 2024.csv") == "my_sales_2024"
    assert runfolder.dataset_tag(None) == "default"


def test_run_folders_are_unique_within_one_second(tmp_path):
    now = dt.datetime(2025, 3, 1, 12, 0, 0)
    a = runfolder.create_run_folder(tmp_path, "synthetic", now=now)
    b = runfolder.create_run_folder(tmp_path, "synthetic", now=now)
    assert a.name == "20250301-120000-synthetic" and b.name == "20250301-120000-synthetic-2"
    assert a.is_dir() and b.is_dir()
    # a failed run keeps its name taken too
    runfolder.mark_failed(a, "boom")
    c = runfolder.create_run_folder(tmp_path, "synthetic", now=now)
    assert c.name == "20250301-120000-synthetic-3"


def test_latest_points_at_the_newest_good_run(tmp_path):
    first = runfolder.create_run_folder(tmp_path, "a")
    second = runfolder.create_run_folder(tmp_path, "b")
    pointer = runfolder.point_latest(tmp_path, first)
    assert pointer.is_symlink() and os.readlink(pointer) == first.name  # relative: the folder can move
    assert runfolder.resolve_latest(tmp_path) == first.resolve()
    runfolder.point_latest(tmp_path, second)
    assert runfolder.resolve_latest(tmp_path) == second.resolve()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".latest")], "no temporary link left behind"


def test_latest_falls_back_to_a_text_pointer_without_symlinks(tmp_path, monkeypatch):
    run = runfolder.create_run_folder(tmp_path, "a")

    def no_symlinks(*_a, **_k):
        raise OSError("symbolic links are not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    pointer = runfolder.point_latest(tmp_path, run)
    assert pointer.is_file() and not pointer.is_symlink()
    assert pointer.read_text().strip() == run.name
    assert runfolder.resolve_latest(tmp_path) == run.resolve()


def test_latest_never_replaces_a_real_folder(tmp_path):
    (tmp_path / "latest").mkdir()
    run = runfolder.create_run_folder(tmp_path, "a")
    with pytest.raises(RuntimeError, match="real folder"):
        runfolder.point_latest(tmp_path, run)


def test_mark_failed_writes_the_message_and_renames(tmp_path):
    run = runfolder.create_run_folder(tmp_path, "a")
    (run / "partial.txt").write_text("x")
    failed = runfolder.mark_failed(run, "notebook 02_x.ipynb failed in cell 3")
    assert failed.name == run.name + "-failed" and not run.exists()
    assert (failed / runfolder.FAILED_MARKER).read_text().strip() == "notebook 02_x.ipynb failed in cell 3"
    assert (failed / "partial.txt").read_text() == "x"
    assert runfolder.resolve_latest(tmp_path) is None
