"""The recording watchdog's pure decision: lag per camera, stalled or not, and why."""

from __future__ import annotations

from vigil_common.contract import recording_watch as rw
from vigil_common.contract.recording_watch import CameraProgress, Policy, RecorderState, WorkerInfo

NOW = 1_800_000_000.0
NOW_MS = int(NOW * 1000)
POLICY = Policy(segment_seconds=10, stall_segments=3, motion_wait_s=40, stream_buffer_s=120)


def cam(cid: str = "porch", *, unrecorded_ago: float | None, last_ago: float | None = 0.1,
        motion: bool = False) -> CameraProgress:
    last = None if last_ago is None else NOW_MS - int(last_ago * 1000)
    first = None if unrecorded_ago is None else NOW_MS - int(unrecorded_ago * 1000)
    through = None if first is None else first - 1
    return CameraProgress(cid, motion, last, through, first)


def alive(name: str = "recorder-a", ago: float = 2.0) -> WorkerInfo:
    return WorkerInfo(name, NOW - ago)


def running(**fields: object) -> RecorderState:
    """A recorder process alive (its liveness key fresh)."""
    return RecorderState(processes_alive=1, **fields)  # type: ignore[arg-type]


def test_a_camera_keeping_up_is_not_stalled() -> None:
    # just before a window is indexed: one segment + the grace + the job's time
    report = rw.assess([cam(unrecorded_ago=14)], running(workers=[alive()]), NOW, POLICY)
    assert report.ok and report.reason is None and report.workers_alive == 1
    assert report.cameras[0].lag_s == 14 and report.threshold_s == 30


def test_everything_recorded_is_zero_lag() -> None:
    report = rw.assess([cam(unrecorded_ago=None)], RecorderState(workers=[alive()]), NOW, POLICY)
    assert report.ok and report.cameras[0].lag_s == 0


def test_a_camera_with_no_frame_in_its_buffer_is_not_streaming() -> None:
    # stopped 10 minutes ago with frames never recorded: not this watchdog's business (the
    # notifier's camera-offline alert is), and it must not count as stalled
    progress = [cam(unrecorded_ago=700, last_ago=600), cam("gone", unrecorded_ago=None, last_ago=None)]
    report = rw.assess(progress, RecorderState(), NOW, POLICY)
    assert report.ok and report.cameras == ()


def test_more_than_three_segments_behind_is_stalled_and_names_the_camera() -> None:
    report = rw.assess([cam("a", unrecorded_ago=31), cam("b", unrecorded_ago=5)], RecorderState(), NOW, POLICY)
    assert not report.ok
    assert [c.camera_id for c in report.stalled] == ["a"]
    assert report.reason == rw.RECORDER_DOWN and "no recorder process" in report.detail


def test_motion_only_cameras_get_the_motion_decisions_wait() -> None:
    waiting = cam(unrecorded_ago=60, motion=True)  # waits for its verdict up to 40 s more
    assert rw.assess([waiting], RecorderState(workers=[alive()]), NOW, POLICY).ok
    late = cam(unrecorded_ago=71, motion=True)
    assert not rw.assess([late], RecorderState(workers=[alive()]), NOW, POLICY).ok


def behind(state: RecorderState) -> tuple[str | None, str]:
    report = rw.assess([cam(unrecorded_ago=45)], state, NOW, POLICY)
    assert not report.ok
    return report.reason, report.detail


def test_reason_dead_recorder() -> None:
    dead = WorkerInfo("recorder-a", NOW - 70)  # RQ's worker key not yet expired
    reason, detail = behind(RecorderState(processes_alive=0, processes_stopped=0, workers=[dead],
                                          crashes=[NOW - 20, NOW - 10]))
    assert reason == rw.RECORDER_DOWN and "70 s ago" in detail


def test_reason_stopped_recorder_still_holds_its_connection() -> None:
    state = RecorderState(processes_alive=0, processes_stopped=1, workers=[alive()])
    assert behind(state)[0] == rw.RECORDER_HUNG


def test_client_list_forbidden_reads_as_down() -> None:
    assert behind(RecorderState(processes_alive=0, processes_stopped=None))[0] == rw.RECORDER_DOWN


def test_reason_crash_loop_names_the_error() -> None:
    state = running(workers=[], crashes=[NOW - 50, NOW - 20], last_crash="AttributeError")
    reason, detail = behind(state)
    assert reason == rw.RECORDER_CRASH_LOOPING
    assert "2 time(s)" in detail and "AttributeError" in detail


def test_one_recent_crash_with_no_worker_is_a_crash_loop_but_with_workers_is_not() -> None:
    assert behind(running(crashes=[NOW - 5]))[0] == rw.RECORDER_CRASH_LOOPING
    assert behind(running(workers=[alive()], crashes=[NOW - 5]))[0] == rw.RECORDER_BEHIND
    old = running(workers=[alive()], crashes=[NOW - 3000, NOW - 2000])  # an hour ago: not now
    assert behind(old)[0] == rw.RECORDER_BEHIND


def test_reason_queue_backed_up() -> None:
    state = running(workers=[alive(), alive("recorder-b")], queued=40, oldest_queued_s=95)
    reason, detail = behind(state)
    assert reason == rw.QUEUE_BACKED_UP and "40 segment job(s)" in detail and "2 worker(s)" in detail
    # a window is a segment old when enqueued: 20 s in the queue is the rest of a 30 s lag
    assert behind(running(workers=[alive()], queued=3, oldest_queued_s=20))[0] == rw.QUEUE_BACKED_UP
    assert behind(running(workers=[alive()], queued=3, oldest_queued_s=5))[0] == rw.RECORDER_BEHIND
    # every worker busy with jobs waiting: too little capacity, however young the queue
    busy = WorkerInfo("recorder-a", NOW - 1, busy=True)
    assert behind(running(workers=[busy], queued=3, oldest_queued_s=5))[0] == rw.QUEUE_BACKED_UP
    assert behind(running(workers=[busy, alive("recorder-b")], queued=3, oldest_queued_s=5))[0] == rw.RECORDER_BEHIND


def test_reason_disk_full_wins() -> None:
    state = running(workers=[alive()], crashes=[NOW - 5, NOW - 4], disk_full_at=NOW - 30)
    assert behind(state)[0] == rw.DISK_FULL
    assert behind(running(workers=[alive()], bytes_free=10 * 1024 * 1024))[0] == rw.DISK_FULL
    stale = running(workers=[alive()], disk_full_at=NOW - 3000)
    assert behind(stale)[0] == rw.RECORDER_BEHIND


def test_stale_workers_are_not_alive() -> None:
    state = RecorderState(workers=[alive(ago=5), WorkerInfo("old", NOW - 31), WorkerInfo("new", None)])
    assert [w.name for w in rw.alive_workers(state, NOW)] == ["recorder-a"]


def test_the_api_names_every_reason() -> None:
    from typing import get_args

    from vigil_api.schemas.system import StallReason

    assert set(get_args(StallReason)) == set(rw.REASONS)


def test_a_stalled_lag_never_reads_as_the_threshold() -> None:
    from vigil_api.routes.system import lag_shown

    assert lag_shown(12.04) == 12.1 and lag_shown(12.0001) > 12
    assert lag_shown(12.3) == 12.3 and lag_shown(7.0) == 7.0
