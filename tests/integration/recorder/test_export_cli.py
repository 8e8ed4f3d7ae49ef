"""``vigil export`` (vigil_recorder.exports.cli) in direct mode and in API mode against a real
``vigil api`` process and a real recorder worker."""


from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import ADMIN_PASSWORD, ApiProcess
from tests.integration.support.days import S, decode, gop_segment, ns_of, utc, worker_env
from vigil_common.runtime.settings import Settings
from vigil_recorder.exports import cli as export_cli

pytestmark = pytest.mark.integration

CAM = "shed"
T = utc(2024, 7, 1, 8)


@pytest.fixture
def footage(settings: Settings, sessions: sessionmaker[Session]) -> None:
    for k in range(2):
        gop_segment(settings, sessions, CAM, ns_of(T) + 3 * k * S, 30, gop=10, first_number=30 * k)


@pytest.fixture
def direct_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key, value in worker_env(settings).items():
        if key.startswith("VIGIL_"):
            monkeypatch.setenv(key, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env; default output lands here
    return work


def test_direct_mode_writes_the_clip_with_a_progress_bar(footage: None, direct_env: Path) -> None:
    err = io.StringIO()
    status = export_cli.main(["--camera", CAM, "--start", "2024-07-01T08:00:01.5Z", "--end", "2024-07-01T08:00:04Z"],
                             stream=err)
    assert status == 0, err.getvalue()
    out = direct_env / "shed_20240701-080001_20240701-080004.mp4"
    assert out.is_file() and f"wrote {out.name}" in err.getvalue()
    assert "100%" in err.getvalue() and "[" in err.getvalue()
    numbers = decode(out).numbers
    assert numbers[0] == 10 and 39 <= numbers[-1] <= 43
    assert not any(p.name.startswith(".") for p in direct_env.iterdir())  # no partial left


@pytest.mark.parametrize("argv, message", [
    (["--start", "2024-07-01T08:00:04Z", "--end", "2024-07-01T08:00:01Z"], "--end must be after --start"),
    (["--start", "soon", "--end", "2024-07-01T08:00:01Z"], "not an ISO 8601 time"),
    (["--start", "2024-07-01T09:00:00Z", "--end", "2024-07-01T10:00:00Z"], "no recordings in that range"),
    (["--start", "2024-07-01T00:00:00Z", "--end", "2024-07-03T00:00:00Z"], "longer than the maximum"),
])
def test_direct_mode_bad_input(footage: None, direct_env: Path, argv: list[str], message: str) -> None:
    err = io.StringIO()
    assert export_cli.main(["--camera", CAM, "--quiet", *argv], stream=err) == 2
    assert message in err.getvalue()
    assert list(direct_env.iterdir()) == []


def test_invalid_camera_id() -> None:
    err = io.StringIO()
    assert export_cli.main(["--camera", "../x", "--start", "a", "--end", "b"], stream=err) == 2


def token_for(base: str) -> str:
    with httpx.Client(base_url=base, timeout=10) as http:
        csrf = http.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()
        r = http.post("/api/v1/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf["csrf_token"]})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def test_api_mode_polls_then_downloads(
    footage: None, settings: Settings, api_process: ApiProcess, tmp_path: Path
) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "vigil_recorder.main", "--no-duties"], env=worker_env(settings),
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        token = token_for(api_process.base_url)
        out = tmp_path / "clip.mp4"
        err = io.StringIO()
        status = export_cli.main(["--camera", CAM, "--start", "2024-07-01T08:00:02Z", "--end", "2024-07-01T08:00:05Z",
                                  "--api", api_process.base_url, "--token", token, "--output", str(out)], stream=err)
        assert status == 0, err.getvalue()
        numbers = decode(out).numbers
        assert numbers[0] == 20 and 49 <= numbers[-1] <= 53
        # The server refuses what it must, and the CLI says why.
        err = io.StringIO()
        assert export_cli.main(["--camera", "nobody", "--start", "2024-07-01T08:00:02Z", "--end",
                                "2024-07-01T08:00:05Z", "--api", api_process.base_url, "--token", token],
                               stream=err) == 2
        assert "unknown camera" in err.getvalue()
        err = io.StringIO()
        assert export_cli.main(["--camera", CAM, "--start", "2024-07-01T08:00:02Z", "--end", "2024-07-01T08:00:05Z",
                                "--api", api_process.base_url, "--token", "wrong"], stream=err) == 1
        assert "HTTP 401" in err.getvalue()
    finally:
        worker.terminate()
        worker.wait(30)
