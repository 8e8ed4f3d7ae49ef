"""Issue 12, points 6 and 8: a forged Host header turned into a redirect to any site; the session
cookie was never Secure behind an HTTPS proxy; the database and footage were world-readable."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.integration.support.api import ADMIN_PASSWORD, ApiProcess
from vigil_api.app import create_app
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


def test_no_redirect_is_built_from_the_host_header(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/health/", headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 404 and "location" not in r.headers
        assert client.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 200  # "*": any host


def test_allowed_hosts_refuse_the_others(settings: Settings) -> None:
    pinned = settings.model_copy(update={"allowed_hosts": ["vigil.example.org"]})
    with TestClient(create_app(pinned), base_url="http://vigil.example.org") as client:
        assert client.get("/api/v1/health").status_code == 200
        r = client.get("/api/v1/health", headers={"Host": "evil.example"})
        assert r.status_code == 400 and "location" not in r.headers
        # loopback stays reachable (the container's health probe)
        assert client.get("/api/v1/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_the_session_cookie_is_secure_over_https(settings: Settings, api_process: ApiProcess) -> None:
    login = {"username": "admin", "password": ADMIN_PASSWORD}
    plain = httpx.post(f"{api_process.base_url}/api/v1/auth/login", json=login)
    assert plain.status_code == 200 and "secure" not in plain.headers["set-cookie"].lower()
    # behind the trusted reverse proxy (127.0.0.1 by default) that terminated TLS
    proxied = httpx.post(f"{api_process.base_url}/api/v1/auth/login", json=login,
                         headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200 and "secure" in proxied.headers["set-cookie"].lower()


def test_files_the_services_create_are_private(settings: Settings, api_process: ApiProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.integration.support.api import api_env

    data = tmp_path / "private-data"
    env = api_env(settings) | {"VIGIL_DATABASE_URL": f"sqlite:///{data / 'vigil.db'}", "VIGIL_DATA_DIR": str(data)}
    out = subprocess.run([sys.executable, "-m", "vigil_common.cli.main", "migrate"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE((data / "vigil.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
