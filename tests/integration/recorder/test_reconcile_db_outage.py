"""PostgreSQL down for 30 s while recording: nothing is lost.

A private PostgreSQL cluster (initdb on a free port) is stopped for 30 s in the middle of
recording with the real pipeline (ingest in this process, a `vigil recorder` worker). The
recorder's jobs keep writing their files; their inserts fail and, with a short retry policy,
they give up while the database is still away, leaving orphan files. Once the database is
back, the worker's reconcile duty indexes them: every window is indexed, rows and files
match, and no time is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import free_port, wait_port
from tests.helpers import wait_for
from tests.integration.support.retention import (
    FramePublisher,
    coverage_gap_s,
    decoded_frames,
    drained,
    mp4_files,
    segment_rows,
    start_worker,
    wait_registered,
    window_start_ms,
)
from vigil_common.contract import keys, recorder_jobs
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_ingest.service import IngestService

pytestmark = pytest.mark.integration

CAM = "dbdown"
OUTAGE_S = 30


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free loopback port (trust auth, no fsync)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start")
        wait_port("127.0.0.1", self.port)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def database(self, name: str = "vigil") -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl)")
    pg = PrivatePostgres(bindir)
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def test_a_30s_database_outage_loses_nothing(
    settings: Settings, rclient: redis.Redis, private_pg: PrivatePostgres, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vigil_common.db.migrate import upgrade

    url = private_pg.database()
    upgrade(url)
    s = settings.model_copy(update={"database_url": url})
    # Jobs give up while the database is still away (the shipped policy, 2 + 10 + 30 s,
    # would outlast a 30 s outage by itself): what they leave is the reconciler's.
    monkeypatch.setattr(recorder_jobs, "RETRY_INTERVALS", [1])
    engine = make_engine(url)
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    log_path = tmp_path / "recorder.log"
    ingest = IngestService(s)
    ingest.start()
    worker = start_worker(s, log_path, VIGIL_RECONCILE_INTERVAL_S="3")
    publisher = FramePublisher(s, CAM, fps=10)
    try:
        assert ingest.bus.wait_connected(10)
        wait_registered(s, worker)
        publisher.start()
        wait_for(lambda: len(segment_rows(factory)) >= 2, 30, "the first segments")
        engine.dispose()
        private_pg.stop()
        files_before = len(mp4_files(s))
        time.sleep(OUTAGE_S)  # the outage: recording goes on
        written_while_down = len(mp4_files(s)) - files_before
        private_pg.start()
        n = len(mp4_files(s))
        wait_for(lambda: len(mp4_files(s)) >= n + 2, 30, "recording to go on after the outage")
    finally:
        publisher.stop()
    try:
        wait_for(lambda: drained(rclient, worker), 90, "the recorder to catch up")
        wait_for(lambda: {r.path for r in segment_rows(factory)} == mp4_files(s), 60,
                 "the reconciler to index the files written during the outage")
    finally:
        worker.terminate()
        worker.wait(30)
        ingest.stop()
        engine.dispose()
    log_tail = log_path.read_text(errors="replace")[-3000:]

    assert written_while_down >= 3, log_tail  # files kept coming while the index was away
    failed = FailedJobRegistry(queue=Queue(keys.RECORDER_QUEUE, connection=rclient)).count
    assert failed >= 1, log_tail  # jobs gave up...
    raw = rclient.hget(keys.metrics_hash("recorder"), sample_name("vigil_recorder_reconcile_indexed_total"))
    assert raw is not None and int(raw) >= failed, log_tail  # ...and their files were indexed by the reconciler
    rows = segment_rows(factory)
    windows = sorted(window_start_ms(r.path) for r in rows)
    step = s.segment_seconds * 1000
    missing = sorted(set(range(windows[0], windows[-1] + step, step)) - set(windows))
    assert missing == [], log_tail  # every window, none missing
    assert coverage_gap_s(rows) < 1.0
    for r in rows:
        assert decoded_frames(s.data_dir / r.path) == r.frames, r.path
    engine.dispose()
