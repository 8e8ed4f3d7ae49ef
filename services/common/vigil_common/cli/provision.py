"""``vigil camera add ID --name N --location L``: provision a camera. ``vigil camera discover``:
find ONVIF cameras on the network (WS-Discovery), or list one's streams (``--xaddr URL --username U``).

Creates (or updates) the camera in the database, writes its broker account (username = the
camera id, a generated password) into the mosquitto password file, and prints what to run on
the Pi: the ``.env`` for ``deploy/pi/docker-compose.yml``, the balena device variables, and the
plain ``vigil capture`` command. The broker must then re-read its password file (SIGHUP).

Settings (environment, prefix ``VIGIL_``): ``VIGIL_MQTT_PASSWORD_FILE`` (the broker's password
file; in the compose setup a volume shared with the broker) and ``VIGIL_CAMERA_BROKER_URL``
(how a camera reaches the broker, e.g. ``mqtt://vigil.lan:1883``; not the containers' host name).
"""

from __future__ import annotations

import argparse
import importlib
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import SQLAlchemyError

from vigil_common.bus.mqtt import parse_mqtt_url
from vigil_common.cli import mosquitto_passwd
from vigil_common.contract.broker_acl import RESERVED_IDS
from vigil_common.contract.ids import InvalidIdError, require_camera_id
from vigil_common.runtime.settings import Settings

DEFAULT_PASSWORD_FILE = Path("/var/lib/vigil/broker/passwd")
PASSWORD_BYTES = 24
RELOAD_HINT = "docker compose kill -s SIGHUP mosquitto"


class ProvisionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")

    mqtt_password_file: Path = DEFAULT_PASSWORD_FILE
    camera_broker_url: str = ""


@dataclass(frozen=True, slots=True)
class CameraCredentials:
    camera_id: str
    name: str
    location: str
    mqtt_url: str  # with the camera's username and password

    def env(self, source: str) -> dict[str, str]:
        """The capture container's environment (deploy/pi/docker-compose.yml, balena)."""
        return {
            "VIGIL_CAMERA_ID": self.camera_id,
            "VIGIL_MQTT_URL": self.mqtt_url,
            "VIGIL_NAME": self.name,
            "VIGIL_LOCATION": self.location,
            "VIGIL_SOURCE": source,
        }


def camera_url(broker_url: str, camera_id: str, password: str) -> str:
    """``broker_url`` (``mqtt[s]://host[:port]``) with the camera's credentials in it."""
    parse_mqtt_url(broker_url)  # raises ValueError when unusable
    if "://" not in broker_url:
        broker_url = f"mqtt://{broker_url}"
    parts = urlsplit(broker_url)
    host = parts.hostname or ""
    netloc = f"{quote(camera_id, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def check_new_camera_id(camera_id: str) -> str:
    require_camera_id(camera_id)
    if camera_id in RESERVED_IDS:
        raise InvalidIdError(f"{camera_id!r} is a service's broker account, not usable as a camera id")
    return camera_id


def save_camera(settings: Settings, camera_id: str, name: str, location: str) -> bool:
    """Create or update the camera's row; the name is locked (heartbeats will not rename it).
    Returns True when the camera is new."""
    from sqlalchemy import select

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.models import Camera

    engine = make_engine(settings.effective_database_url())
    try:
        with make_sessionmaker(engine).begin() as db:
            cam = db.scalars(select(Camera).where(Camera.id == camera_id)).first()
            if cam is None:
                db.add(Camera(id=camera_id, name=name, location=location, name_locked=True, enabled=True))
                return True
            cam.name, cam.location, cam.name_locked = name, location, True
            return False
    finally:
        engine.dispose()


def instructions(creds: CameraCredentials, password_file: Path, source: str) -> str:
    env = creds.env(source)
    q = shlex.quote
    lines = [
        f"broker account {creds.camera_id!r} written to {password_file}",
        "reload the broker's password file (compose):",
        f"  {RELOAD_HINT}",
        "",
        "On the Pi with docker: put these lines in deploy/pi/.env, then run `docker compose up -d` in deploy/pi:",
        *(f"{key}={value}" for key, value in env.items()),
        "",
        "On balena: set these device variables (dashboard, or balena CLI v20+):",
        *(f"  balena env set {key} {q(value)} --device <device-uuid>" for key, value in env.items()),
        "",
        "Without containers:",
        f"  vigil capture --camera-id {q(creds.camera_id)} --source {q(source)}"
        f" --mqtt-url {q(creds.mqtt_url)} --name {q(creds.name)} --location {q(creds.location)}",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil camera", description="provision cameras")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create a camera and its broker account; print the Pi's settings")
    add.add_argument("camera_id", help="^[a-z0-9][a-z0-9_-]{0,31}$; also the broker username")
    add.add_argument("--name", default=None, help="display name (default the id)")
    add.add_argument("--location", default="", help="where it is")
    add.add_argument("--source", default="picamera", help="the Pi's VIGIL_SOURCE (default picamera)")
    add.add_argument("--broker-url", default=None,
                     help="how the camera reaches the broker, mqtt[s]://host[:port] (VIGIL_CAMERA_BROKER_URL)")
    add.add_argument("--password-file", type=Path, default=None,
                     help="the broker's password file (VIGIL_MQTT_PASSWORD_FILE)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the camera's broker password from stdin instead of generating one")
    return parser


def main(argv: list[str]) -> int:
    if argv[:1] == ["discover"]:  # the ONVIF search lives with the IP cameras (server side)
        try:
            discover_cli = importlib.import_module("vigil_ipcams.discover_cli")
        except ModuleNotFoundError:
            print("vigil camera discover: package vigil-ipcams is not installed here", file=sys.stderr)
            return 2
        return int(discover_cli.main(argv[1:]))
    args = build_parser().parse_args(argv)
    settings = Settings()
    prov = ProvisionSettings()
    try:
        camera_id = check_new_camera_id(args.camera_id)
    except InvalidIdError as exc:
        print(f"vigil camera: {exc}", file=sys.stderr)
        return 2
    name = args.name if args.name is not None else camera_id
    if len(name) > 128 or len(args.location) > 128:
        print("vigil camera: --name and --location are at most 128 characters", file=sys.stderr)
        return 2
    broker_url = args.broker_url or prov.camera_broker_url
    if not broker_url:
        print("vigil camera: set VIGIL_CAMERA_BROKER_URL or --broker-url (how the Pi reaches the broker, "
              "e.g. mqtt://vigil.lan:1883)", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(PASSWORD_BYTES)
    try:
        url = camera_url(broker_url, camera_id, password)
        mosquitto_passwd.hash_password(password)  # refuse an unusable password before writing anything
    except (ValueError, mosquitto_passwd.PasswordFileError) as exc:
        print(f"vigil camera: {exc}", file=sys.stderr)
        return 2
    password_file = args.password_file or prov.mqtt_password_file
    try:
        new = save_camera(settings, camera_id, name, args.location)
    except SQLAlchemyError as exc:
        print(f"vigil camera: cannot save the camera in the database: {type(exc).__name__}", file=sys.stderr)
        return 1
    try:
        mosquitto_passwd.set_password(password_file, camera_id, password)
    except OSError as exc:
        print(f"vigil camera: cannot write the broker password file {password_file}: {exc}", file=sys.stderr)
        return 1
    creds = CameraCredentials(camera_id, name, args.location, url)
    print(f"camera {camera_id!r} {'created' if new else 'updated'} (name {name!r}, location {args.location!r})")
    print(instructions(creds, password_file, args.source))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
