"""`vigil camera add`: the camera in the database, its broker account in the password file that
the real mosquitto (shipped config) accepts after SIGHUP, and the Pi's settings printed."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.broker import Broker, connect, start_shipped_broker
from tests.helpers import wait_for
from vigil_common.cli import mosquitto_passwd
from vigil_common.cli.provision import RESERVED_IDS, camera_url


def run_camera_add(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil_common.cli.main", "camera", "add", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def printed_env(stdout: str) -> dict[str, str]:
    """The `KEY=value` lines meant for deploy/pi/.env."""
    return dict(line.split("=", 1) for line in stdout.splitlines() if line.startswith("VIGIL_"))


def accepted(broker: Broker, user: str, password: str) -> bool:
    client = connect(broker, user, password)
    try:
        return client.connack is not None and not client.connack.is_failure
    finally:
        client.close()


# ---- pure parts --------------------------------------------------------------------------

def test_camera_url_quotes_the_password_and_keeps_scheme_and_port() -> None:
    assert camera_url("mqtt://vigil.lan:1883", "porch", "p@ss:w/rd") == "mqtt://porch:p%40ss%3Aw%2Frd@vigil.lan:1883"
    assert camera_url("mqtts://vigil.example.com", "a", "x") == "mqtts://a:x@vigil.example.com"
    assert camera_url("10.0.0.2:1884", "a", "x") == "mqtt://a:x@10.0.0.2:1884"
    from vigil_common.bus.mqtt import parse_mqtt_url

    addr = parse_mqtt_url(camera_url("mqtt://h:1", "porch", "p@ss:w/rd"))
    assert (addr.username, addr.password, addr.host, addr.port) == ("porch", "p@ss:w/rd", "h", 1)


def test_password_file_round_trip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "passwd"
    assert mosquitto_passwd.set_password(path, "a", "first-password")
    assert not mosquitto_passwd.set_password(path, "a", "second-password")
    mosquitto_passwd.set_password(path, "b", "other-password")
    entries = mosquitto_passwd.read_entries(path)
    assert list(entries) == ["a", "b"]
    assert mosquitto_passwd.verify_password("second-password", entries["a"])
    assert not mosquitto_passwd.verify_password("first-password", entries["a"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert mosquitto_passwd.remove_user(path, "a") and list(mosquitto_passwd.read_entries(path)) == ["b"]
    # no temporary file left behind (the empty lock file that serialises writers stays)
    assert sorted(p.name for p in path.parent.iterdir()) == [".passwd.lock", "passwd"]


@pytest.mark.parametrize("bad", ["a:b", "", "x\ny"])
def test_bad_usernames_and_passwords_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(mosquitto_passwd.PasswordFileError):
        mosquitto_passwd.set_password(tmp_path / "passwd", bad, "pw")
    with pytest.raises(mosquitto_passwd.PasswordFileError):
        mosquitto_passwd.hash_password(bad.replace(":", "\n") or "")
    assert not (tmp_path / "passwd").exists()


def test_a_garbled_password_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("no-colon-here\n")
    with pytest.raises(mosquitto_passwd.PasswordFileError, match="passwd:1"):
        mosquitto_passwd.read_entries(path)


# ---- the command against the real broker and database ------------------------------------

@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = start_shipped_broker(tmp_path_factory.mktemp("provision-broker"))
    yield b
    b.stop()


@pytest.fixture
def env(broker: Broker, database_url: str, tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    e.update({
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_MQTT_PASSWORD_FILE": str(broker.passwd),
        "VIGIL_CAMERA_BROKER_URL": f"mqtt://127.0.0.1:{broker.port}",
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
    })
    return e


@pytest.mark.integration
def test_camera_add_creates_camera_account_and_prints_the_pi_settings(broker: Broker, env: dict[str, str],
                                                                       database_url: str) -> None:
    out = run_camera_add(env, "porch", "--name", "Porch cam", "--location", "Front door")
    assert out.returncode == 0, out.stderr
    pi = printed_env(out.stdout)
    assert pi["VIGIL_CAMERA_ID"] == "porch" and pi["VIGIL_NAME"] == "Porch cam"
    assert pi["VIGIL_LOCATION"] == "Front door" and pi["VIGIL_SOURCE"] == "picamera"
    from vigil_common.bus.mqtt import parse_mqtt_url

    addr = parse_mqtt_url(pi["VIGIL_MQTT_URL"])
    assert (addr.username, addr.host, addr.port) == ("porch", "127.0.0.1", broker.port)
    assert addr.password and len(addr.password) >= 24
    assert addr.password not in out.stderr
    assert "docker compose kill -s SIGHUP mosquitto" in out.stdout
    assert f"balena env set VIGIL_MQTT_URL {shlex.quote(pi['VIGIL_MQTT_URL'])} --device <device-uuid>" in out.stdout
    plain = next(line for line in out.stdout.splitlines() if line.strip().startswith("vigil capture"))
    args = shlex.split(plain)
    assert args[args.index("--mqtt-url") + 1] == pi["VIGIL_MQTT_URL"]

    # The broker takes the new account after SIGHUP; a wrong password is still refused.
    broker.reload()
    wait_for(lambda: accepted(broker, "porch", str(addr.password)), 10, "the camera's account")
    assert not accepted(broker, "porch", str(addr.password) + "x")

    # The camera is in the database with its name locked (heartbeats will not rename it).
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, location, name_locked, enabled FROM cameras WHERE id = 'porch'")).one()
    engine.dispose()
    assert tuple(row) == ("Porch cam", "Front door", True, True)

    # Running it again rotates the password: the old one stops working after the reload.
    again = run_camera_add(env, "porch", "--name", "Porch", "--location", "Front door")
    assert again.returncode == 0 and "updated" in again.stdout
    new_password = str(parse_mqtt_url(printed_env(again.stdout)["VIGIL_MQTT_URL"]).password)
    broker.reload()
    wait_for(lambda: accepted(broker, "porch", new_password), 10, "the rotated password")
    assert not accepted(broker, "porch", str(addr.password))
    # The service accounts written by the entrypoint are still there.
    assert accepted(broker, "ingest", broker.passwords["ingest"])


@pytest.mark.integration
def test_camera_add_with_a_given_password(broker: Broker, env: dict[str, str]) -> None:
    out = run_camera_add(env, "garage", "--broker-url", f"mqtt://127.0.0.1:{broker.port}",
                         "--password-stdin", "--source", "0", stdin="chosen-password-123\n")
    assert out.returncode == 0, out.stderr
    assert printed_env(out.stdout)["VIGIL_SOURCE"] == "0"
    broker.reload()
    wait_for(lambda: accepted(broker, "garage", "chosen-password-123"), 10, "the given password")


@pytest.mark.integration
@pytest.mark.parametrize("camera_id", ["Porch", "../etc", "a" * 40, *sorted(RESERVED_IDS)])
def test_invalid_or_reserved_ids_are_refused_and_nothing_is_written(env: dict[str, str], broker: Broker,
                                                                    camera_id: str) -> None:
    before = broker.passwd.read_text()
    out = run_camera_add(env, camera_id, "--name", "x")
    assert out.returncode == 2 and "vigil camera:" in out.stderr
    assert broker.passwd.read_text() == before


@pytest.mark.integration
def test_camera_add_needs_to_know_how_the_pi_reaches_the_broker(env: dict[str, str]) -> None:
    env = {**env, "VIGIL_CAMERA_BROKER_URL": ""}
    out = run_camera_add(env, "porch")
    assert out.returncode == 2 and "VIGIL_CAMERA_BROKER_URL" in out.stderr
    out = run_camera_add(env, "porch", "--broker-url", "http://wrong:1")
    assert out.returncode == 2 and "scheme" in out.stderr


def test_concurrent_writers_keep_every_entry(tmp_path: Path) -> None:
    """Many processes adding accounts at once (e.g. two `vigil camera add`): none is lost."""
    import multiprocessing as mp

    from vigil_common.cli.mosquitto_passwd import read_entries

    path = tmp_path / "passwd"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add_accounts, args=(str(path), f"w{i}", 10)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(read_entries(path)) == sorted(f"w{i}-{n}" for i in range(4) for n in range(10))


def _add_accounts(path: str, prefix: str, count: int) -> None:
    from vigil_common.cli.mosquitto_passwd import set_password

    for n in range(count):
        set_password(Path(path), f"{prefix}-{n}", "secret-password")
