"""Disk helpers of retention and reconciliation: safe paths, day directories, listings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from vigil_recorder.storage import disk
from vigil_recorder.storage import paths as storage


def test_day_dirs_lists_only_camera_and_date_shaped_directories(tmp_path: Path) -> None:
    for rel in ("cam-1/2025-01-02", "cam-1/2025-01-01", "cam-1/not-a-day", "Bad Cam/2025-01-01", "b/2025-13-40"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "cam-1" / "2025-01-03").write_text("a file, not a directory")
    found = [(d.camera_id, d.name) for d in disk.day_dirs(tmp_path)]
    assert found == [("cam-1", "2025-01-01"), ("cam-1", "2025-01-02")]
    assert list(disk.day_dirs(tmp_path / "missing")) == []


def test_list_dir_separates_partials(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"12345")
    storage.partial_path(tmp_path / "b.mp4").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    listing = disk.list_dir(tmp_path)
    assert listing.files == {"a.mp4": 5} and len(listing.partials) == 1 and listing.bytes == 5
    assert not disk.list_dir(tmp_path / "nope").exists


def test_prune_keeps_recent_and_non_empty_day_dirs(tmp_path: Path) -> None:
    old_empty, old_full, recent = tmp_path / "c/2025-01-01", tmp_path / "c/2025-01-02", tmp_path / "c/2025-01-09"
    for d in (old_empty, old_full, recent):
        d.mkdir(parents=True)
    (old_full / "x.mp4").write_bytes(b"x")
    assert disk.prune_empty_day_dirs({old_empty, old_full, recent, tmp_path / "c"}, date(2025, 1, 9)) == 1
    assert not old_empty.exists() and old_full.exists() and recent.exists() and (tmp_path / "c").exists()


def test_free_bytes_of_a_path_not_created_yet(tmp_path: Path) -> None:
    assert disk.free_bytes(tmp_path / "not" / "yet") > 0
    assert disk.tree_bytes(tmp_path) == 0
