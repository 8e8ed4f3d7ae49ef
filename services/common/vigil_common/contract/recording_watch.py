"""The recording watchdog's decision: is every streaming camera being recorded, and if not, why?

Pure functions over plain records; :mod:`vigil_common.db.recording_probe` reads the inputs from
Redis, RQ and the registry. Used by the API (``/health``, ``/metrics``, the web app's banner)
and the notifier ("recording stalled" alert), so all three always agree.

**Lag.** Windows are cut on Redis arrival time. The recorder marks, per camera, the end of the
newest window it has finished (recorded, already indexed, empty, or skipped by motion-only
recording; a window that *expired* from the buffer is not finished: footage was lost). A camera's
lag is the age of the oldest frame that arrived after that mark: while it keeps up, at most one
segment plus the closing grace and the job's time (≈ 15 s at the default 10 s segments); a
camera with no frame in its buffer is not streaming and has no lag. A camera is **stalled** when
its lag exceeds ``stall_segments`` segment lengths (``VIGIL_RECORDING_STALL_SEGMENTS``, default
3), plus, for motion-only cameras, the time a window may wait for the motion verdict.

**Reason** (one for the whole recorder, since every camera shares it), in this order:
``disk_full`` (a write failed with ENOSPC, or less than :data:`DISK_FULL_BYTES` free),
``recorder_hung`` (no recorder process refreshes its liveness key, yet one still holds the
connection it refreshes it on: a stopped process), ``recorder_down`` (no process alive, none
connected), ``recorder_crash_looping`` (a process is alive but its worker loop keeps failing),
``queue_backed_up`` (segment jobs wait while every worker is busy, or one has waited the
threshold less one segment: add workers), else
``recorder_behind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DISK_FULL = "disk_full"
RECORDER_CRASH_LOOPING = "recorder_crash_looping"
RECORDER_HUNG = "recorder_hung"
RECORDER_DOWN = "recorder_down"
QUEUE_BACKED_UP = "queue_backed_up"
RECORDER_BEHIND = "recorder_behind"
REASONS = (DISK_FULL, RECORDER_CRASH_LOOPING, RECORDER_HUNG, RECORDER_DOWN, QUEUE_BACKED_UP, RECORDER_BEHIND)

# Below this, the next segment may not fit: the disk is full whatever the configured floor.
DISK_FULL_BYTES = 64 * 1024 * 1024
# An RQ worker heartbeats at least every 10 s idle (its dequeue timeout) and every 5 s busy.
WORKER_STALE_S = 30.0
# Worker-loop failures this recent count towards a crash loop; an ENOSPC this recent is "now".
CRASH_WINDOW_S = 300.0
CRASH_LOOP_MIN = 2


@dataclass(frozen=True, slots=True)
class Policy:
    segment_seconds: float
    stall_segments: float = 3.0
    motion_wait_s: float = 0.0  # how long a motion-only window may wait for its verdict
    stream_buffer_s: float = 120.0  # a camera with no frame this recent is not streaming

    @property
    def threshold_s(self) -> float:
        return self.stall_segments * self.segment_seconds

    def threshold_for(self, motion_only: bool) -> float:
        return self.threshold_s + (self.motion_wait_s if motion_only else 0.0)


@dataclass(frozen=True, slots=True)
class CameraProgress:
    """One camera's recording progress, in Redis arrival time (ms since the epoch)."""

    camera_id: str
    motion_only: bool
    last_frame_ms: int | None  # the newest frame in its stream
    recorded_through_ms: int | None  # end of the newest finished window (None: never)
    oldest_unrecorded_ms: int | None  # the first frame after that end (None: all recorded)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    name: str
    last_heartbeat: float | None  # epoch seconds (RQ's worker heartbeat)
    busy: bool = False  # running a job


@dataclass(frozen=True, slots=True)
class RecorderState:
    processes_alive: int = 0  # recorder processes whose liveness key is fresh
    processes_stopped: int | None = 0  # connected without a fresh key (None: CLIENT LIST not allowed)
    workers: Sequence[WorkerInfo] = ()
    crashes: Sequence[float] = ()  # epoch seconds of worker-loop failures (the last hour)
    last_crash: str = ""  # the failure's exception type, when known
    queued: int = 0  # segment jobs waiting
    oldest_queued_s: float | None = None  # how long the oldest of them has waited
    disk_full_at: float | None = None  # the last write that failed with ENOSPC
    bytes_free: int | None = None  # published by retention (None: unknown or stale)


