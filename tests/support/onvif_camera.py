"""A fake ONVIF IP camera for tests, in its own network namespace.

:class:`FakeOnvifCamera` creates the namespace ``vgonvif<n>`` and a veth pair
(``vgonvif<n>r`` in the root namespace with ``10.231.<n>.1/30``, ``vgonvif<n>c`` in the camera's
with ``10.231.<n>.2/30``), and runs tests/support/onvif_camera_process.py there: a WS-Discovery
publisher (the WSDiscovery package) and the ONVIF device and media services over SOAP 1.2 with
WS-Security UsernameToken digest auth. Nothing leaves the machine: the camera's only
non-loopback interface is its end of the veth, and a probe must be sent from
:attr:`FakeOnvifCamera.local_address` (``IP_MULTICAST_IF``) to reach it.

Needs root (``ip netns``, ``ip link add type veth``); :func:`netns_available` says why not.
``fake_onvif_camera`` is a factory fixture (import it into a conftest): it skips the test when
namespaces are not available, or fails it when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

PROCESS_SCRIPT = Path(__file__).with_name("onvif_camera_process.py")
PYTHON = os.environ.get("VIGIL_TEST_ONVIF_PYTHON", sys.executable)
NETNS_PREFIX = "vgonvif"
SUBNET_PREFIX = "10.231"
MAX_CAMERAS = 256  # <n> is the third octet of 10.231.<n>.0/30
DEFAULT_PORT = 80  # the camera has its namespace to itself, so the ONVIF default port is free
READY_TIMEOUT = 20.0

_availability: str | bool | None = False  # False: not probed yet; None: available; str: why not


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; raise with its stderr if ``check`` and it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def netns_available() -> str | None:
    """Why a fake camera cannot run here, or ``None`` if it can (probed once, by creating a
    namespace with a veth pair and deleting it again)."""
    global _availability
    if _availability is not False:
        return _availability  # type: ignore[return-value]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "network namespaces need root"
    elif shutil.which("ip") is None:
        reason = "no ip(8) (iproute2)"
    else:
        missing = [m for m in ("wsdiscovery", "onvif") if importlib.util.find_spec(m) is None]
        if missing:
            reason = f"python packages missing: {', '.join(missing)} (WSDiscovery, onvif-zeep-async)"
    if reason is None:
        name = f"{NETNS_PREFIX}x{os.getpid() % 10000}"  # + "r": within IFNAMSIZ
        try:
            _ip("netns", "add", name)
            try:
                _ip("link", "add", f"{name}r", "type", "veth", "peer", "name", f"{name}c", "netns", name)
            finally:
                _ip("link", "del", f"{name}r", check=False)
                _ip("netns", "del", name, check=False)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            reason = f"cannot create a network namespace with a veth pair: {exc}"
    _availability = reason
    return reason


class FakeOnvifCamera:
    """One fake ONVIF camera in its own network namespace; a context manager.

    ``start()`` (or ``with``) sets up the namespace and waits for the process's ``READY``;
    ``stop()`` (or leaving the ``with``) terminates it and deletes the namespace and the veth.
    ``stream_uri`` defaults to ``rtsp://<host>:554/stream1`` (profile "main"; profile "sub"
    gets the same URI with ``_sub`` appended to its path).
    """

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str | None = None,
        stream_uri: str | None = None,
        name: str = "Vigil Fake Camera",
        hardware: str = "VGL-FAKE-1",
        location: str = "test-lab",
        port: int = DEFAULT_PORT,
        urn: str | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(12)
        self.name = name
        self.hardware = hardware
        self.location = location
        self.port = port
        self.urn = urn or uuid.uuid4().urn
        self.ready_timeout = ready_timeout
        self._stream_uri = stream_uri
        self.index: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # -- addressing (valid once started) -------------------------------------------------------

    def _n(self) -> int:
        if self.index is None:
            raise RuntimeError("the fake camera is not started")
        return self.index

    @property
    def netns(self) -> str:
        """The camera's network namespace, ``vgonvif<n>``."""
        return f"{NETNS_PREFIX}{self._n()}"

    @property
    def host_veth(self) -> str:
        """The root namespace's end of the veth pair."""
        return f"{self.netns}r"

    @property
    def host(self) -> str:
        """The camera's IP (its end of the veth)."""
        return f"{SUBNET_PREFIX}.{self._n()}.2"

    @property
    def local_address(self) -> str:
        """The root namespace's IP on the veth: send WS-Discovery probes from this interface."""
        return f"{SUBNET_PREFIX}.{self._n()}.1"

    @property
    def xaddr(self) -> str:
        """The device service's URL, as the camera advertises it in its ProbeMatch."""
        return f"http://{self.host}:{self.port}/onvif/device_service"

    @property
    def stream_uri(self) -> str:
        return self._stream_uri or f"rtsp://{self.host}:554/stream1"

    @property
    def log_path(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the fake camera is not started")
        return self._workdir / "requests.log"

    def requests(self) -> list[str]:
        """One line per SOAP request handled so far: ``<service> <operation> auth=<ok|not-required|failed>``
        (``failed`` lines add `` reason=...``, faults `` fault=ter:...``)."""
        try:
            return self.log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    # -- lifecycle -----------------------------------------------------------------------------

    def _claim_netns(self) -> int:
        """Create the first free ``vgonvif<n>``; ``ip netns add`` failing on an existing name is the lock."""
        existing = set(_ip("netns", "list").stdout.split())
        for n in range(MAX_CAMERAS):
            name = f"{NETNS_PREFIX}{n}"
            if name in existing or _ip("link", "show", f"{name}r", check=False).returncode == 0:
                continue
            if _ip("netns", "add", name, check=False).returncode == 0:
                return n
        raise RuntimeError(f"no free {NETNS_PREFIX}<n> network namespace")

    def _setup_network(self) -> None:
        ns, veth_root, veth_cam = self.netns, self.host_veth, f"{self.netns}c"
        _ip("link", "add", veth_root, "type", "veth", "peer", "name", veth_cam, "netns", ns)
        _ip("addr", "add", f"{self.local_address}/30", "dev", veth_root)
        _ip("link", "set", veth_root, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", f"{self.host}/30", "dev", veth_cam)
        _ip("-n", ns, "link", "set", veth_cam, "up")

    def start(self) -> FakeOnvifCamera:
        if self.proc is not None:
            raise RuntimeError("the fake camera is already running")
        self.index = self._claim_netns()
        try:
            self._setup_network()
            self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.netns}-"))
            self._spawn()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        assert self._workdir is not None
        command = [
            "ip", "netns", "exec", self.netns, PYTHON, str(PROCESS_SCRIPT),
            "--host", self.host, "--port", str(self.port),
            "--username", self.username, "--password", self.password,
            "--stream-uri", self.stream_uri, "--name", self.name, "--hardware", self.hardware,
            "--location", self.location, "--uuid", self.urn, "--log", str(self.log_path),
        ]  # fmt: skip
        stdout_path, stderr_path = self._workdir / "stdout", self._workdir / "stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if b"READY" in stdout_path.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the fake ONVIF camera exited ({self.proc.returncode}) before READY: {self._stderr_tail()}"
                )
            time.sleep(0.05)
        raise TimeoutError(
            f"the fake ONVIF camera was not READY within {self.ready_timeout:.0f}s: {self._stderr_tail()}"
        )

    def _stderr_tail(self) -> str:
        if self._workdir is None:
            return ""
        try:
            return (self._workdir / "stderr").read_text(errors="replace")[-3000:] or "(no stderr)"
        except FileNotFoundError:
            return "(no stderr)"

    def stop(self) -> None:
        """Terminate the process, delete the veth and the namespace (idempotent)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.index is not None:
            _ip("link", "del", self.host_veth, check=False)
            _ip("netns", "del", self.netns, check=False)
            self.index = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> FakeOnvifCamera:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture
def fake_onvif_camera() -> Iterator[Callable[..., FakeOnvifCamera]]:
    """Factory: ``fake_onvif_camera(username="admin", password=None, stream_uri=None, name=...,
    hardware=..., location=..., port=80, urn=None)`` starts a :class:`FakeOnvifCamera` (stopped at
    the end of the test). Skips without network namespaces; fails instead when ``CI`` is set."""
    reason = netns_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"fake ONVIF camera unavailable: {reason}")
        pytest.skip(f"fake ONVIF camera unavailable: {reason}")
    cameras: list[FakeOnvifCamera] = []

    def start(**kwargs: Any) -> FakeOnvifCamera:
        camera = FakeOnvifCamera(**kwargs)
        cameras.append(camera)
        return camera.start()

    yield start
    for camera in cameras:
        camera.stop()
