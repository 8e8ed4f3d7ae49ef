"""Settings -> "IP cameras" -> "Find cameras", end to end: a fake ONVIF camera in its own network
namespace (tests/support/onvif_camera.py) answers the web app's WS-Discovery probe, is added
with its credentials after "Show streams", and becomes a recording camera through the stream URI
its ONVIF media service gives (a real H.264 RTSP server, tests/support/rtsp.py).

The package's ``stack`` cannot be used: the probe must leave from the root end of the camera's
veth (``VIGIL_ONVIF_PROBE_INTERFACE``), known only once the namespace exists. So this module runs
a stack of its own (``vigil up``, no demo cameras, no detector: ingest, recorder, API, notifier
and ``vigil ipcams``) on the shared broker / PostgreSQL, with a Redis database of its own (13) so
it never meets the package stack's (12).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.browser.conftest import PASSWORD, Session, open_session
from tests.browser.playback import play_from_timeline, play_live
from tests.conftest import create_database, drop_database, free_port
from tests.helpers import Stack, running_stack, wait_for
from tests.support.onvif_camera import FakeOnvifCamera, netns_available
from tests.support.rtsp import RtspServer, unavailable_reason

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(300)]

REDIS_URL = os.environ.get("VIGIL_TEST_FIND_CAMERAS_REDIS_URL", "redis://127.0.0.1:6379/13")
CAMERA_NAME = "Garden Gate Cam"
CAMERA_USER = "viewer"
CAMERA_PASSWORD = "cam-" + secrets.token_hex(8)
RTSP_PATH = "/live"
CAMERA_ID = "garden-gate"  # typed over the suggested "garden-gate-cam"
TIMES = "\u00d7"  # as the page writes sizes: 320x240 with a multiplication sign
WRONG_PASSWORD_DETAIL = "the camera refused the user name or password"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def rtsp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def camera(rtsp_port: int) -> Iterator[FakeOnvifCamera]:
    """The fake ONVIF camera. GetStreamUri answers the URL of the RTSP server (``rtsp``, started
    only by the test that records), without credentials: Vigil adds the camera's. One account for
    ONVIF and RTSP, as real cameras have."""
    reason = netns_available()
    if reason:
        _unavailable(f"fake ONVIF camera unavailable: {reason}")
    with FakeOnvifCamera(username=CAMERA_USER, password=CAMERA_PASSWORD,
                         stream_uri=f"rtsp://127.0.0.1:{rtsp_port}{RTSP_PATH}",
                         name=CAMERA_NAME, hardware="VGL-GATE-2", location="Back garden") as cam:
        yield cam


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory, rtsp_port: int) -> Iterator[RtspServer]:
    """The camera's real stream: H.264 over RTSP on loopback, basic auth with the camera's account."""
    reason = unavailable_reason()
    if reason:
        _unavailable(reason)
    args = ["--size", "320x240", "--alt-size", "480x272", "--fps", "10", "--key-int", "10", "--bitrate", "512"]
    log = tmp_path_factory.mktemp("find-cameras-rtsp") / "rtsp.log"
    server = RtspServer(rtsp_port, RTSP_PATH, args, log, CAMERA_USER, CAMERA_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ipstack(tmp_path_factory: pytest.TempPathFactory, mqtt_url: str, camera: FakeOnvifCamera) -> Iterator[Stack]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    db_url = create_database(migrate=False)  # `vigil up` migrates
    port = free_port()
    env = {
        **os.environ,
        "VIGIL_MQTT_URL": mqtt_url,
        "VIGIL_REDIS_URL": REDIS_URL,
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_TOPIC_PREFIX": "ipc" + secrets.token_hex(3),
        "VIGIL_DATA_DIR": str(tmp_path_factory.mktemp("find-cameras-data")),
        "VIGIL_HTTP_PORT": str(port),
        "VIGIL_ADMIN_PASSWORD": PASSWORD,
        "VIGIL_SEGMENT_SECONDS": "2",
        "VIGIL_SEGMENT_GRACE_S": "1",
        "VIGIL_LOG_LEVEL": os.environ.get("VIGIL_TEST_STACK_LOG_LEVEL", "WARNING"),
        "VIGIL_TIMEZONE": "UTC",
        "VIGIL_HA_DISCOVERY": "false",
        # "Find cameras": multicast WS-Discovery, out of the camera's veth only.
        "VIGIL_ONVIF_PROBE_TARGETS": "239.255.255.250",
        "VIGIL_ONVIF_PROBE_INTERFACE": camera.local_address,
        "VIGIL_IPCAMS_POLL_S": "1",  # an added camera starts capturing within a second
    }
    try:
        with running_stack(env, ["--cameras", "0", "--no-detector"], port, PASSWORD,
                           cwd=Path(__file__).resolve().parents[2]) as s:
            yield s
    finally:
        drop_database(db_url)


@pytest.fixture
def admin(browser: Any, ipstack: Stack) -> Iterator[Session]:
    s = open_session(browser, ipstack, login=False)
    # open_session's own login waits for a visible wall, which stays hidden without cameras.
    s.page.goto(ipstack.base + "/")
    s.page.fill("#username", "admin")
    s.page.fill("#password", PASSWORD)
    s.page.click("form.login button[type=submit]")
    s.page.wait_for_selector("#main[data-route='live']", state="attached")
    yield s
    s.context.close()
    assert not s.problems.errors, s.problems.errors
    assert not s.problems.dialogs, s.problems.dialogs


def find_camera(s: Session, camera: FakeOnvifCamera) -> Any:
    """Settings -> Find cameras; the fake camera's card (name, hardware, address shown)."""
    s.goto("settings")
    s.page.click("#find-cameras")
    card = s.page.locator(f".found-camera[data-urn='{camera.urn}']")
    card.wait_for()
    assert CAMERA_NAME in card.locator(".found-name").inner_text()
    assert "VGL-GATE-2" in card.inner_text()
    assert camera.host in card.locator(".found-address").inner_text()
    return card