@dataclass(frozen=True, slots=True)
class CameraLag:
    camera_id: str
    lag_s: float
    threshold_s: float
    recorded_through_ms: int | None

    @property
    def stalled(self) -> bool:
        return self.lag_s > self.threshold_s


@dataclass(frozen=True, slots=True)
class WatchReport:
    checked_at: float
    threshold_s: float
    cameras: tuple[CameraLag, ...] = ()  # every streaming camera
    reason: str | None = None  # set when some camera is stalled
    detail: str = ""
    workers_alive: int = 0

    @property
    def stalled(self) -> tuple[CameraLag, ...]:
        return tuple(c for c in self.cameras if c.stalled)

    @property
    def ok(self) -> bool:
        return not self.stalled


def camera_lag(p: CameraProgress, now_ms: int, policy: Policy) -> CameraLag | None:
    """The camera's lag, or None when it is not streaming (no frame within the buffer)."""
    if p.last_frame_ms is None or now_ms - p.last_frame_ms > policy.stream_buffer_s * 1000:
        return None
    lag_ms = 0 if p.oldest_unrecorded_ms is None else max(0, now_ms - p.oldest_unrecorded_ms)
    return CameraLag(p.camera_id, lag_ms / 1000, policy.threshold_for(p.motion_only), p.recorded_through_ms)


def alive_workers(state: RecorderState, now: float) -> list[WorkerInfo]:
    return [w for w in state.workers if w.last_heartbeat is not None and now - w.last_heartbeat <= WORKER_STALE_S]


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def diagnose(state: RecorderState, now: float, policy: Policy) -> tuple[str, str]:
    """Why recording is behind: ``(reason, detail)``; the detail names no secret or path."""
    if state.disk_full_at is not None and now - state.disk_full_at <= CRASH_WINDOW_S:
        return DISK_FULL, f"a segment write failed for lack of disk space {_ago(now - state.disk_full_at)} ago"
    if state.bytes_free is not None and state.bytes_free < DISK_FULL_BYTES:
        return DISK_FULL, f"only {state.bytes_free // (1024 * 1024)} MiB free on the recordings disk"
    if not state.processes_alive:
        if state.processes_stopped:
            return RECORDER_HUNG, (f"{state.processes_stopped} recorder process(es) stopped responding but still "
                                   "hold their Redis connection (paused, or stuck)")
        beats = [w.last_heartbeat for w in state.workers if w.last_heartbeat is not None]
        since = f"; a worker last heartbeat {_ago(now - max(beats))} ago" if beats else ""
        return RECORDER_DOWN, f"no recorder process is running{since}"
    recent = [t for t in state.crashes if now - t <= CRASH_WINDOW_S]
    alive = alive_workers(state, now)
    last = f" (last: {state.last_crash})" if state.last_crash else ""
    if len(recent) >= CRASH_LOOP_MIN or (recent and not alive):
        return RECORDER_CRASH_LOOPING, (f"the recorder's worker loop failed {len(recent)} time(s) in the last "
                                        f"{_ago(CRASH_WINDOW_S)}{last}; it restarts with backoff")
    # Jobs waiting while every worker is busy: too little capacity. A window is a segment (plus
    # the grace) old when its job is enqueued, so a job that waited the rest of the threshold is
    # what made the lag whatever the workers say.
    waited = state.oldest_queued_s or 0.0
    if state.queued and (waited >= policy.threshold_s - policy.segment_seconds
                         or (alive and all(w.busy for w in alive))):
        return QUEUE_BACKED_UP, (f"{state.queued} segment job(s) waiting, the oldest for {_ago(waited)}, "
                                 f"with {len(alive)} worker(s) busy: add recorder workers")
    return RECORDER_BEHIND, (f"{len(alive)} recorder worker(s) alive but segments are not being finished: "
                             "see the recorder's log and its failed jobs")


def assess(progress: Sequence[CameraProgress], state: RecorderState, now: float, policy: Policy) -> WatchReport:
    now_ms = int(now * 1000)
    lags = tuple(lag for p in progress if (lag := camera_lag(p, now_ms, policy)) is not None)
    reason, detail = diagnose(state, now, policy) if any(c.stalled for c in lags) else (None, "")
    return WatchReport(now, policy.threshold_s, lags, reason, detail, len(alive_workers(state, now)))
