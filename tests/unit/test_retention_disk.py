"""Disk helpers of retention and reconciliation: safe paths, day directories, listings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from vigil_recorder import disk, storage


def test_resolve_under_refuses_anything_outside_the_data_dir(tmp_path: Path) -> None:
    assert disk.resolve_under(tmp_path, "recordings/a/2025-01-01/x.mp4") == tmp_path / "recordings/a/2025-01-01/x.mp4"
    for bad in ("", None, "/etc/passwd", "../x", "recordings/../../x", "a/\x00b"):
        assert disk.resolve_under(tmp_path, bad) is None


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


def test_resolve_under_refuses_a_path_through_a_symlinked_directory(tmp_path: Path) -> None:
    """Issue 12: retention unlinks what an index row names; a symlinked day directory pointing
    outside the data directory must not make it delete files there."""
    from vigil_recorder.disk import resolve_under

    data = tmp_path / "data"
    (data / "recordings" / "cam").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious.mp4").write_bytes(b"x")
    (data / "recordings" / "cam" / "2024-01-01").symlink_to(outside)
    assert resolve_under(data, "recordings/cam/2024-01-01/precious.mp4") is None
    (data / "recordings" / "cam" / "2024-01-02").mkdir()
    assert resolve_under(data, "recordings/cam/2024-01-02/a.mp4") == data / "recordings/cam/2024-01-02/a.mp4"
