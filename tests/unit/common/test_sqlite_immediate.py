"""SQLite writers that read first: with ``sqlite_immediate`` a concurrent commit makes the
other writer wait (busy timeout) instead of failing at once with "database is locked"."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from vigil_common.db.engine import make_engine
from vigil_common.db.migrate import upgrade

INSERT = text("INSERT INTO camera_events (camera_id, time, kind) VALUES (:c, '2024-01-01 00:00:00', 'x')")


def _read_then_write_while_another_commits(url: str, immediate: bool) -> None:
    reader_writer = make_engine(url, sqlite_immediate=immediate)
    other = make_engine(url)
    with reader_writer.begin() as conn, conn.begin_nested():  # as the registry: a savepoint per camera
        conn.execute(text("SELECT count(*) FROM camera_events")).scalar()
        done = threading.Event()

        def commit_elsewhere() -> None:
            with other.begin() as c2:
                c2.execute(INSERT, {"c": "other"})
            done.set()

        thread = threading.Thread(target=commit_elsewhere)
        thread.start()
        done.wait(0.5)  # without the write lock held, the other commit lands now
        conn.execute(INSERT, {"c": "mine"})
    thread.join(10)
    reader_writer.dispose()
    other.dispose()


def test_immediate_transactions_wait_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    _read_then_write_while_another_commits(url, immediate=True)


def test_deferred_transactions_fail_which_is_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url)
    with pytest.raises(OperationalError, match="locked"):
        _read_then_write_while_another_commits(url, immediate=False)
