"""The web app in a real browser (chromium) against the whole stack (see conftest.py)."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Session, Stack, open_session
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(240)]

XSS = '"><img src=x onerror=alert(1)>'


def today() -> str:
    return date.today().isoformat()


def wait_recorded(stack: Stack, camera: str, at_least: int = 3) -> list[dict[str, Any]]:
    def items() -> list[dict[str, Any]]:
        r = stack.api().get("/api/v1/recordings", params={"camera_id": camera, "limit": 100, "order": "asc"})
        assert r.status_code == 200, r.text
        out = r.json()["items"]
        return out if len(out) >= at_least else []

    return wait_for(items, 90, f"{at_least} recordings of {camera}", poll=0.5)  # type: ignore[return-value]


def test_login_form_rejects_a_bad_password_then_logs_in_and_out(browser: Any, stack: Stack) -> None:
    s = open_session(browser, stack, login=False)
    page = s.page
    page.goto(stack.base + "/")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("form.login button[type=submit]")
    page.wait_for_function("() => document.querySelector('#login-error').textContent.includes('Wrong username or password')")
    s.shot("login")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#wall")
    # A reload keeps the session (and its CSRF token: a change still works).
    page.reload()
    page.wait_for_selector("#wall")
    page.click("#logout")
    page.wait_for_selector("form.login")
    assert "logged out" in page.text_content("#login-error")
    page.goto(stack.base + "/#/storage")
    page.wait_for_selector("form.login")
    s.context.close()
    assert not s.problems.errors, s.problems.errors


def test_live_wall_keeps_16_cameras_live_in_one_tab(browser: Any, stack: Stack) -> None:
    # 1920x1080 shows all 16 tiles (6 columns); tiles scrolled out of view are paused by design.
    s = open_session(browser, stack, viewport={"width": 1920, "height": 1080})
    page = s.page
    page.wait_for_function("() => document.querySelectorAll('#wall .tile').length >= 16", timeout=60_000)

    def frames() -> dict[str, int]:
        return page.evaluate("Object.fromEntries([...document.querySelectorAll('#wall .tile')]"
                             ".map(t => [t.dataset.camera, Number(t.dataset.frames || 0)]))")

    # Every tile's picture changes over time (each new frame is a new blob URL).
    first = wait_for(lambda: (f := frames()) and len(f) >= 16 and all(v >= 1 for v in f.values()) and f, 60,
                     "a picture in every tile", poll=0.5)
    assert isinstance(first, dict)
    later = wait_for(lambda: (f := frames()) and all(f[k] >= first[k] + 3 for k in first) and f, 60,
                     "every tile to change three more times", poll=0.5)
    assert isinstance(later, dict)
    names = page.eval_on_selector_all("#wall .tile-name", "els => els.map(e => e.textContent)")
    assert "Wall camera 1" in names
    badges = page.eval_on_selector_all("#wall .tile .badge", "els => els.map(e => e.textContent)")
    assert badges.count("online") >= 16
    s.context.close()
    assert not s.problems.errors, s.problems.errors


def test_stop_and_start_a_camera_from_its_page(session: Session) -> None:
    page = session.page
    session.goto("camera/demo-1")
    page.wait_for_selector("#camera-status[data-status=online]", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#live-img').naturalWidth > 0")
    session.shot("camera")
    page.click("#stop")
    page.wait_for_selector("#camera-status[data-status=stopped]", timeout=30_000)
    assert "stopped" in page.text_content("#camera-status")
    page.click("#start")
    page.wait_for_selector("#camera-status[data-status=online]", timeout=30_000)


def test_a_timeline_click_plays_the_recording_across_segments(session: Session, stack: Stack) -> None:
    items = wait_recorded(stack, "demo-2", at_least=4)
    page = session.page
    session.goto(f"recordings?camera=demo-2&date={today()}")
    page.wait_for_selector("#calendar .cal-day.has-footage")
    day = stack.api().get(f"/api/v1/cameras/demo-2/days/{today()}").json()
    t0, t1 = (time.mktime(time.strptime(day[k][:19], "%Y-%m-%dT%H:%M:%S")) for k in ("start", "end"))
    target = time.mktime(time.strptime(str(items[0]["start"])[:19], "%Y-%m-%dT%H:%M:%S")) + 1
    box = page.locator(".timeline-canvas").bounding_box()
    assert box is not None
    page.evaluate("window.__noReload = true")
    page.mouse.click(box["x"] + box["width"] * (target - t0) / (t1 - t0), box["y"] + 20)
    page.wait_for_function("() => document.querySelector('#player').currentTime > 0.3", timeout=30_000)
    first_src = page.eval_on_selector("#player", "v => v.currentSrc")
    page.wait_for_function(f"() => document.querySelector('#player').currentSrc !== {first_src!r} "
                           "&& document.querySelector('#player').currentTime > 0.3", timeout=60_000)
    assert page.evaluate("window.__noReload") is True
    assert re.search(r"Playing demo-2 at \d\d:\d\d:\d\d", page.text_content("#now-playing") or "")
    session.shot("recordings")


def test_an_export_shows_progress_and_downloads(session: Session, stack: Stack) -> None:
    items = wait_recorded(stack, "demo-1", at_least=3)
    page = session.page
    session.goto(f"recordings?camera=demo-1&date={today()}")
    page.wait_for_selector("#calendar .cal-day.has-footage")
    start = time.strftime("%H:%M:%S", time.localtime(time.mktime(time.strptime(str(items[0]["start"])[:19], "%Y-%m-%dT%H:%M:%S"))))
    end = time.strftime("%H:%M:%S", time.localtime(time.mktime(time.strptime(str(items[2]["end"])[:19], "%Y-%m-%dT%H:%M:%S"))))
    page.fill("#range-from", start)
    page.fill("#range-to", end)
    with page.expect_download(timeout=90_000) as info:
        page.click("#export")
        page.wait_for_selector("#export-progress:not([hidden])")
    download = info.value
    path = download.path()
    data = open(path, "rb").read()
    assert data[4:8] == b"ftyp" and len(data) > 1000
    assert download.suggested_filename.startswith("demo-1_") and download.suggested_filename.endswith(".mp4")
    assert page.eval_on_selector("#export-progress", "p => p.value") == 1
    assert "done" in (page.text_content("#export-status") or "")
