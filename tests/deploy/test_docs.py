"""docs/deployment.md refers only to things that exist: every `vigil` command it shows is a
command of the tool with options it accepts, every compose service, profile and setting it names
is in the shipped files, and every file it points to is in the repository."""

from __future__ import annotations

import re
import shlex

import yaml

from tests.deploy.compose import ROOT, read_env_file
from vigil_common.cli.main import COMMANDS

DOC = (ROOT / "docs" / "deployment.md").read_text()
BLOCKS = re.findall(r"```sh\n(.*?)```", DOC, re.S)


def command_lines() -> list[str]:
    lines = []
    for block in BLOCKS:
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line.split("  #")[0].strip() for line in joined.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    return lines


def vigil_invocations() -> list[list[str]]:
    out = []
    for line in command_lines():
        words = shlex.split(line.replace("<password>", "pw").replace("$(date +%F)", "x"))
        for i, word in enumerate(words):  # the tool itself, or run in a container (`exec api`, `--`)
            if word == "vigil" and (i == 0 or words[i - 1] in ("--", "api")):
                out.append(words[i:])
    return out


def test_every_vigil_command_shown_exists_and_parses() -> None:
    from vigil_common.cli import health as healthcheck
    from vigil_common.cli import provision

    invocations = vigil_invocations()
    assert any(argv[1:3] == ["camera", "add"] for argv in invocations)
    for argv in invocations:
        assert argv[1] in COMMANDS, argv
        if argv[1:3] == ["camera", "discover"]:
            from vigil_ipcams.discover_cli import build_parser as discover_parser

            discover_parser().parse_args(argv[3:])
        elif argv[1] == "camera":
            provision.build_parser().parse_args(argv[2:])  # raises SystemExit on unknown options
        if argv[1] == "capture":
            from vigil_capture.main import build_parser

            build_parser().parse_args(argv[2:])
    for name in ("api", "ingest", "recorder", "notifier", "ipcams", "capture (Pi)"):
        assert f"\n| {name} | " in DOC  # the health table covers every probe
    assert healthcheck.service_alive  # the probe the table documents


def test_compose_services_profiles_and_settings_named_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = set(compose["services"])
    for line in command_lines():
        m = re.match(r"docker compose (exec(?: -T)?|kill -s \w+|logs -f) (\S+)", line)
        if m and "deploy/pi" not in line:
            assert m.group(2) in services | {"capture"}, line
        for scaled in re.findall(r"--scale (\w+)=", line):
            assert scaled in services
        for profile in re.findall(r"--profile (\w+)", line):
            assert any(profile in spec.get("profiles", []) for spec in compose["services"].values())
    example = read_env_file((ROOT / ".env.example").read_text())
    for var in set(re.findall(r"`((?:VIGIL|REDIS|MQTT|POSTGRES)_[A-Z0-9_]+)", DOC)):
        if var.startswith("VIGIL_"):
            from vigil_common.cli.provision import ProvisionSettings
            from vigil_common.runtime.settings import Settings

            known = {f"VIGIL_{f.upper()}" for f in (*Settings.model_fields, *ProvisionSettings.model_fields)}
            known |= {"VIGIL_CAPTURE_IMAGE", "VIGIL_HTTP_PUBLISH", "VIGIL_DOMAIN", "VIGIL_INGEST_SHARE_GROUP",
                      "VIGIL_SENDGRID_", "VIGIL_EMAIL_", "VIGIL_CAMERA_ID", "VIGIL_NAME", "VIGIL_LOCATION",
                      "VIGIL_SOURCE", "VIGIL_FPS", "VIGIL_WIDTH", "VIGIL_HEIGHT", "VIGIL_OVERLAY"}
            assert var in known, var
        else:
            assert var in example or var.endswith("_"), var


def test_files_the_doc_points_to_exist() -> None:
    for path in set(re.findall(r"`((?:deploy|k8s|docs|services|scripts)/[\w./-]+)`", DOC)):
        assert (ROOT / path.rstrip("/")).exists() or path.startswith("deploy/pi/.env"), path
    for path in ("Dockerfile", "docker-compose.yml", ".env.example"):
        assert f"`{path}`" in DOC and (ROOT / path).exists()
