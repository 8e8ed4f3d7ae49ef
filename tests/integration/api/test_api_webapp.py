"""The web app's files as the API serves them: CSP, types, revalidation, no inline code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil_api.app import create_app
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, frontend_dir=FRONTEND)) as c:
        yield c


def test_the_app_is_served_at_root_with_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="js/app.js"></script>' in r.text
    js = client.get("/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["cache-control"] == "no-cache"
    assert client.get("/css/app.css").headers["content-type"].startswith("text/css")
    # API routes win over the static files, and stay JSON.
    assert client.get("/api/v1/cameras").status_code == 401
    assert "cache-control" not in client.get("/api/v1/cameras").headers


def test_no_inline_script_or_style_and_no_html_injection_sinks() -> None:
    html = (FRONTEND / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for path in FRONTEND.rglob("*.js"):
        code = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, (path.name, sink)


def test_login_and_session_tell_the_app_the_servers_zone(settings: Settings) -> None:
    s = settings.model_copy(update={"timezone": "Europe/Berlin"})
    with TestClient(create_app(s)) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": "correct-horse-battery"})
        assert r.status_code == 200 and r.json()["timezone"] == "Europe/Berlin"
        assert c.get("/api/v1/auth/session").json()["timezone"] == "Europe/Berlin"
