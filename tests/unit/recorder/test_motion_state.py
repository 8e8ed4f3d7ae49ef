"""The motion on/off state machine over simulated time (2 samples per second)."""

from __future__ import annotations

from vigil_recorder.motion.state import MotionTracker, Sample, Step, TrackerConfig

CONFIG = TrackerConfig(on_samples=2, quiet_s=10.0, max_gap_s=1.5)
NS = 1_000_000_000


def sample(t: float, score: float = 0.0, hot: bool | None = None) -> Sample:
    """A sample at ``t`` seconds; its capture time is 0.1 s earlier (latency)."""
    return Sample(t, int((t - 0.1) * NS), score, score >= 0.01 if hot is None else hot)


def run(tracker: MotionTracker, scores: list[float], t0: float = 0.0, dt: float = 0.5) -> list[Step]:
    return [tracker.observe(sample(t0 + i * dt, s)) for i, s in enumerate(scores)]


def test_one_hot_sample_is_not_an_event() -> None:
    tr = MotionTracker(CONFIG)
    steps = run(tr, [0, 0.05, 0, 0, 0.05, 0, 0.05, 0])
    assert not tr.active
    assert all(s.started is None and s.ended is None for s in steps)


def test_two_consecutive_hot_samples_start_an_event_at_the_first() -> None:
    tr = MotionTracker(CONFIG)
    steps = run(tr, [0, 0.03, 0.05])
    assert steps[1] == Step()
    assert steps[2].started == sample(0.5, 0.03)
    assert steps[2].peak and steps[2].score == 0.05
    assert tr.active


def test_hot_samples_too_far_apart_are_not_consecutive() -> None:
    tr = MotionTracker(CONFIG)
    assert tr.observe(sample(0.0, 0.05)).started is None
    assert tr.observe(sample(2.0, 0.05)).started is None  # 2 s > max_gap 1.5 s
    assert tr.observe(sample(2.5, 0.05)).started == sample(2.0, 0.05)


def test_the_event_ends_after_quiet_s_without_motion_at_its_last_hot_sample() -> None:
    tr = MotionTracker(CONFIG)
    run(tr, [0.05, 0.05, 0.2, 0.1])  # hot at 0.0 .. 1.5
    times = [1.5 + 0.5 * i for i in range(1, 28)]  # 2.0 .. 15.0, all quiet
    ended = [(t, step) for t in times if (step := tr.observe(sample(t, 0.0))).ended is not None]
    assert len(ended) == 1
    t, step = ended[0]
    assert t == 11.5  # the first sample 10 s after the last hot one
    assert step.ended == sample(1.5, 0.1)
    assert step.score == 0.2
    assert not tr.active and tr.score == 0.0


def test_motion_within_the_quiet_period_extends_the_event() -> None:
    tr = MotionTracker(CONFIG)
    run(tr, [0.05, 0.05])
    run(tr, [0.0] * 15, t0=1.0)  # 1.0 .. 8.0: quiet, below 10 s
    assert tr.active
    assert tr.observe(sample(8.5, 0.04)).started is None  # one hot sample continues it
    steps = run(tr, [0.0] * 22, t0=9.0)  # until 19.5
    ends = [s.ended for s in steps if s.ended is not None]
    assert ends == [sample(8.5, 0.04)]


def test_idle_ticks_end_an_event_when_frames_stop() -> None:
    tr = MotionTracker(CONFIG)
    run(tr, [0.05, 0.05, 0.05])
    assert tr.idle(5.0).ended is None
    step = tr.idle(11.0)
    assert step.ended == sample(1.0, 0.05)
    assert tr.idle(30.0) == Step()


def test_idle_ticks_drop_a_stale_streak() -> None:
    tr = MotionTracker(CONFIG)
    tr.observe(sample(0.0, 0.05))
    tr.idle(3.0)
    assert tr.observe(sample(3.2, 0.05)).started is None
    assert tr.observe(sample(3.7, 0.05)).started == sample(3.2, 0.05)


def test_peak_follows_the_highest_score() -> None:
    tr = MotionTracker(CONFIG)
    steps = run(tr, [0.02, 0.03, 0.1, 0.05, 0.2, 0.2, 0.01])
    assert [s.peak for s in steps] == [False, True, True, False, True, False, False]
    assert tr.peak == sample(2.0, 0.2)
    assert tr.score == 0.2


def test_event_score_includes_the_streak_before_it_started() -> None:
    tr = MotionTracker(CONFIG)
    steps = run(tr, [0.3, 0.02])
    assert steps[1].started is not None and steps[1].score == 0.3
    assert tr.peak == sample(0.5, 0.02)  # the frame the caller has


def test_settled_time_stops_before_a_pending_streak() -> None:
    tr = MotionTracker(CONFIG)
    assert tr.settled_ns() is None
    tr.observe(sample(0.0))
    assert tr.settled_ns() == sample(0.0).capture_ns
    tr.observe(sample(0.5, 0.05))  # might become an event
    assert tr.settled_ns() == sample(0.5).capture_ns - 1
    tr.observe(sample(1.0, 0.05))  # it did: the event row carries it now
    assert tr.settled_ns() == sample(1.0).capture_ns


def test_on_samples_one_starts_at_once() -> None:
    tr = MotionTracker(TrackerConfig(on_samples=1, quiet_s=2.0))
    assert tr.observe(sample(0.0, 0.05)).started == sample(0.0, 0.05)
    assert tr.observe(sample(2.0, 0.0)).ended == sample(0.0, 0.05)
