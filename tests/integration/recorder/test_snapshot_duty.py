"""The snapshot duty against real Redis and PostgreSQL: files, rows, and what it skips."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import add_camera
from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Snapshot
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import DutyContext
from vigil_recorder.snapshots.duty import duties, snapshot_time, take_snapshots
from vigil_recorder.storage.stills import snapshot_relpath

pytestmark = pytest.mark.integration

NS = 1_000_000_000


@pytest.fixture
def ctx(settings: Settings) -> Iterator[DutyContext]:
    engine = make_engine(settings.database_url)
    client = redis.Redis.from_url(settings.redis_url)
    yield DutyContext(settings, client, make_sessionmaker(engine), lambda *a: None)
    client.close()
    engine.dispose()


def jpeg(i: int, width: int = 64, height: int = 48) -> bytes:
    img = np.full((height, width, 3), (i * 40) % 256, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def xadd(client: redis.Redis, cam: str, payload: bytes, capture_ns: int, *, codec: Codec = Codec.JPEG,
         keyframe: bool = True, entry_id: str = "*", size: tuple[int, int] = (64, 48)) -> str:
    frame = Frame(codec, keyframe, 1, capture_ns, size[0], size[1], payload)
    new_id = client.xadd(keys.frames_stream(cam), streams.to_fields(frame), id=entry_id)  # type: ignore[arg-type]
    return new_id.decode() if isinstance(new_id, bytes) else str(new_id)


def rows(sessions: sessionmaker[Session], cam: str) -> list[Snapshot]:
    with sessions() as db:
        return list(db.scalars(select(Snapshot).where(Snapshot.camera_id == cam).order_by(Snapshot.time)))


def test_the_duty_runs_at_the_snapshot_interval(settings: Settings) -> None:
    [duty] = duties(settings)
    assert (duty.name, duty.interval_s) == ("snapshots", 5)


def test_newest_jpeg_saved_and_indexed_once(ctx: DutyContext) -> None:
    sessions, client, data = ctx.sessions, ctx.redis, ctx.settings.data_dir
    add_camera(sessions, "cam1")
    add_camera(sessions, "cam2", enabled=False)
    add_camera(sessions, "cam3")  # never sent a frame
    t0 = (time.time_ns() // NS) * NS
    xadd(client, "cam1", jpeg(1), t0 + 100_000_000)
    xadd(client, "cam1", jpeg(2), t0 + 200_000_000)  # the newest is saved
    xadd(client, "cam2", jpeg(3), t0)

    assert take_snapshots(ctx) == {"cam1": "saved", "cam3": "skipped"}
    [row] = rows(sessions, "cam1")
    assert row.time == snapshot_time(t0) and (row.width, row.height, row.bytes) == (64, 48, len(jpeg(2)))
    assert row.path == snapshot_relpath("cam1", row.time, ctx.settings.tz).as_posix()
    assert (data / row.path).read_bytes() == jpeg(2)
    assert rows(sessions, "cam2") == []

    assert take_snapshots(ctx)["cam1"] == "skipped"  # same entry
    xadd(client, "cam1", jpeg(4), t0 + 900_000_000)
    assert take_snapshots(ctx)["cam1"] == "skipped"  # same second
    xadd(client, "cam1", jpeg(5), t0 + NS)
    assert take_snapshots(ctx)["cam1"] == "saved"
    assert [r.time for r in rows(sessions, "cam1")] == [snapshot_time(t0), snapshot_time(t0 + NS)]

    # A new leader (empty state) sees the same newest frame: the row exists, nothing rewritten.
    ctx.state.clear()
    newest = data / rows(sessions, "cam1")[-1].path
    before = newest.stat().st_mtime_ns
    assert take_snapshots(ctx)["cam1"] == "exists"
    assert newest.stat().st_mtime_ns == before
    assert not [p for p in data.rglob("*") if p.name.endswith(".partial")]


def test_a_file_without_a_row_is_rewritten_and_indexed(ctx: DutyContext) -> None:
    add_camera(ctx.sessions, "cam1")
    t0 = time.time_ns()
    path = ctx.settings.data_dir / snapshot_relpath("cam1", snapshot_time(t0), ctx.settings.tz)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a jpeg")  # a crash between the file and its row
    xadd(ctx.redis, "cam1", jpeg(7), t0)
    assert take_snapshots(ctx) == {"cam1": "saved"}
    assert path.read_bytes() == jpeg(7)
    assert [r.bytes for r in rows(ctx.sessions, "cam1")] == [len(jpeg(7))]


def test_stale_frames_are_not_snapshots(ctx: DutyContext) -> None:
    add_camera(ctx.sessions, "cam1")
    now_ms = int(time.time() * 1000)
    xadd(ctx.redis, "cam1", jpeg(1), (now_ms - 60_000) * 1_000_000, entry_id=f"{now_ms - 60_000}-0")
    assert take_snapshots(ctx) == {"cam1": "skipped"}
    assert rows(ctx.sessions, "cam1") == []


def h264_units(count: int = 4) -> list[bytes]:
    out = av.open(io.BytesIO(), "w", format="h264")
    stream = out.add_stream("libx264", rate=15)
    stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
    stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
    units: list[bytes] = []
    for i in range(count):
        img = np.full((240, 320, 3), 30 * i, np.uint8)
        units += [bytes(p) for p in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24"))]
    units += [bytes(p) for p in stream.encode(None)]
    out.close()
    return units


def test_h264_cameras_get_their_newest_keyframe_as_jpeg(ctx: DutyContext) -> None:
    add_camera(ctx.sessions, "cam5", codec="h264")
    idr, *rest = h264_units()
    t0 = (time.time_ns() // NS) * NS
    xadd(ctx.redis, "cam5", idr, t0, codec=Codec.H264, size=(320, 240))
    for i, unit in enumerate(rest[:2]):
        xadd(ctx.redis, "cam5", unit, t0 + (i + 1) * 66_000_000, codec=Codec.H264, keyframe=False, size=(320, 240))
    assert take_snapshots(ctx) == {"cam5": "saved"}
    [row] = rows(ctx.sessions, "cam5")
    assert (row.time, row.width, row.height) == (snapshot_time(t0), 320, 240)
    img = cv2.imread(str(ctx.settings.data_dir / row.path))
    assert img is not None and img.shape == (240, 320, 3) and int(img.mean()) < 8  # black frame 0
    # Only P-frames since: nothing new to decode.
    xadd(ctx.redis, "cam5", rest[2], t0 + 2 * NS, codec=Codec.H264, keyframe=False, size=(320, 240))
    assert take_snapshots(ctx) == {"cam5": "skipped"}


def test_undecodable_h264_is_skipped(ctx: DutyContext) -> None:
    add_camera(ctx.sessions, "cam6", codec="h264")
    xadd(ctx.redis, "cam6", b"\x00\x00\x00\x01\x41garbage", time.time_ns(), codec=Codec.H264, keyframe=False)
    assert take_snapshots(ctx) == {"cam6": "skipped"}


def test_unwritable_data_dir_is_reported_not_raised(ctx: DutyContext, tmp_path: Path) -> None:
    add_camera(ctx.sessions, "cam1")
    blocker = tmp_path / "blocked"
    blocker.write_bytes(b"a file where a directory should be")
    ctx.settings = ctx.settings.model_copy(update={"data_dir": blocker})
    xadd(ctx.redis, "cam1", jpeg(1), time.time_ns())
    assert take_snapshots(ctx) == {"cam1": "failed"}
    assert rows(ctx.sessions, "cam1") == []
