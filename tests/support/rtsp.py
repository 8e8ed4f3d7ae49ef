"""A real RTSP camera for tests: tests/support/gst_rtsp_server.py (GStreamer's gst-rtsp-server)
in a subprocess of Debian's ``/usr/bin/python3``, on a free loopback port.

``rtsp_server`` is a factory fixture: ``rtsp_server(size=(320, 240), fps=15, key_int=15, ...)``
starts a server, waits until it answers RTSP, and returns an :class:`RtspServer` that can be
stopped, restarted on the same port (a camera reboot) or told to change resolution. Every server
is stopped at the end of the test. Without GStreamer's Python bindings the tests are skipped with
the reason (``scripts/ensure-rtsp-server.sh`` installs them).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port

SERVER_SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
SYSTEM_PYTHON = os.environ.get("VIGIL_TEST_GST_PYTHON", "/usr/bin/python3")
_PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
    "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
    "missing = [e for e in ('videotestsrc', 'x264enc', 'rtph264pay', 'timeoverlay', 'videoconvert')"
    " if Gst.ElementFactory.find(e) is None]; print(','.join(missing))"
)
_availability: str | bool | None = False  # False: not probed yet; None: available; str: why not


def unavailable_reason() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or ``None`` if it can (probed once)."""
    global _availability
    if _availability is not False:
        return _availability  # type: ignore[return-value]
    reason: str | None = None
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        reason = f"no {SYSTEM_PYTHON} for GStreamer's Python bindings"
    else:
        try:
            out = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"cannot run {SYSTEM_PYTHON}: {exc}"
        else:
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["?"])[-1]
                reason = (
                    f"gst-rtsp-server is not usable from {SYSTEM_PYTHON} ({last}); run scripts/ensure-rtsp-server.sh"
                )
            elif out.stdout.strip():
                reason = f"GStreamer elements missing: {out.stdout.strip()} (run scripts/ensure-rtsp-server.sh)"
    _availability = reason
    return reason


def rtsp_answers(port: int, path: str, timeout: float = 1.0) -> bool:
    """True once the server answers an RTSP OPTIONS request."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"OPTIONS rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
            return sock.recv(64).startswith(b"RTSP/1.0")
    except OSError:
        return False


@dataclass
class RtspServer:
    """One gst-rtsp-server process; ``args`` are gst_rtsp_server.py's options."""

    port: int
    path: str
    args: list[str]
    log: Path
    user: str = ""
    password: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The stream's URL, with the server's credentials unless others are given."""
        user = self.user if user is None else user
        password = self.password if password is None else password
        auth = f"{user}:{password}@" if user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}{self.path}"

    def start(self, timeout: float = 20.0) -> RtspServer:
        command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--path", self.path, *self.args]
        if self.user:
            command += ["--user", self.user, "--password", self.password]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the RTSP server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            if rtsp_answers(self.port, self.path):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"the RTSP server on port {self.port} did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, start again on the same port (a camera reboot)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def switch_size(self) -> None:
        """Switch between ``size`` and ``alt_size`` mid-stream (the stream stays up)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)


@pytest.fixture
def rtsp_server(tmp_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Factory: ``rtsp_server(size=(w, h), alt_size=(w, h), fps=15, key_int=15, bframes=0,
    inband_parameter_sets=True, codec="h264", user="", password="", bitrate=1024, drop_probability=0.0)``."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    servers: list[RtspServer] = []

    def start(
        *,
        size: tuple[int, int] = (320, 240),
        alt_size: tuple[int, int] = (480, 272),
        fps: int = 15,
        key_int: int = 15,
        bframes: int = 0,
        inband_parameter_sets: bool = True,
        codec: str = "h264",
        user: str = "",
        password: str = "",
        bitrate: int = 1024,
        path: str = "/stream",
        drop_probability: float = 0.0,
    ) -> RtspServer:
        args = [
            "--size", f"{size[0]}x{size[1]}", "--alt-size", f"{alt_size[0]}x{alt_size[1]}", "--fps", str(fps),
            "--key-int", str(key_int), "--bframes", str(bframes), "--codec", codec, "--bitrate", str(bitrate),
        ]  # fmt: skip
        if not inband_parameter_sets:
            args.append("--no-inband-parameter-sets")
        if drop_probability:
            args += ["--drop-probability", str(drop_probability)]
        port = free_port()
        server = RtspServer(port, path, args, tmp_path / f"rtsp-{port}.log", user, password)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
