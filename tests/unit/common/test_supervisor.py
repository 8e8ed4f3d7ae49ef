"""vigil_common.runtime.supervisor: the process runner of `vigil up` and `vigil ipcams`, with
real child processes."""

from __future__ import annotations

import io
import sys
import time

import pytest

from vigil_common.runtime.supervisor import ServiceSpec, Supervisor

# A child that ignores SIGTERM for ``delay`` seconds, then exits (a slow capture stopping).
SLOW = ("import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(float(sys.argv[1])), sys.exit(0)))\n"
        "print('up', flush=True)\n"
        "while True: time.sleep(0.1)\n")


def wait_up(sup: Supervisor, out: io.StringIO, n: int) -> None:
    deadline = time.monotonic() + 20
    while out.getvalue().count("| up") < n:
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.05)


def test_stop_tells_every_process_first_then_waits_once() -> None:
    out = io.StringIO()
    sup = Supervisor(out)
    for i in range(3):
        sup.add(ServiceSpec(f"slow{i}", [sys.executable, "-c", SLOW, "1.5"]))
    sup.start()
    wait_up(sup, out, 3)
    started = time.monotonic()
    sup.stop(timeout=10)
    assert time.monotonic() - started < 4.0  # about 1.5 s in all, not 3 times 1.5 s
    assert sup.pids() == {}


def test_remove_stops_one_process_and_forgets_it() -> None:
    out = io.StringIO()
    sup = Supervisor(out)
    sup.add(ServiceSpec("a", [sys.executable, "-c", SLOW, "0"]))
    sup.add(ServiceSpec("b", [sys.executable, "-c", SLOW, "0"]))
    sup.start()
    wait_up(sup, out, 2)
    sup.remove("a")
    assert sup.names() == ["b"] and set(sup.pids()) == {"b"}
    sup.stop()


def test_a_child_gets_its_env_without_the_dropped_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_SECRET", "s3cret")
    monkeypatch.setenv("VIGIL_TEST_KEPT", "kept")
    out = io.StringIO()
    sup = Supervisor(out)
    code = ("import os; print('env', os.environ.get('VIGIL_TEST_SECRET'), os.environ['VIGIL_TEST_KEPT'], "
            "os.environ['X'])")
    spec = ServiceSpec("e", [sys.executable, "-c", code], env={"X": "given"}, restart=False,
                       drop_env=("VIGIL_TEST_SECRET",))
    assert "given" not in repr(spec)
    sup.add(spec)
    sup.start()
    deadline = time.monotonic() + 20
    while "env " not in out.getvalue():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    assert "env None kept given" in out.getvalue()
    sup.stop()
