"""The Kubernetes manifests: every core resource passes `kubernetes-validate --strict` (offline
schemas), the kustomizations list every file and nothing missing (kustomize is not installed
here), the overlays patch what exists, the KEDA objects (CRDs: parsed, not schema-checked) scale
the recorder on its real RQ queue, and each service gets the settings compose gives it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose import ROOT, environment, load, read_env_file
from vigil_common.contract import keys

K8S = ROOT / "k8s"
BASE = K8S / "base"
OVERLAYS = ("in-cluster", "external", "keda")
CORE_GROUPS = ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "autoscaling/v2")
APPS = {"ingest": "vigil-ingest", "recorder": "vigil-recorder", "notifier": "vigil-notifier",
        "detector": "vigil-detector", "ipcams": "vigil-ipcams", "api": "vigil-api"}


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomization(directory: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((directory / "kustomization.yaml").read_text()))


def base_objects() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for name in kustomization(BASE)["resources"]:
        for d in docs(BASE / name):
            out[(d["kind"], d["metadata"]["name"])] = d
    return out


def validator() -> str:
    exe = shutil.which("kubernetes-validate") or str(Path(sys.executable).parent / "kubernetes-validate")
    if not Path(exe).exists():
        pytest.skip("kubernetes-validate is not installed (requirements/dev.txt)")
    return exe


def core_manifest_files() -> list[Path]:
    files = [BASE / name for name in kustomization(BASE)["resources"]]
    for overlay in OVERLAYS:
        for name in kustomization(K8S / "overlays" / overlay).get("resources", []):
            path = K8S / "overlays" / overlay / name
            if path.is_file() and all(d["apiVersion"] in CORE_GROUPS for d in docs(path)):
                files.append(path)
    return files


def test_core_manifests_pass_strict_schema_validation() -> None:
    files = core_manifest_files()
    assert len(files) >= 14
    out = subprocess.run([validator(), "--strict", *map(str, files)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("passed") == sum(len(docs(f)) for f in files)


def test_overlay_config_patch_passes_strict_validation() -> None:
    path = K8S / "overlays" / "external" / "external-endpoints.yaml"
    out = subprocess.run([validator(), "--strict", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_base_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization(BASE)["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    kinds = {kind for kind, _ in base_objects()}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "PersistentVolumeClaim", "Job",
            "HorizontalPodAutoscaler"} <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_files_exist_and_patches_target_base_objects(overlay: str) -> None:
    directory = K8S / "overlays" / overlay
    k = kustomization(directory)
    for entry in k.get("resources", []):
        assert (directory / entry).exists(), entry
    objects = base_objects()
    for patch in k.get("patches", []):
        for d in docs(directory / patch["path"]):
            assert (d["kind"], d["metadata"]["name"]) in objects, d["metadata"]["name"]
    for generator in k.get("configMapGenerator", []):
        for name in generator["files"]:
            assert (directory / name).is_file()


def test_in_cluster_broker_uses_the_shipped_broker_files() -> None:
    for name in ("mosquitto.conf", "acl", "entrypoint.sh"):
        copy = K8S / "overlays" / "in-cluster" / name
        assert copy.read_text() == (ROOT / "deploy" / "mosquitto" / name).read_text(), f"{name} differs"


def test_keda_scales_the_recorder_on_its_rq_queue() -> None:
    objs = {d["kind"]: d for d in docs(K8S / "overlays" / "keda" / "scaledobject.yaml")}
    scaled = objs["ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert ("Deployment", scaled["spec"]["scaleTargetRef"]["name"]) in base_objects()
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == f"rq:queue:{keys.RECORDER_QUEUE}"
    assert trigger["authenticationRef"]["name"] == objs["TriggerAuthentication"]["metadata"]["name"]
    ref = objs["TriggerAuthentication"]["spec"]["secretTargetRef"][0]
    assert ref["name"] == "vigil-secrets" and ref["key"] in secret_keys()


def secret_keys() -> set[str]:
    return set(read_env_file((BASE / "secrets.env.example").read_text()))


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


def test_app_deployments_are_non_root_probed_and_bounded() -> None:
    objects = base_objects()
    for service, name in APPS.items():
        dep = objects[("Deployment", name)]
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        (c,) = _containers(dep)
        assert c["command"] == ["vigil"] and c["args"] == [service]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["resources"]["limits"] and c["resources"]["requests"]
        assert "livenessProbe" in c
        if service != "api":
            assert c["livenessProbe"]["exec"]["command"] == ["vigil", "health", service]
    job = objects[("Job", "vigil-migrate")]
    assert _containers(job)[0]["args"] == ["migrate"]
    assert objects[("PersistentVolumeClaim", "vigil-recordings")]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert objects[("HorizontalPodAutoscaler", "vigil-api")]["spec"]["scaleTargetRef"]["name"] == "vigil-api"
    assert objects[("ConfigMap", "vigil-config")]["data"]["VIGIL_INGEST_SHARE_GROUP"] == "ingest"
    # ipcams: exactly one (two would capture every IP camera twice), never two during a rollout.
    ipcams = objects[("Deployment", "vigil-ipcams")]
    assert ipcams["spec"]["replicas"] == 1 and ipcams["spec"]["strategy"] == {"type": "Recreate"}
    # The api seals the IP cameras' credentials, ipcams opens them: the same Secret entry.
    for name in ("vigil-api", "vigil-ipcams"):
        (c,) = _containers(objects[("Deployment", name)])
        (key,) = [e for e in c["env"] if e["name"] == "VIGIL_CREDENTIALS_KEY"]
        assert key["valueFrom"]["secretKeyRef"] == {"name": "vigil-secrets", "key": "VIGIL_CREDENTIALS_KEY"}, name


def test_the_in_cluster_broker_gets_every_service_password() -> None:
    from vigil_common.contract.broker_acl import SERVICE_ACCOUNTS

    (broker,) = [d for d in docs(K8S / "overlays" / "in-cluster" / "mosquitto.yaml") if d["kind"] == "Deployment"]
    (c,) = _containers(broker)
    given = {e["name"] for e in c["env"]}
    assert {f"MQTT_{a.upper()}_PASSWORD" for a in SERVICE_ACCOUNTS} <= given


def test_secrets_referenced_exist_and_none_is_committed() -> None:
    referenced: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == "vigil-secrets" and "key" in node:
                referenced.add(node["key"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in [*BASE.glob("*.yaml"), *(K8S / "overlays").rglob("*.yaml")]:
        for d in docs(path):
            assert d.get("kind") != "Secret", f"{path}: secrets come from secrets.env"
            walk(d)
    assert referenced and referenced <= secret_keys()
    assert all(not v for v in read_env_file((BASE / "secrets.env.example").read_text()).values())
    assert "secrets.env" in (BASE / ".gitignore").read_text().split()


def test_each_service_gets_the_settings_compose_gives_it() -> None:
    """Every variable compose sets for an app service is set for its pod too (ConfigMap, env,
    or the image's ENV), and the connection URLs carry the service's own broker account."""
    env = {k: "x" for k in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "VIGIL_ADMIN_PASSWORD", "MQTT_INGEST_PASSWORD",
                            "MQTT_RECORDER_PASSWORD", "MQTT_API_PASSWORD", "MQTT_NOTIFIER_PASSWORD",
                            "MQTT_DETECTOR_PASSWORD", "MQTT_IPCAMS_PASSWORD", "VIGIL_CREDENTIALS_KEY",
                            "VIGIL_CAMERA_BROKER_URL")}
    compose = load(ROOT / "docker-compose.yml", env)["services"]
    objects = base_objects()
    config = set(objects[("ConfigMap", "vigil-config")]["data"])
    image_env = set(re.findall(r"(VIGIL_\w+)=", (ROOT / "Dockerfile").read_text()))
    for service, name in {**APPS, "migrate": "vigil-migrate"}.items():
        kind = "Job" if service == "migrate" else "Deployment"
        (c,) = _containers(objects[(kind, name)])
        pod_env = {e["name"]: e.get("value", "") for e in c["env"]}
        missing = set(environment(compose[service])) - config - set(pod_env) - image_env
        assert not missing, (service, missing)
        if service != "migrate":
            assert pod_env["VIGIL_MQTT_URL"] == f"mqtt://{service}:$(MQTT_{service.upper()}_PASSWORD)@$(MQTT_HOST)"
        names = [e["name"] for e in c["env"]]
        for i, e in enumerate(c["env"]):  # $(VAR) only refers to variables defined before it
            for ref in re.findall(r"\$\((\w+)\)", e.get("value", "")):
                assert ref in names[:i], (service, e["name"], ref)
