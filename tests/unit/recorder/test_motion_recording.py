"""Motion-only recording: the keep / skip / wait decision for one segment window."""

from __future__ import annotations

import pytest

from vigil_common.runtime.settings import Settings
from vigil_recorder.segment.motion_gate import (
    MIN_WAIT_MS,
    UNKNOWN_PROGRESS_WAIT_MS,
    Action,
    Decision,
    Progress,
    Span,
    decide,
    max_wait_ms,
    overlaps,
    progress_key,
)

S = 1000
PRE, POST = 10 * S, 10 * S
# The window [100 s, 110 s); a decision is due from 112 s (grace), forced at 150 s.
START, END = 100 * S, 110 * S
DEADLINE = 150 * S


def at(now_s: float, events: list[Span] | None = None, settled_s: float | None = None) -> Decision:
    return decide(
        START,
        END,
        events=events or [],
        settled_ms=None if settled_s is None else int(settled_s * S),
        now_ms=int(now_s * S),
        deadline_ms=DEADLINE,
        pre_roll_ms=PRE,
        post_roll_ms=POST,
    )


@pytest.mark.parametrize(
    ("event", "kept"),
    [
        (Span(105 * S, 106 * S), True),  # inside
        (Span(50 * S, 200 * S), True),  # around
        (Span(60 * S, 90 * S), True),  # ended 10 s before: the window is its post-roll
        (Span(60 * S, 89 * S), False),  # ended 11 s before
        (Span(119 * S, 125 * S), True),  # starts 9 s after: the window is its pre-roll
        (Span(120 * S, 125 * S), False),  # starts 10 s after the (exclusive) end
        (Span(30 * S, None), True),  # ongoing
        (Span(115 * S, None), True),  # ongoing, began within the pre-roll
    ],
)
def test_events_within_pre_and_post_roll_keep_the_window(event: Span, kept: bool) -> None:
    assert overlaps(event, START, END, PRE, POST) is kept
    decision = at(113, [event], settled_s=200)
    assert decision.action is (Action.KEEP if kept else Action.SKIP)


def test_skip_only_once_the_detector_saw_past_the_pre_roll() -> None:
    assert at(125, settled_s=120).action is Action.SKIP
    assert at(125, settled_s=121).action is Action.SKIP
    waiting = at(113, settled_s=112.5)
    assert waiting.action is Action.WAIT
    # 7.5 s of frames still to examine, plus a second's margin.
    assert waiting.until_ms == 113 * S + 7_500 + MIN_WAIT_MS
    assert waiting.delay_ms(113 * S) == 8_500


def test_unknown_progress_waits_a_little_then_keeps() -> None:
    d = at(113)
    assert d.action is Action.WAIT and d.until_ms == 113 * S + UNKNOWN_PROGRESS_WAIT_MS
    assert at(150).action is Action.KEEP
    assert "behind" in at(150).reason


def test_a_lagging_detector_keeps_the_window_at_the_deadline() -> None:
    assert at(149.9, settled_s=100).action is Action.WAIT
    assert at(149.9, settled_s=100).until_ms == DEADLINE  # never sleeps past the deadline
    assert at(150, settled_s=100).action is Action.KEEP


def test_motion_found_while_waiting_keeps_at_once() -> None:
    assert at(113, [Span(114 * S, None)], settled_s=115).action is Action.KEEP


def test_decision_delay_is_at_least_a_second() -> None:
    assert Decision(Action.WAIT, "x", until_ms=10).delay_ms(20) == MIN_WAIT_MS
    assert Decision(Action.KEEP, "x").delay_ms(20) == MIN_WAIT_MS


def test_max_wait_stays_inside_the_redis_buffer() -> None:
    big = Settings(_env_file=None, stream_buffer_s=300)  # type: ignore[call-arg]
    assert max_wait_ms(big) == 40_000  # pre-roll 10 s + 30 s slack
    # Default 120 s buffer: what is left after the segment, a margin and a stalled scheduler.
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert max_wait_ms(s) == (120 - 10) * S - 30_000 - 61_000
    long_pre = Settings(_env_file=None, motion_pre_roll_s=60, stream_buffer_s=150)  # type: ignore[call-arg]
    assert max_wait_ms(long_pre) == (150 - 10) * S - 30_000 - 61_000  # the buffer's limit
    tiny = Settings(_env_file=None, stream_buffer_s=10, segment_seconds=10)  # type: ignore[call-arg]
    assert max_wait_ms(tiny) == 0


def test_progress_round_trip_and_key() -> None:
    p = Progress(arrival_ms=1_000_100, capture_ms=1_000_000, settled_ms=999_999, event_id=7, last_hot_ms=999_000)
    assert Progress.loads(p.dumps()) == p
    assert Progress.loads(Progress(1, 2, 3).dumps()) == Progress(1, 2, 3, None, None)
    assert p.offset_ms == -100
    assert progress_key("cam1") == "vigil:motion:progress:cam1"
    with pytest.raises(ValueError):
        progress_key("../x")
