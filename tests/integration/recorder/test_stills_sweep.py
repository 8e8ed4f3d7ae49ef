"""Unindexed stills past retention are swept; indexed or recent ones never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.models import MotionEvent, Snapshot
from vigil_common.runtime.settings import Settings
from vigil_recorder.reconcile import duty as rc
from vigil_recorder.reconcile.stills import expired_before, sweep_unindexed_stills
from vigil_recorder.storage.stills import snapshot_relpath, thumbnail_relpath

pytestmark = pytest.mark.integration
TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)


def put(data_dir: Path, rel: Path | str, size: int = 100) -> Path:
    path = data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8" + b"x" * (size - 4) + b"\xff\xd9")
    return path


def test_expired_before_keeps_a_whole_spare_day() -> None:
    assert expired_before(NOW, timedelta(days=10), TZ).isoformat() == "2024-06-19"


def test_only_unindexed_expired_day_folders_go(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    old = datetime(2024, 6, 1, 10, tzinfo=UTC)  # 29 days before NOW: past a 10-day retention
    orphan = put(tmp_path, snapshot_relpath("cam1", old, TZ))  # its row was never written
    orphan_thumb = put(tmp_path, thumbnail_relpath("cam1", old, TZ))
    indexed = put(tmp_path, snapshot_relpath("cam2", old, TZ))  # retention's business, not ours
    with sessions.begin() as db:
        db.add(Snapshot(camera_id="cam2", time=old, path=str(snapshot_relpath("cam2", old, TZ)), bytes=100,
                        width=64, height=48))
    recent = put(tmp_path, snapshot_relpath("cam1", NOW - timedelta(days=2), TZ))  # within retention
    motion_kept = put(tmp_path, thumbnail_relpath("cam3", old, TZ))  # motion kept longer: 60 days
    with sessions.begin() as db:
        db.add(MotionEvent(camera_id="cam3", start=old, end=old + timedelta(seconds=5), score=1.0,
                           thumbnail_path=str(thumbnail_relpath("cam3", old, TZ))))
    odd = tmp_path / "snapshots" / "cam1" / "notes"  # not a day folder: ignored
    odd.mkdir(parents=True)
    (odd / "keep.txt").write_text("mine")

    out = sweep_unindexed_stills(tmp_path, sessions, TZ, NOW, snapshot_keep=timedelta(days=10),
                                 thumbnail_keep=timedelta(days=60))
    assert not orphan.exists() and not orphan.parent.exists()
    assert orphan_thumb.exists()  # thumbnails are kept for 60 days here
    assert indexed.exists() and recent.exists() and motion_kept.exists() and (odd / "keep.txt").exists()
    assert (out.files, out.dirs) == (1, 1)

    out = sweep_unindexed_stills(tmp_path, sessions, TZ, NOW, snapshot_keep=timedelta(days=10),
                                 thumbnail_keep=timedelta(days=10))
    assert not orphan_thumb.exists() and motion_kept.exists() and (out.files, out.dirs) == (1, 1)


def test_a_link_in_an_expired_folder_is_not_followed(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"keep")
    folder = tmp_path / "snapshots" / "cam1" / "2024-01-01"
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(outside, target_is_directory=True)
    sweep_unindexed_stills(tmp_path, sessions, TZ, NOW, snapshot_keep=timedelta(days=10),
                           thumbnail_keep=timedelta(days=10))
    assert (outside / "a.jpg").read_bytes() == b"keep"


def test_the_full_reconcile_sweeps_stills(settings: Settings, sessions: sessionmaker[Session]) -> None:
    orphan = put(settings.data_dir, snapshot_relpath("cam1", datetime(2020, 1, 1, tzinfo=UTC), settings.tz))
    client = redis.Redis.from_url(settings.redis_url)
    try:
        report = rc.reconcile(settings, sessions, client, full=True)
    finally:
        client.close()
    assert report.stills_removed == 1 and not orphan.exists()
