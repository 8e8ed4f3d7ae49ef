"""Day videos against real Redis, PostgreSQL and files: segments recorded by the recorder (or
encoded with GOPs), joined by ``build_day_video`` / the RQ job, decoded back with PyAV."""


from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import av
import pytest
import redis
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.days import (
    S,
    assert_faststart,
    decode,
    frame_number,
    gop_segment,
    ns_of,
    record_h264_window,
    record_window,
    run_burst_worker,
    utc,
)
from vigil_common.contract import keys, recorder_jobs
from vigil_common.db.models import DayVideo, Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.days import build as days
from vigil_recorder.days import schedule as days_schedule
from vigil_recorder.days.plan import day_bounds
from vigil_recorder.duties import DutyContext
from vigil_recorder.media import mp4meta

pytestmark = pytest.mark.integration

CAM = "porch"


@pytest.fixture
def berlin(settings: Settings) -> Settings:
    return settings.model_copy(update={"timezone": "Europe/Berlin"})


def row(sessions: sessionmaker[Session], day: str, cam: str = CAM) -> DayVideo:
    with sessions() as db:
        found = db.get(DayVideo, (cam, day))
    assert found is not None
    return found


def expected_times(rows: list[Segment], fps: float = 10.0) -> list[int]:
    """Capture times (ns) of every frame of ``rows`` (frames evenly spaced from ``start``)."""
    gap = int(S / fps)
    return [ns_of(r.start) + i * gap for r in rows for i in range(r.frames)]


