"""Segment file naming, crash-safe commit, stale partial sweep, embedded metadata."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

import pytest

from vigil_common.contract.ids import InvalidIdError
from vigil_recorder.media import mp4meta
from vigil_recorder.storage import paths as storage


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_relpath_layout_utc() -> None:
    start = ms(datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC))
    rel = storage.segment_relpath("cam-1", start, ZoneInfo("UTC"))
    assert rel == PurePosixPath(f"recordings/cam-1/2024-03-01/cam-1_20240301T120005Z_{start}.mp4")


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("UTC", "2024-03-01"),  # 01:30 UTC
        ("America/New_York", "2024-02-29"),  # 20:30 the evening before (leap day)
        ("Pacific/Auckland", "2024-03-01"),  # 14:30 the same day
    ],
)
def test_relpath_day_in_configured_zone(zone: str, day: str) -> None:
    start = ms(datetime(2024, 3, 1, 1, 30, tzinfo=UTC))
    rel = storage.segment_relpath("cam1", start, ZoneInfo(zone))
    assert rel.parts[2] == day
    assert rel.name == f"cam1_20240301T013000Z_{start}.mp4"  # the name stays UTC


def test_relpath_day_around_dst_change() -> None:
    # Europe/Berlin leaves DST on 2024-10-27 at 01:00 UTC; 22:30 UTC on the 26th is 00:30 local.
    start = ms(datetime(2024, 10, 26, 22, 30, tzinfo=UTC))
    assert storage.segment_relpath("c", start, ZoneInfo("Europe/Berlin")).parts[2] == "2024-10-27"


@pytest.mark.parametrize("bad", ["../etc", "Cam", "a/b", "", "cam\n", "x" * 33])
def test_relpath_rejects_bad_camera_ids(bad: str) -> None:
    with pytest.raises(InvalidIdError):
        storage.segment_relpath(bad, 0, ZoneInfo("UTC"))


@pytest.mark.parametrize("bad", [-1, 1.5, "1000", True])
def test_relpath_rejects_bad_start(bad: object) -> None:
    with pytest.raises(ValueError):
        storage.segment_relpath("cam", bad, ZoneInfo("UTC"))


def test_partial_path_is_hidden_unique_and_in_the_same_dir(tmp_path: Path) -> None:
    final = tmp_path / "x.mp4"
    a, b = storage.partial_path(final), storage.partial_path(final)
    assert a != b
    assert a.parent == final.parent
    assert a.name.startswith(".x.mp4.") and a.name.endswith(storage.PARTIAL_SUFFIX)


def test_commit_replaces_atomically(tmp_path: Path) -> None:
    target_dir = tmp_path / "recordings" / "cam" / "2024-01-01"
    storage.ensure_dir(target_dir)
    final = target_dir / "seg.mp4"
    final.write_bytes(b"old")
    tmp = storage.partial_path(final)
    tmp.write_bytes(b"new content")
    storage.commit(tmp, final)
    assert final.read_bytes() == b"new content"
    assert not tmp.exists()
    assert os.listdir(target_dir) == ["seg.mp4"]


def test_sweep_partials_removes_only_old_partials(tmp_path: Path) -> None:
    day = tmp_path / "cam" / "2024-01-02"
    day.mkdir(parents=True)
    old = day / ".a.mp4.1234.partial"
    fresh = day / ".b.mp4.5678.partial"
    keep = day / "a.mp4"
    for p in (old, fresh, keep):
        p.write_bytes(b"x")
    now = time.time()
    os.utime(old, (now - 7200, now - 7200))
    os.utime(keep, (now - 7200, now - 7200))
    assert storage.sweep_partials(tmp_path, 3600, now=now) == 1
    assert not old.exists() and fresh.exists() and keep.exists()
    assert storage.sweep_partials(tmp_path / "missing", 3600) == 0


def test_meta_box_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "f.mp4"
    # A minimal box sequence standing in for ftyp / moov / mdat.
    boxes = b"".join(
        len(body).to_bytes(4, "big") + kind + body[8:]
        for kind, body in ((b"ftyp", b"\0" * 16), (b"moov", b"\0" * 40), (b"mdat", b"\0" * 100))
    )
    path.write_bytes(boxes)
    assert mp4meta.read_meta(path) is None
    mp4meta.append_box(path, {"camera_id": "cam", "frames": 3})
    meta = mp4meta.read_meta(path)
    assert meta == {"v": mp4meta.FORMAT_VERSION, "camera_id": "cam", "frames": 3}
    with open(path, "rb") as fh:
        kinds = [k for k, _o, _l in mp4meta.top_level_boxes(fh, path.stat().st_size)]
    assert kinds == [b"ftyp", b"moov", b"mdat", b"uuid"]


def test_meta_ignores_garbage_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "g.mp4"
    path.write_bytes(os.urandom(1000))
    assert mp4meta.read_meta(path) is None
    path.write_bytes(b"")
    assert mp4meta.read_meta(path) is None
    assert mp4meta.read_meta(tmp_path / "missing.mp4") is None
    box = mp4meta.encode_box({"frames": 1})
    path.write_bytes(box[:-3])  # truncated box
    assert mp4meta.read_meta(path) is None
