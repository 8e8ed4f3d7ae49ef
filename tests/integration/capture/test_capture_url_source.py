"""The URL source against a real HTTP server on loopback (OpenCV's FFmpeg backend).

A video file served over HTTP ends like a dropped stream: the source must reconnect and
carry on delivering frames.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil_capture.sources import SourceError, StreamSource, make_source, parse_source

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_url_source_reads_and_reconnects_when_the_stream_ends(http_dir: tuple[str, Path]) -> None:
    base, directory = http_dir
    writer = cv2.VideoWriter(str(directory / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), i * 60, dtype=np.uint8))
    writer.release()

    source = make_source(parse_source(f"{base}/clip.avi"), 64, 48)
    assert isinstance(source, StreamSource) and source.kind == "url"
    source.open()
    try:
        frames = []
        deadline = time.monotonic() + 20
        while len(frames) < 10 and time.monotonic() < deadline:
            frame = source.read()
            if frame is None:
                time.sleep(0.05)  # what the grab loop does after a miss
                continue
            assert frame.shape == (48, 64, 3)
            frames.append(int(frame.mean()))
    finally:
        source.close()
    assert len(frames) == 10
    assert source.reconnects >= 2
    assert frames[:4] == frames[4:8]  # the stream started over after each reconnect


def test_url_source_that_never_opens(http_dir: tuple[str, Path]) -> None:
    base, _ = http_dir
    source = make_source(parse_source(f"{base}/missing.avi"), 64, 48)
    with pytest.raises(SourceError, match="did not open"):
        source.open()