def test_day_video_holds_the_days_segments_in_real_time(
    berlin: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    day = date(2024, 5, 1)
    start, end = day_bounds(day, berlin.tz)
    # Chronological (stream ids only grow): the last segment of the day before, straddling midnight.
    before = record_window(berlin, client, sessions, CAM, ns_of(start) - 1 * S, 15, first_number=900)
    a = record_window(berlin, client, sessions, CAM, ns_of(start) + 5 * S, 20, first_number=0)
    b = record_window(berlin, client, sessions, CAM, ns_of(a.end), 20, first_number=20)
    c = record_window(berlin, client, sessions, CAM, ns_of(start + timedelta(hours=13)), 10, first_number=40)
    after = record_window(berlin, client, sessions, CAM, ns_of(end) + 2 * S, 5, first_number=950)
    assert before.start < start < before.end and after.start >= end

    summary = days.build_day_video(berlin, client, sessions, CAM, "2024-05-01")
    assert summary["status"] == "done" and summary["segments"] == 3 and summary["frames"] == 50
    assert not summary["inband_parameter_sets"] and summary["reencoded"] == 0  # one encoder, one avcC: plain copy
    path = berlin.data_dir / "days" / CAM / "2024-05-01.mp4"
    assert summary["path"] == "days/porch/2024-05-01.mp4" and path.is_file()
    r = row(sessions, "2024-05-01")
    assert (r.status, r.progress, r.segments, r.covers_until, r.bytes) == ("done", 1.0, 3, c.end, path.stat().st_size)
    assert [p.name for p in path.parent.iterdir()] == ["2024-05-01.mp4"]  # no partial left behind

    out = decode(path)
    assert len(out.pts_s) == a.frames + b.frames + c.frames  # every frame of the day, none of the others
    assert out.numbers == list(range(50))
    assert (out.width, out.height) == (160, 120)
    # Position = time since local midnight: the first picture is held from 0, then real time.
    assert out.pts_s[0] == 0.0
    wall = expected_times([a, b, c])
    for pts, t in list(zip(out.pts_s, wall, strict=True))[1:]:
        assert pts == pytest.approx((t - ns_of(start)) / S, abs=0.001)
    assert out.pts_s[-1] == pytest.approx(13 * 3600 + 0.9, abs=0.001)
    assert_faststart(path)
    meta = mp4meta.read_meta(path)
    assert meta is not None and meta["kind"] == "day" and meta["origin_ns"] == ns_of(start)

    # Asked again: nothing to do, the file is not rewritten.
    inode = path.stat().st_ino
    assert days.build_day_video(berlin, client, sessions, CAM, "2024-05-01")["status"] == "current"
    assert path.stat().st_ino == inode

    # New footage that day: the video is out of date and is rebuilt with it.
    d = record_window(berlin, client, sessions, CAM, ns_of(start + timedelta(hours=14)), 10, first_number=50)
    again = days.build_day_video(berlin, client, sessions, CAM, "2024-05-01")
    assert again["status"] == "done" and again["frames"] == 60
    assert row(sessions, "2024-05-01").covers_until == d.end
    assert decode(path).numbers == list(range(60))


def test_mixed_sizes_and_parameter_sets_are_joined(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    """GOP segments of the main size are copied, another encoder's parameter sets go in band,
    and a segment of another size is re-encoded to the main size."""
    t = ns_of(utc(2024, 5, 2, 8))
    g1 = gop_segment(settings, sessions, CAM, t, 30, gop=10, first_number=0)
    small = record_window(settings, client, sessions, CAM, t + 4 * S, 10, size=(96, 64), first_number=30)
    g2 = gop_segment(settings, sessions, CAM, t + 6 * S, 30, gop=10, first_number=40)
    g3 = gop_segment(settings, sessions, CAM, t + 9 * S, 20, gop=10, first_number=70,
                     preset="ultrafast")  # other SPS/PPS, same size
    summary = days.build_day_video(settings, client, sessions, CAM, "2024-05-02")
    assert summary["status"] == "done" and summary["reencoded"] == 1
    assert summary["inband_parameter_sets"]
    path = settings.data_dir / summary["path"]
    out = decode(path)
    assert (out.width, out.height) == (160, 128)
    assert len(out.pts_s) == g1.frames + small.frames + g2.frames + g3.frames
    assert out.numbers == list(range(90))
    assert_faststart(path)
    # Seeking into the last (ultrafast) part decodes with its own parameter sets.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        target = (ns_of(g3.start) - ns_of(day_bounds(date(2024, 5, 2), settings.tz)[0])) / S + 1.0
        container.seek(int(target / stream.time_base), stream=stream)
        numbers = [frame_number(f) for f in container.decode(stream)]
    assert numbers[-1] == 89 and 70 <= numbers[0] <= 80


def test_camera_h264_and_encoded_segments_are_joined(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    """A camera that switched between JPEG and H.264 the same day: segments from both paths,
    each with its own parameter sets, in one file (the H.264 ones keep their own in band)."""
    t = ns_of(utc(2024, 5, 12, 8))
    a = record_h264_window(settings, client, sessions, CAM, t, 20, first_number=0)
    b = record_window(settings, client, sessions, CAM, t + 5 * S, 20, first_number=20)
    c = record_h264_window(settings, client, sessions, CAM, t + 10 * S, 20, first_number=40)
    summary = days.build_day_video(settings, client, sessions, CAM, "2024-05-12")
    assert summary["frames"] == a.frames + b.frames + c.frames == 60
    assert summary["reencoded"] == 0 and summary["inband_parameter_sets"]
    out = decode(settings.data_dir / summary["path"])
    assert out.numbers == list(range(60))


def test_dst_day_keeps_real_time(berlin: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    start, end = day_bounds(date(2024, 10, 27), berlin.tz)
    assert end - start == timedelta(hours=25)
    first = start + timedelta(hours=2, minutes=30)  # 02:30 CEST
    second = first + timedelta(hours=1)  # 02:30 CET, the same clock time an hour later
    a = record_window(berlin, client, sessions, CAM, ns_of(first), 10, first_number=0)
    b = record_window(berlin, client, sessions, CAM, ns_of(second), 10, first_number=10)
    c = record_window(berlin, client, sessions, CAM, ns_of(end) - 3 * S, 10, first_number=20)  # 23:59:57
    summary = days.build_day_video(berlin, client, sessions, CAM, "2024-10-27")
    assert summary["frames"] == 30
    out = decode(berlin.data_dir / summary["path"])
    assert out.numbers == list(range(30))
    assert out.pts_s[10] == pytest.approx(3.5 * 3600, abs=0.001)
    assert out.pts_s[20] == pytest.approx(25 * 3600 - 3, abs=0.001)
    assert (a.frames, b.frames, c.frames) == (10, 10, 10)


def test_day_without_footage(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    assert days.build_day_video(settings, client, sessions, CAM, "2024-05-03")["status"] == "empty"
    r = row(sessions, "2024-05-03")
    assert r.status == "failed" and r.error == "no recordings on this day"
    assert not (settings.data_dir / "days").exists()


def test_one_assembly_at_a_time(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 4, 9)), 5)
    client.set(days.lock_key(CAM, "2024-05-04"), "someone-else")
    assert days.build_day_video(settings, client, sessions, CAM, "2024-05-04")["status"] == "busy"
    client.delete(days.lock_key(CAM, "2024-05-04"))
    assert days.build_day_video(settings, client, sessions, CAM, "2024-05-04")["status"] == "done"
    assert not client.exists(days.lock_key(CAM, "2024-05-04"))  # released
    lock = days.Lock(client, days.lock_key(CAM, "2024-05-04"))
    assert lock.acquire() and 0 < client.pttl(lock.key) <= days.LOCK_TTL_S * 1000  # a killed job's lock lapses
    lock.release()


def test_missing_segment_file_is_left_out(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    t = ns_of(utc(2024, 5, 5, 9))
    a = record_window(settings, client, sessions, CAM, t, 5, first_number=0)
    b = record_window(settings, client, sessions, CAM, t + 60 * S, 5, first_number=5)
    (settings.data_dir / a.path).unlink()
    summary = days.build_day_video(settings, client, sessions, CAM, "2024-05-05")
    assert summary["status"] == "done" and summary["skipped"] == 1 and summary["frames"] == 5
    r = row(sessions, "2024-05-05")
    assert r.covers_until == b.end and r.error == "1 unreadable segment(s) left out"
    assert days.build_day_video(settings, client, sessions, CAM, "2024-05-05")["status"] == "current"


def test_failed_assembly_is_recorded(settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]) -> None:
    a = record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 6, 9)), 5)
    Path(settings.data_dir / a.path).write_bytes(b"not an mp4 at all")
    with pytest.raises(Exception, match=r"no usable H\.264 segment"):
        days.build_day_video(settings, client, sessions, CAM, "2024-05-06")
    r = row(sessions, "2024-05-06")
    assert r.status == "failed" and "no usable H.264 segment" in (r.error or "")
    assert list((settings.data_dir / "days" / CAM).iterdir()) == []