def test_a_wrong_password_shows_the_cameras_refusal(admin: Session, camera: FakeOnvifCamera) -> None:
    card = find_camera(admin, camera)
    card.locator("button.add-found").click()
    form = card.locator("form.ipcam-form")
    assert form.locator("input[name=camera_id]").input_value() == "garden-gate-cam"  # slugified name
    form.locator("input[name=username]").fill(CAMERA_USER)
    form.locator("input[name=password]").fill("not-" + camera.password)
    form.locator("button.show-streams").click()
    error = form.locator(".error")
    error.filter(has_text=WRONG_PASSWORD_DETAIL).wait_for()
    assert form.locator("button.add-camera").is_disabled()
    assert form.locator("fieldset.profiles").is_hidden()
    assert any("auth=failed" in line for line in camera.requests()), camera.requests()


def test_streams_vigil_cannot_record_are_shown_disabled_with_why(admin: Session, camera: FakeOnvifCamera) -> None:
    """The fake's profiles are all H.264: the page is given other answers (route) to show the rest."""
    profiles = [
        {"token": "h265", "name": "Main HEVC", "encoding": "H265", "width": 2560, "height": 1440, "fps": 20.0,
         "uri": "rtsp://10.0.0.9/hevc", "recordable": False},
        {"token": "nouri", "name": "Sub", "encoding": "H264", "width": 640, "height": 360, "fps": 15.0,
         "uri": "", "recordable": False},
        {"token": "mjpeg", "name": "Mobile", "encoding": "JPEG", "width": 320, "height": 240, "fps": 5.0,
         "uri": "rtsp://10.0.0.9/mjpeg", "recordable": False},
    ]
    answer = {"manufacturer": "Acme", "model": "HEVC-1", "firmware": "2.0", "chosen": None, "profiles": profiles}
    admin.page.route("**/api/v1/ip-cameras/onvif", lambda route: route.fulfill(json=answer))
    card = find_camera(admin, camera)
    card.locator("button.add-found").click()
    form = card.locator("form.ipcam-form")
    form.locator("button.show-streams").click()
    shown = form.locator("fieldset.profiles")
    shown.wait_for()
    for token in ("h265", "nouri", "mjpeg"):
        assert shown.locator(f"input[value={token}]").is_disabled()
    text = shown.inner_text()
    assert "H.264 only, this one is H265" in text and "gave no stream URL" in text, text
    assert form.locator("button.add-camera").is_disabled()
    assert "no H.264 stream" in form.locator(".error").inner_text()


