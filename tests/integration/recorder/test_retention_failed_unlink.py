"""A file that cannot be removed (read-only disk, permissions) keeps its row: the index never
loses track of a file that is still on disk, and the next pass tries again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.retention import fake_segment, segment_rows
from vigil_common.runtime.settings import Settings
from vigil_recorder.storage.delete import delete_segments

pytestmark = pytest.mark.integration


def test_a_segment_whose_file_cannot_be_removed_stays_indexed_and_marked(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    ok = fake_segment(settings, sessions, "a", now - timedelta(hours=2))
    stuck = fake_segment(settings, sessions, "a", now - timedelta(hours=1))
    stuck_path = settings.data_dir / stuck.path
    stuck_path.unlink()
    stuck_path.mkdir()  # unlink() of a directory fails with an OSError, even for root
    (stuck_path / "keep").write_bytes(b"x")
    ids = [r.id for r in segment_rows(sessions)]
    removed = delete_segments(settings.data_dir, sessions, ids)
    assert removed.rows == 1 and removed.bytes == 1000  # only what was really freed is counted
    rows = segment_rows(sessions)
    assert [r.path for r in rows] == [stuck.path] and rows[0].deleting  # kept, still marked
    assert not (settings.data_dir / ok.path).exists()
    # Once the obstacle is gone the next pass finishes the job.
    (stuck_path / "keep").unlink()
    stuck_path.rmdir()
    stuck_path.write_bytes(b"y" * 10)
    assert delete_segments(settings.data_dir, sessions, [rows[0].id]).rows == 1
    assert segment_rows(sessions) == []