def test_enqueued_assembly_runs_in_a_recorder_worker(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    t = ns_of(utc(2024, 5, 7, 10))
    record_window(settings, client, sessions, CAM, t, 10, first_number=0)
    record_window(settings, client, sessions, CAM, t + 3600 * S, 10, first_number=10)
    assert recorder_jobs.enqueue_day(client, CAM, "2024-05-07")
    assert not recorder_jobs.enqueue_day(client, CAM, "2024-05-07")  # same job id: one job
    assert Queue(keys.RECORDER_SLOW_QUEUE, connection=client).job_ids == ["day-porch-2024-05-07"]
    run_burst_worker(settings)
    r = row(sessions, "2024-05-07")
    assert r.status == "done" and r.progress == 1.0 and r.segments == 2
    out = decode(settings.data_dir / (r.path or ""))
    assert out.numbers == list(range(20))


def test_duty_schedules_each_finished_day_once(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    now = utc(2024, 5, 10, 0, 10)  # 10 minutes into May 10th (UTC): May 9th has settled
    record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 8, 12)), 3)
    record_window(settings, client, sessions, "gate", ns_of(utc(2024, 5, 9, 12)), 3)
    record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 9, 13)), 3)
    record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 10, 0, 1)), 3)  # today: not yet
    ctx = DutyContext(settings, client, sessions, lambda *a: None)
    enqueued = days_schedule.schedule_due_days(ctx, now)
    assert sorted(enqueued) == [("gate", "2024-05-09"), ("porch", "2024-05-08"), ("porch", "2024-05-09")]
    assert row(sessions, "2024-05-09", "gate").status == "queued"
    assert sorted(Queue(keys.RECORDER_SLOW_QUEUE, connection=client).job_ids) == [
        "day-gate-2024-05-09", "day-porch-2024-05-08", "day-porch-2024-05-09"]
    assert days_schedule.schedule_due_days(ctx, now) == []
    fresh = DutyContext(settings, client, sessions, lambda *a: None)  # a new leader: rows say it is done
    assert days_schedule.schedule_due_days(fresh, now) == []
    early = utc(2024, 5, 10, 0, 1)  # before the settling time only May 8th is due (already done)
    assert days_schedule.schedule_due_days(DutyContext(settings, client, sessions, lambda *a: None), early) == []
    assert [d.name for d in days.duties(settings)] == ["days"]


def test_partials_of_killed_writers_are_swept(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 11, 9)), 5)
    folder = settings.data_dir / "days" / CAM
    folder.mkdir(parents=True)
    old, fresh = folder / ".2024-05-01.mp4.0badc0de.partial", folder / ".2024-05-02.mp4.0f00d00d.partial"
    old.write_bytes(b"left by a kill -9")
    fresh.write_bytes(b"being written by another job")
    long_ago = old.stat().st_mtime - recorder_jobs.SLOW_PARTIAL_STALE_S - 3600
    os.utime(old, (long_ago, long_ago))
    days.build_day_video(settings, client, sessions, CAM, "2024-05-11")
    assert not old.exists() and fresh.exists()
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name, "2024-05-11.mp4"]


def test_day_video_refused_below_the_free_space_floor(
    settings: Settings, client: redis.Redis, sessions: sessionmaker[Session]
) -> None:
    """A day video copies footage: below VIGIL_MIN_FREE_BYTES it is refused (no retry storm),
    and nothing is deleted to make room for it."""
    a = record_window(settings, client, sessions, CAM, ns_of(utc(2024, 5, 7, 9)), 5)
    full = settings.model_copy(update={"min_free_bytes": 1 << 60})
    summary = days.build_day_video(full, client, sessions, CAM, "2024-05-07")
    assert summary["status"] == "no_space" and "VIGIL_MIN_FREE_BYTES" in summary["error"]
    r = row(sessions, "2024-05-07")
    assert r.status == "failed" and "not enough disk space" in (r.error or "")
    assert (settings.data_dir / a.path).is_file()  # the recording is untouched
    assert not (settings.data_dir / "days").exists() or not any((settings.data_dir / "days").rglob("*.mp4"))
    assert days.build_day_video(settings, client, sessions, CAM, "2024-05-07")["status"] == "done"


def test_striped_numbers_survive_encoding(settings: Settings, sessions: sessionmaker[Session]) -> None:
    row = gop_segment(settings, sessions, "probe", ns_of(utc(2024, 5, 1, 12)), 12, first_number=500)
    out = decode(settings.data_dir / row.path)
    assert out.numbers == list(range(500, 512))
    assert out.keyframes == 2  # frames 0 and 10
