"""Static checks of the shipped compose files, Dockerfiles and broker config.

`docker-compose config` (Debian's docker-compose 1.29; installed by scripts/ensure-deploy-tools.sh)
validates every compose file; the resolved server file is then checked for what the deployment
promises: health-gated start order, the one-off migration, restart policies, a scalable recorder,
secrets that must be set, bounded Redis, pinned images.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose import ROOT, compose_config, docker_compose, environment, load, read_env_file

needs_compose = pytest.mark.skipif(docker_compose() is None,
                                   reason="docker-compose missing (scripts/ensure-deploy-tools.sh installs it)")
INFRA = ("mosquitto", "redis", "postgres")
APPS = ("ingest", "recorder", "notifier", "detector", "ipcams", "api")
REQUIRED = ("VIGIL_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "MQTT_INGEST_PASSWORD",
            "MQTT_RECORDER_PASSWORD", "MQTT_API_PASSWORD", "MQTT_NOTIFIER_PASSWORD", "MQTT_DETECTOR_PASSWORD",
            "MQTT_IPCAMS_PASSWORD", "VIGIL_CREDENTIALS_KEY", "VIGIL_CAMERA_BROKER_URL")
PINNED = re.compile(r"^[\w./-]+(:\d+(\.\d+)+[\w.-]*|:[\w.-]*\d{8}[\w.-]*|@sha256:[0-9a-f]{64})$")


def filled_env() -> dict[str, str]:
    env = read_env_file((ROOT / ".env.example").read_text())
    env.update({key: secrets.token_hex(12) for key in REQUIRED})
    env["VIGIL_CAMERA_BROKER_URL"] = "mqtt://vigil.lan:1883"
    return env


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in filled_env().items()))
    return path


def resolved(env_file: Path, *extra: str) -> dict[str, Any]:
    exe = docker_compose()
    assert exe is not None
    out = subprocess.run([exe, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), *extra, "config"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    return dict(yaml.safe_load(out.stdout))


def volume_sources(spec: dict[str, Any]) -> set[str]:
    """Named volumes a service mounts (Compose 1.29 prints the short form, v2 the long one)."""
    return {v["source"] if isinstance(v, dict) else str(v).split(":")[0] for v in spec.get("volumes", [])}


@needs_compose
def test_server_compose_file_is_valid(env_file: Path) -> None:
    for extra in ((), ("--profile", "public")):
        out = compose_config(ROOT / "docker-compose.yml", env_file, *extra)
        assert out.returncode == 0, out.stderr
    # docs/deployment.md §5: the plain-HTTP port on loopback only, behind the TLS proxy.
    env_file.write_text(env_file.read_text() + "VIGIL_HTTP_PUBLISH=127.0.0.1:8000\nVIGIL_DOMAIN=vigil.example.com\n")
    assert compose_config(ROOT / "docker-compose.yml", env_file, "--profile", "public").returncode == 0
    ports = resolved(env_file)["services"]["api"]["ports"]
    assert [(p["host_ip"], p["published"], p["target"]) if isinstance(p, dict) else p for p in ports] in (
        [("127.0.0.1", "8000", 8000)], [("127.0.0.1", 8000, 8000)], ["127.0.0.1:8000:8000/tcp"])


@needs_compose
def test_nothing_starts_with_the_unfilled_example(tmp_path: Path) -> None:
    """Every secret must be set: `.env.example` as shipped is refused, naming the variable."""
    example = tmp_path / "example.env"
    example.write_text((ROOT / ".env.example").read_text())
    out = compose_config(ROOT / "docker-compose.yml", example)
    assert out.returncode != 0
    assert "in .env" in out.stderr
    for key in REQUIRED:
        env = filled_env()
        env[key] = ""
        example.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        out = compose_config(ROOT / "docker-compose.yml", example)
        assert out.returncode != 0 and key in out.stderr, key


@needs_compose
def test_resolved_server_stack_shape(env_file: Path) -> None:
    services = resolved(env_file)["services"]
    assert set(services) == {*INFRA, "migrate", *APPS, "caddy"}
    assert services["caddy"]["profiles"] == ["public"]  # only with `--profile public`
    assert all("profiles" not in spec for name, spec in services.items() if name != "caddy")
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in APPS:
        spec = services[name]
        assert spec["restart"] == "unless-stopped" and spec["init"] is True
        assert spec["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        for infra in INFRA:
            assert spec["depends_on"][infra] == {"condition": "service_healthy"}
        assert spec["healthcheck"]["test"] == ["CMD", "vigil", "health", name]
        assert spec["command"] == ["vigil", name]
        assert spec["environment"]["VIGIL_MQTT_URL"].startswith(f"mqtt://{name}:")  # its own account
    # Scalable recorder: no fixed name, no host port; shares the recordings volume with the api.
    assert "container_name" not in services["recorder"] and "ports" not in services["recorder"]
    assert "recordings" in volume_sources(services["recorder"]) & volume_sources(services["api"])
    assert "broker-auth" in volume_sources(services["api"])
    assert "postgres" in volume_sources(services["postgres"])
    assert services["ingest"]["environment"]["VIGIL_INGEST_SHARE_GROUP"] == "ingest"
    # The ipcams service opens the camera credentials the api sealed: one key, the same for both.
    key = services["api"]["environment"]["VIGIL_CREDENTIALS_KEY"]
    assert key and services["ipcams"]["environment"]["VIGIL_CREDENTIALS_KEY"] == key
    assert "VIGIL_ONVIF_PROBE_TARGETS" in services["api"]["environment"]
    assert "ports" not in services["ipcams"] and "container_name" not in services["ipcams"]
    redis_cmd = services["redis"]["command"]
    redis_cmd = redis_cmd if isinstance(redis_cmd, list) else redis_cmd.split()
    assert "--maxmemory" in redis_cmd and "--requirepass" in redis_cmd
    assert redis_cmd[redis_cmd.index("--save") + 1] == "" and "--appendonly" in redis_cmd


@needs_compose
def test_public_profile_adds_the_tls_proxy(env_file: Path) -> None:
    services = resolved(env_file, "--profile", "public")["services"]
    caddy = services["caddy"]
    assert caddy["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert {p["target"] for p in caddy["ports"]} == {80, 443}
    caddyfile = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "{$VIGIL_DOMAIN}" in caddyfile and "reverse_proxy api:8000" in caddyfile


@needs_compose
def test_our_interpolation_is_composes(env_file: Path) -> None:
    """The parity run reads docker-compose.yml itself: it must see what Compose sees."""
    theirs = resolved(env_file)["services"]
    ours = load(ROOT / "docker-compose.yml", read_env_file(env_file.read_text()))["services"]
    for name in ("migrate", *APPS, *INFRA):
        assert environment(ours[name]) == {k: str(v) for k, v in (theirs[name].get("environment") or {}).items()}
        assert ours[name].get("command") == theirs[name].get("command"), name


# The broker's entrypoint creates these accounts only when their password is set.
OPTIONAL_ACCOUNTS = {"MQTT_HOMEASSISTANT_PASSWORD"}


def test_every_secret_in_the_compose_file_must_be_set() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for var in re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*)([^}]*)\}", text):
        if var[0] in OPTIONAL_ACCOUNTS:  # an account that exists only when its password is set
            assert var[1] == ":-", f"{var[0]} has a default"
            continue
        assert var[1].startswith(":?"), f"{var[0]} has a default"
    assert "VIGIL_SENDGRID_API_KEY:-}" in text  # optional, and empty by default
    keys = re.findall(r"\$\{VIGIL_CREDENTIALS_KEY([^}]*)\}", text)
    assert len(keys) == 2 and all(k.startswith(":?") for k in keys)  # api and ipcams, no default


def test_images_are_pinned() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, spec in compose["services"].items():
        image = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", spec["image"])
        assert PINNED.match(image), (name, image)
    for dockerfile in (ROOT / "Dockerfile", ROOT / "deploy" / "pi" / "Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("FROM "):
                assert PINNED.match(line.split()[1]), line


@needs_compose
def test_pi_compose_file_is_valid(tmp_path: Path) -> None:
    env = tmp_path / "pi.env"
    env.write_text("VIGIL_CAMERA_ID=porch\nVIGIL_MQTT_URL=mqtt://porch:pw@vigil.lan:1883\n")
    out = compose_config(ROOT / "deploy" / "pi" / "docker-compose.yml", env)
    assert out.returncode == 0, out.stderr
    env.write_text("VIGIL_CAMERA_ID=porch\n")
    out = compose_config(ROOT / "deploy" / "pi" / "docker-compose.yml", env)
    assert out.returncode != 0 and "VIGIL_MQTT_URL" in out.stderr
    spec = load(ROOT / "deploy" / "pi" / "docker-compose.yml",
                {"VIGIL_CAMERA_ID": "porch", "VIGIL_MQTT_URL": "mqtt://x"})["services"]
    assert list(spec) == ["capture"]
    assert {"VIGIL_CAMERA_ID", "VIGIL_MQTT_URL", "VIGIL_SOURCE", "VIGIL_FPS", "VIGIL_WIDTH", "VIGIL_HEIGHT",
            "VIGIL_NAME", "VIGIL_LOCATION", "VIGIL_OVERLAY"} <= set(environment(spec["capture"]))


@pytest.fixture
def balena_context() -> Iterator[Path]:
    here = ROOT / "deploy" / "pi" / "balena"
    subprocess.run(["sh", str(here / "prepare.sh")], check=True, capture_output=True)
    try:
        yield here / "build"
    finally:
        subprocess.run(["rm", "-rf", str(here / "build")], check=True)


@needs_compose
def test_balena_fleet_files(balena_context: Path, tmp_path: Path) -> None:
    env = tmp_path / "empty.env"
    env.write_text("")
    out = compose_config(ROOT / "deploy" / "pi" / "balena" / "docker-compose.yml", env)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (balena_context / "services").iterdir()) == ["capture", "common"]
    assert (balena_context / "Dockerfile").read_text() == (ROOT / "deploy" / "pi" / "Dockerfile").read_text()
    fleet = yaml.safe_load((ROOT / "deploy" / "pi" / "balena" / "balena.yml").read_text())
    assert fleet["type"] == "sw.application" and "raspberrypi4-64" in fleet["data"]["supportedDeviceTypes"]


# ---- Dockerfiles -------------------------------------------------------------------------

def instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    return [(line.split()[0].upper(), line.strip()) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_server_image_is_multi_stage_non_root_with_a_healthcheck() -> None:
    ins = instructions(ROOT / "Dockerfile")
    assert sum(1 for w, _ in ins if w == "FROM") >= 2
    users = [line.split()[1] for w, line in ins if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(w == "HEALTHCHECK" and '"vigil", "health"' in line for w, line in ins)
    assert any(w == "COPY" and "--from=build" in line for w, line in ins)
    assert [line for w, line in ins if w == "CMD"][-1] == 'CMD ["vigil", "api"]'
    install = next(line for w, line in ins if w == "RUN" and "pip install" in line)
    # vigil-capture too: the server captures the IP cameras itself (vigil ipcams).
    assert "./services/capture" in install and "./services/ipcams" in install
    assert "--require-hashes --no-deps -r requirements/server.txt" in install  # the server lock


def test_pi_image_installs_only_capture_on_the_raspberry_pi_archive() -> None:
    ins = instructions(ROOT / "deploy" / "pi" / "Dockerfile")
    text = " ".join(line for _, line in ins)
    assert "deb [signed-by=/usr/share/keyrings/raspberrypi-archive-keyring.gpg] " \
           "http://archive.raspberrypi.com/debian/ bookworm main" in text
    assert "python3-picamera2" in text and "python3-opencv" in text
    assert "--system-site-packages" in text
    copies = [line.split()[1] for w, line in ins if w == "COPY"]
    assert copies == ["requirements/capture-pi.txt", "services/common", "services/capture"]
    assert "--require-hashes --no-deps -r /src/requirements/capture-pi.txt" in text  # the camera lock
    for _, line in ins:
        for pkg in ("api", "ingest", "recorder", "notifier", "fastapi", "sqlalchemy", "psycopg", "rq"):
            assert f"services/{pkg}" not in line and f" {pkg} " not in line.lower()
    users = [line.split()[1] for w, line in ins if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(w == "HEALTHCHECK" for w, _ in ins)
    assert [line for w, line in ins if w == "CMD"][-1] == 'CMD ["vigil", "capture"]'


def test_dockerignore_files_keep_the_context_small() -> None:
    server = (ROOT / ".dockerignore").read_text().split()
    assert server[server.index("*")] == "*" and "!services/" in server
    pi = (ROOT / "deploy" / "pi" / "Dockerfile.dockerignore").read_text().split()
    assert "*" in pi and "!services/common/" in pi and "!services/capture/" in pi
    assert "!requirements/server.txt" in server and "!requirements/capture-pi.txt" in pi


def test_broker_config_has_no_anonymous_access_and_confines_cameras() -> None:
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^password_file ", conf, re.M) and re.search(r"^acl_file ", conf, re.M)
    acl = (ROOT / "deploy" / "mosquitto" / "acl").read_text()
    patterns = [line for line in acl.splitlines() if line.startswith("pattern ")]
    assert patterns and all("vigil/cameras/%u/" in line for line in patterns)
    assert not re.search(r"^topic .*#\s*$", acl.split("user ingest")[0], re.M)  # nothing global
