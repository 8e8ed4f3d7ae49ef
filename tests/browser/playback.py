"""Playing a camera in the web app, shared by the browser tests: from the day timeline (the
recordings page's player) and live (the camera page's Media Source Extensions player)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.browser.conftest import Session
from tests.helpers import Stack

VIDEO = "document.querySelector('#live-video')"


def today() -> str:
    return datetime.now(UTC).date().isoformat()  # the stack and the browser run in UTC


def play_from_timeline(session: Session, stack: Stack, camera_id: str, start: str) -> None:
    """Open the camera's day on the recordings page, click the timeline one second after
    ``start`` (an API time) and wait until the player has played 0.3 s of it. Sets
    ``window.__noReload`` first, so a caller can check the page never reloaded."""
    page = session.page
    session.goto(f"recordings?camera={camera_id}&date={today()}")
    page.wait_for_selector("#calendar .cal-day.has-footage")
    page.click(".timeline-controls button[data-span='0']")  # the whole day, so x maps to the day
    day = stack.api().get(f"/api/v1/cameras/{camera_id}/days/{today()}").json()
    t0, t1 = (datetime.fromisoformat(day[k]).timestamp() for k in ("start", "end"))
    target = datetime.fromisoformat(start).timestamp() + 1
    box = page.locator(".timeline-canvas").bounding_box()
    assert box is not None
    page.evaluate("window.__noReload = true")
    page.mouse.click(box["x"] + box["width"] * (target - t0) / (t1 - t0), box["y"] + 20)
    page.wait_for_function("() => document.querySelector('#player').currentTime > 0.3", timeout=30_000)


def play_live(session: Session, camera_id: str, size: tuple[int, int]) -> None:
    """Open the camera's page and check that live.mp4 plays through MSE (not the snapshot
    fallback), advances 1.5 s, has the camera's size and keeps within 2 s of the live edge."""
    page = session.page
    session.goto(f"camera/{camera_id}")
    page.wait_for_selector("#live-video[data-state=playing]", timeout=30_000)
    page.wait_for_function(f"() => {VIDEO}.readyState >= 2 && !{VIDEO}.paused")
    assert page.is_hidden("#live-img")
    start = page.evaluate(f"() => {VIDEO}.currentTime")
    page.wait_for_function(f"() => {VIDEO}.currentTime > {start} + 1.5", timeout=15_000)
    assert page.evaluate(f"() => [{VIDEO}.videoWidth, {VIDEO}.videoHeight]") == list(size)
    lag = page.evaluate(f"() => {{ const v = {VIDEO}, b = v.buffered; return b.end(b.length - 1) - v.currentTime; }}")
    assert 0 <= lag < 2.0, lag  # it keeps to the live edge
