"""The recordings index (filters, paging, bad input) and segment files with HTTP Range."""


from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera, add_segment

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def indexed(api: Api, factory: sessionmaker[Session]) -> Api:
    """cam1 (garden): 30 x 10 s from T0; cam2 (porch): 10 segments of 2..20 s every minute."""
    add_camera(factory, "cam1", location="garden")
    add_camera(factory, "cam2", location="porch")
    for i in range(30):
        add_segment(factory, "cam1", T0 + timedelta(seconds=10 * i), 10.0)
    for i in range(10):
        add_segment(factory, "cam2", T0 + timedelta(minutes=i), 2.0 * (i + 1))
    api.login()
    return api


def _get(api: Api, **params: object) -> dict[str, object]:
    r = api.client.get("/api/v1/recordings", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_defaults_newest_first(indexed: Api) -> None:
    body = _get(indexed)
    assert body["total"] == 40 and body["total_exact"] is True
    assert (body["limit"], body["offset"]) == (100, 0)
    items = body["items"]
    assert isinstance(items, list) and len(items) == 40
    starts = [i["start"] for i in items]
    assert starts == sorted(starts, reverse=True)
    first = items[0]
    assert set(first) >= {
        "id",
        "camera_id",
        "start",
        "end",
        "duration_s",
        "frames",
        "bytes",
        "width",
        "height",
        "codec",
        "url",
    }
    assert first["url"] == f"/api/v1/recordings/{first['id']}/video"


def test_filters(indexed: Api) -> None:
    assert _get(indexed, camera_id="cam2")["total"] == 10
    assert _get(indexed, location="garden")["total"] == 30
    assert _get(indexed, location="nowhere")["total"] == 0
    # Overlap: [T0+25s, T0+45s) touches cam1 segments starting at 20, 30, 40 s (and cam2's first).
    body = _get(
        indexed,
        camera_id="cam1",
        start=(T0 + timedelta(seconds=25)).isoformat(),
        end=(T0 + timedelta(seconds=45)).isoformat(),
        order="asc",
    )
    got = [datetime.fromisoformat(i["start"]) for i in body["items"]]  # type: ignore[union-attr,index]
    assert got == [T0 + timedelta(seconds=s) for s in (20, 30, 40)]
    # A segment ending exactly at `start` does not overlap.
    assert _get(indexed, camera_id="cam1", start=(T0 + timedelta(seconds=300)).isoformat())["total"] == 0
    assert _get(indexed, camera_id="cam2", min_duration=10)["total"] == 6  # 10, 12, ..., 20
    assert _get(indexed, camera_id="cam2", max_duration=4)["total"] == 2
    assert _get(indexed, camera_id="cam2", min_duration=6, max_duration=8)["total"] == 2
    assert _get(indexed, location="porch", min_duration=20)["total"] == 1


def test_recordings_with_a_person(indexed: Api, factory: sessionmaker[Session]) -> None:
    """``label``: the segments recorded while the camera saw such an object (object events)."""
    from vigil_common.db.models import ObjectEvent

    def seen(cam: str, label: str, start_s: float, end_s: float | None) -> None:
        with factory.begin() as db:
            db.add(ObjectEvent(camera_id=cam, label=label, score=0.8, start=T0 + timedelta(seconds=start_s),
                               end=None if end_s is None else T0 + timedelta(seconds=end_s), width=64, height=48,
                               closeup_path="", track="[]", zones=""))

    seen("cam1", "person", 12, 25)  # over the segments at 10 and 20 s
    seen("cam1", "person", 262, None)  # still in view: 260 s and every segment after it
    seen("cam1", "cat", 100, 105)
    seen("cam2", "person", 0, 1)  # another camera's person
    body = _get(indexed, camera_id="cam1", label="person", order="asc")
    got = [datetime.fromisoformat(i["start"]) for i in body["items"]]  # type: ignore[union-attr,index]
    assert got == [T0 + timedelta(seconds=s) for s in (10, 20, 260, 270, 280, 290)]
    assert body["total"] == 6
    assert _get(indexed, camera_id="cam1", label="cat")["total"] == 1
    assert _get(indexed, label="person")["total"] == 7  # both cameras
    assert _get(indexed, label="dog")["total"] == 0
    for bad in ("../x", "", "a" * 33, "person'--"):
        r = indexed.client.get("/api/v1/recordings", params={"label": bad})
        assert r.status_code == 422, bad


def test_times_without_offset_use_the_server_zone(indexed: Api) -> None:
    # Server zone is UTC in tests: a naive time equals the same UTC time; an offset is honoured.
    naive = _get(indexed, camera_id="cam1", start="2024-05-01T12:04:00")
    with_offset = _get(indexed, camera_id="cam1", start="2024-05-01T14:04:00+02:00")
    assert naive["total"] == with_offset["total"] == 6
    assert _get(indexed, camera_id="cam1", start="2024-05-01T12:04:00Z")["total"] == 6
    assert _get(indexed, end="2024-05-01")["total"] == 0  # a bare date: that day's midnight


def test_paging(indexed: Api) -> None:
    seen: list[int] = []
    for offset in range(0, 40, 15):
        body = _get(indexed, limit=15, offset=offset, order="asc")
        assert body["total"] == 40
        seen += [i["id"] for i in body["items"]]  # type: ignore[union-attr,index]
    assert len(seen) == 40 and len(set(seen)) == 40
    past_the_end = _get(indexed, offset=1000)
    assert past_the_end["items"] == [] and past_the_end["total"] == 40


def test_total_is_a_lower_bound_past_the_count_window(indexed: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil_api import paging

    monkeypatch.setattr(paging, "COUNT_AHEAD", 5)
    body = _get(indexed, limit=10)
    assert (body["total"], body["total_exact"]) == (15, False)
    body = _get(indexed, limit=10, offset=30)
    assert (body["total"], body["total_exact"]) == (40, True)
    body = _get(indexed, camera_id="cam2", limit=10)
    assert (body["total"], body["total_exact"]) == (10, True)


BAD_QUERIES: list[dict[str, object]] = [
    {"camera_id": "' OR 1=1--"},
    {"camera_id": "A" * 40},
    {"camera_id": "kamera-\u00fc"},
    {"limit": 10**12},
    {"limit": 0},
    {"limit": -5},
    {"limit": "1e3"},
    {"offset": -1},
    {"offset": 10**20},
    {"start": "yesterday"},
    {"start": "2024-13-45T00:00:00Z"},
    {"start": "2024-05-01T12:00:00 02:00"},
    {"start": "0001-01-01T00:00:00+01:00"},
    {"end": "9999-12-31T23:59:59-23:59"},
    {"start": "2024-05-02", "end": "2024-05-01"},
    {"min_duration": "nan"},
    {"min_duration": -1},
    {"max_duration": "inf"},
    {"min_duration": 10, "max_duration": 5},
    {"order": "random()"},
    {"location": "x" * 500},
    {"location": "garden\x00"},
    {"location": "a\nb"},
]


def test_bad_query_input_is_422_with_a_reason(indexed: Api) -> None:
    for params in BAD_QUERIES:
        r = indexed.client.get("/api/v1/recordings", params=params)
        assert r.status_code == 422, (params, r.status_code, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, str) and "query parameter" in detail, params


def test_sql_ish_free_text_is_just_text(indexed: Api) -> None:
    body = _get(indexed, location="' OR 1=1--")
    assert body["total"] == 0
    body = _get(indexed, location="garden' --")
    assert body["total"] == 0
    assert _get(indexed, start="1970-01-01T00:30:00Z")["total"] == 40  # the earliest time accepted


def _make_mp4(path: Path, frames: int = 10) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), i * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


@pytest.fixture
def video(api: Api, factory: sessionmaker[Session]) -> tuple[Api, int, bytes]:
    data = _make_mp4(api.settings.data_dir / "recordings" / "cam1" / "seg.mp4")
    assert len(data) > 300
    add_camera(factory, "cam1")
    seg_id = add_segment(factory, "cam1", T0, 1.0, path="recordings/cam1/seg.mp4")
    api.login()
    return api, seg_id, data


def test_video_full_and_ranges(video: tuple[Api, int, bytes]) -> None:
    api, seg_id, data = video
    url = f"/api/v1/recordings/{seg_id}/video"
    size = len(data)
    r = api.client.get(url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"
    assert int(r.headers["content-length"]) == size
    assert b"ftyp" in r.content[:16]

    r = api.client.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{size}"

    r = api.client.get(url, headers={"Range": "bytes=-100"})
    assert r.status_code == 206 and r.content == data[-100:]
    assert r.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"

    r = api.client.get(url, headers={"Range": "bytes=200-"})
    assert r.status_code == 206 and r.content == data[200:]
    assert r.headers["content-range"] == f"bytes 200-{size - 1}/{size}"

    r = api.client.get(url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"

    r = api.client.head(url)
    assert r.status_code == 200 and int(r.headers["content-length"]) == size and r.content == b""


def test_video_missing_row_or_file(video: tuple[Api, int, bytes], factory: sessionmaker[Session]) -> None:
    api, seg_id, _ = video
    assert api.client.get(f"/api/v1/recordings/{seg_id + 1000}/video").status_code == 404
    gone = add_segment(factory, "cam1", T0 + timedelta(minutes=5), path="recordings/cam1/never-written.mp4")
    r = api.client.get(f"/api/v1/recordings/{gone}/video")
    assert r.status_code == 404 and r.json() == {"detail": "recording file missing"}


def test_video_paths_outside_the_recordings_dir_are_refused(
    video: tuple[Api, int, bytes], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    api, _, _ = video
    secret = api.settings.data_dir / "vigil.db"
    secret.write_text("not for you")
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:secret")
    link = api.settings.data_dir / "recordings" / "cam1" / "link.mp4"
    os.symlink(outside, link)
    minute = 10
    for rel in (
        "../../../../etc/passwd",
        "/etc/passwd",
        "vigil.db",
        "recordings/../vigil.db",
        "recordings",
        "recordings/cam1",
        "recordings/cam1/link.mp4",
        str(outside),
    ):
        seg = add_segment(factory, "cam1", T0 + timedelta(minutes=minute), path=rel)
        minute += 1
        r = api.client.get(f"/api/v1/recordings/{seg}/video")
        assert r.status_code == 404, rel
        assert "root:" not in r.text and "not for you" not in r.text


def test_bad_recording_ids(video: tuple[Api, int, bytes]) -> None:
    api, _, _ = video
    for rid in ("abc", "-1", "0", "1.5", str(2**63), "99999999999999999999999", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"):
        r = api.client.get(f"/api/v1/recordings/{rid}/video")
        assert 400 <= r.status_code < 500, (rid, r.status_code)
        assert r.json()["detail"]
        assert "root:" not in r.text
