"""vigil_common.contract.paths: the one rule for files named by index rows (the API serves them, the
recorder remuxes and deletes them). Issue 12 found the two copies differed; issue 13 made one."""

from __future__ import annotations

import os
from pathlib import Path

from vigil_common.contract.paths import real_path_under, regular_file_under, resolve_under


def test_plain_relative_paths_inside_are_accepted(tmp_path: Path) -> None:
    assert resolve_under(tmp_path, "recordings/a/2025-01-01/x.mp4") == tmp_path / "recordings/a/2025-01-01/x.mp4"
    assert resolve_under(tmp_path, "exports/x.mp4", "exports") == tmp_path / "exports/x.mp4"


def test_anything_else_is_refused(tmp_path: Path) -> None:
    for bad in ("", None, "/etc/passwd", "../x", "recordings/../../x", "recordings/../exports/x", "a/\x00b"):
        assert resolve_under(tmp_path, bad) is None, bad
    assert resolve_under(tmp_path, "snapshots/x.jpg", "exports") is None  # another folder
    assert resolve_under(tmp_path, "exports", "exports") is None  # the folder itself


def test_a_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    """Retention unlinks what an index row names: a symlinked day directory pointing outside
    the data directory must not make it delete files there."""
    data = tmp_path / "data"
    (data / "recordings" / "cam").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious.mp4").write_bytes(b"x")
    (data / "recordings" / "cam" / "2024-01-01").symlink_to(outside)
    assert resolve_under(data, "recordings/cam/2024-01-01/precious.mp4") is None
    assert regular_file_under(data, "recordings", "recordings/cam/2024-01-01/precious.mp4") is None
    (data / "recordings" / "cam" / "2024-01-02").mkdir()
    assert resolve_under(data, "recordings/cam/2024-01-02/a.mp4") == data / "recordings/cam/2024-01-02/a.mp4"


def test_a_final_symlink_is_deleted_itself_but_never_read_through(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "exports").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    (data / "exports" / "link.mp4").symlink_to(secret)
    # Deleting: the entry itself (unlinking it removes the link, not the target).
    assert resolve_under(data, "exports/link.mp4", "exports") == data / "exports" / "link.mp4"
    # Reading or serving: the target is outside, so nothing is returned.
    assert real_path_under(data, "exports/link.mp4", "exports") is None
    assert regular_file_under(data, "exports", "exports/link.mp4") is None


def test_only_regular_files_are_served(tmp_path: Path) -> None:
    (tmp_path / "exports" / "dir.mp4").mkdir(parents=True)
    assert regular_file_under(tmp_path, "exports", "exports/dir.mp4") is None
    assert regular_file_under(tmp_path, "exports", "exports/missing.mp4") is None
    (tmp_path / "exports" / "a.mp4").write_bytes(b"abc")
    found = regular_file_under(tmp_path, "exports", "exports/a.mp4")
    assert found is not None and found[0] == (tmp_path / "exports" / "a.mp4").resolve()
    assert found[1].st_size == 3 and os.path.samefile(found[0], tmp_path / "exports" / "a.mp4")