def test_a_found_camera_is_added_and_records_through_its_onvif_stream(admin: Session, camera: FakeOnvifCamera,
                                                                      ipstack: Stack, rtsp: RtspServer) -> None:
    page = admin.page
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))
    card = find_camera(admin, camera)
    assert card.locator(".added-as").count() == 0
    card.locator("button.add-found").click()
    form = card.locator("form.ipcam-form")
    assert form.locator("input[name=name]").input_value() == CAMERA_NAME
    assert form.locator("input[name=location]").input_value() == "Back garden"
    form.locator("input[name=camera_id]").fill(CAMERA_ID)
    form.locator("input[name=username]").fill(CAMERA_USER)
    form.locator("input[name=password]").fill(camera.password)
    form.locator("button.show-streams").click()
    profiles = form.locator("fieldset.profiles")
    profiles.wait_for()
    # The fake offers "main" (1920x1080) and "sub" (640x360), both H.264: "main" is preselected.
    assert profiles.locator("input[value=main]").is_checked()
    assert not profiles.locator("input[value=sub]").is_checked()
    assert f"1920{TIMES}1080" in profiles.inner_text()
    assert form.locator(".device").inner_text().strip()  # manufacturer / model
    admin.shot("settings-find-cameras")
    add = form.locator("button.add-camera")
    assert add.is_enabled()
    add.click()
    card.locator(".added-as").filter(has_text=f"added as {CAMERA_ID}").wait_for()

    # The password went in POST bodies only: in no URL, not kept by the page.
    assert not [u for u in urls if camera.password in u]
    stored = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert camera.password not in stored
    assert camera.password not in page.content()

    api = ipstack.api()
    cams = api.get("/api/v1/ip-cameras").json()["items"]
    [row] = [c for c in cams if c["camera_id"] == CAMERA_ID]
    assert row["source"] == "onvif" and row["onvif_urn"] == camera.urn and row["onvif_xaddr"] == camera.xaddr
    assert row["profile_token"] == "main" and row["has_credentials"] is True
    assert row["stream_uri"] == camera.stream_uri
    assert camera.password not in str(row)

    def online() -> bool:
        r = api.get(f"/api/v1/ip-cameras/{CAMERA_ID}")
        assert r.status_code == 200, r.text
        return r.json()["status"] == "online"

    wait_for(online, 60, f"{CAMERA_ID} online", poll=0.5)

    def recorded() -> list[dict[str, Any]]:
        r = api.get("/api/v1/recordings", params={"camera_id": CAMERA_ID, "limit": 10})
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]

    segments = wait_for(recorded, 60, f"a recording of {CAMERA_ID}", poll=1.0)
    assert segments

    # The page's IP camera list (polled every 5 s) shows it streaming the RTSP server's picture.
    listed = page.locator(f"#ipcams tr[data-ipcam='{CAMERA_ID}']")
    listed.locator(".badge.online").wait_for(timeout=30_000)
    assert CAMERA_NAME in listed.inner_text()
    page.wait_for_function(
        "id => (document.querySelector(`#ipcams tr[data-ipcam='${id}'] .ipcam-stream`) || {}).textContent"
        f"?.includes('320{TIMES}240')", arg=CAMERA_ID, timeout=30_000)
    assert any("GetStreamUri auth=ok" in line for line in camera.requests()), camera.requests()
    admin.shot("settings-ip-cameras")

    # Found again, it says which camera it already is.
    page.click("#find-cameras")
    page.locator(f".found-camera[data-urn='{camera.urn}'] .added-as").filter(
        has_text=f"added as {CAMERA_ID}").wait_for()

    # It plays in the web app: live through MSE, and its recordings from the day timeline.
    play_live(admin, CAMERA_ID, (320, 240))
    play_from_timeline(admin, ipstack, CAMERA_ID, min(str(item["start"]) for item in recorded()))
    assert page.evaluate("window.__noReload") is True


def test_add_by_rtsp_url_then_disable_and_remove(admin: Session, ipstack: Stack, rtsp: RtspServer) -> None:
    page, api = admin.page, ipstack.api()
    admin.goto("settings")
    page.click(".add-rtsp summary")
    form = page.locator("#add-rtsp")
    form.locator("input[name=name]").fill("Shed Door")
    assert form.locator("input[name=camera_id]").input_value() == "shed-door"  # suggested from the name
    form.locator("input[name=rtsp_url]").fill(rtsp.url(user=""))
    form.locator("input[name=username]").fill(CAMERA_USER)
    form.locator("input[name=password]").fill(CAMERA_PASSWORD)
    form.locator("button[type=submit]").click()
    row = page.locator("#ipcams tr[data-ipcam='shed-door']")
    row.wait_for()
    assert form.locator("input[name=password]").input_value() == ""
    assert "RTSP URL" in row.inner_text()
    r = api.get("/api/v1/ip-cameras/shed-door")
    assert r.status_code == 200 and r.json()["source"] == "rtsp" and r.json()["has_credentials"], r.text

    # The id is taken now: the suggestion moves on; typed anyway, the 409's detail, next to the form.
    form.locator("input[name=name]").fill("Shed Door")
    assert form.locator("input[name=camera_id]").input_value() == "shed-door-2"
    form.locator("input[name=camera_id]").fill("shed-door")
    form.locator("input[name=rtsp_url]").fill(rtsp.url(user=""))
    form.locator("button[type=submit]").click()
    form.locator(".error").filter(has_text="camera id 'shed-door' is in use").wait_for()

    row.locator("input[type=checkbox]").uncheck()
    row.locator(".badge.disabled").wait_for()
    assert api.get("/api/v1/ip-cameras/shed-door").json()["enabled"] is False

    row.get_by_role("button", name="Remove", exact=True).click()
    row.get_by_role("button", name="Really remove?").click()
    row.wait_for(state="detached")
    assert api.get("/api/v1/ip-cameras/shed-door").status_code == 404
