"""``vigil export``: cut a camera's footage between two times into one MP4, with a progress bar.

Two modes:

- **API mode** (``--api URL``, token from ``--token`` or ``VIGIL_API_TOKEN``): works from any
  machine. ``POST /api/v1/exports``, poll ``GET /api/v1/exports/{id}`` for progress, then
  download the clip. The export stays on the server (listed, deletable) like any other.
- **Direct mode** (no ``--api``): on the server itself, with the ``VIGIL_`` settings (database
  and data directory). The clip is cut in this process straight into ``--output`` — no
  queue, no worker, no ``exports`` row, nothing left on the server.

Times are ISO 8601; without an offset they are in the server's zone (VIGIL_TIMEZONE). The
clip starts at the keyframe at or before ``--start`` (up to one GOP early; no re-encode).
Exit status: 0 done, 1 failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from vigil_common.contract.ids import is_valid_camera_id

TOKEN_ENV = "VIGIL_API_TOKEN"  # noqa: S105 - the name of an environment variable
POLL_S = 0.5
BAR_WIDTH = 30
HTTP_TIMEOUT_S = 30
CHUNK = 1 << 20


class CliError(Exception):
    """A failure with a message for the user and an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vigil export", description=__doc__.splitlines()[0])
    parser.add_argument("--camera", required=True, help="camera id")
    parser.add_argument("--start", required=True, help="ISO 8601 time, e.g. 2024-05-01T12:00:00+02:00")
    parser.add_argument("--end", required=True, help="ISO 8601 time after --start")
    parser.add_argument("--output", "-o", type=Path, default=None,
                        help="file to write (default: the server's suggested name in this directory)")
    parser.add_argument("--api", default=None, help="API base URL, e.g. http://nvr:8000 (API mode)")
    parser.add_argument("--token", default=None, help=f"API token (default: ${TOKEN_ENV})")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


class Bar:
    """A one-line text progress bar on ``stream`` (redrawn only when the percentage changes)."""

    def __init__(self, stream: TextIO, label: str, enabled: bool = True) -> None:
        self.stream, self.label, self.enabled = stream, label, enabled
        self._shown = -1

    def update(self, fraction: float, note: str = "") -> None:
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        if not self.enabled or percent == self._shown:
            return
        self._shown = percent
        filled = percent * BAR_WIDTH // 100
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {note}")
        self.stream.flush()

    def done(self, message: str) -> None:
        if self.enabled and self._shown >= 0:
            self.stream.write("\n")
        self.stream.write(message + "\n")
        self.stream.flush()


def parse_time(value: str, tz: tzinfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"not an ISO 8601 time: {value!r}", 2) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(UTC)


# --- API mode ---------------------------------------------------------------------------------


class Client:
    """The few API calls the export needs, with a bearer token (stdlib only)."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 - user's URL
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise CliError(f"{method} {path}: HTTP {exc.code}: {_detail(exc)}", 2 if exc.code in (400, 404, 422)
                           else 1) from None
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach {self.base}: {exc}") from None

    def json(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._request(method, path, body) as resp:
            doc = json.loads(resp.read())
        if not isinstance(doc, dict):
            raise CliError(f"{method} {path}: unexpected response")
        return doc

    def download(self, path: str, out: Path) -> int:
        """Stream the body to ``out`` (a temporary name first, renamed when complete)."""
        tmp = out.with_name(f".{out.name}.part")
        size = 0
        try:
            with self._request("GET", path) as resp, open(tmp, "wb") as fh:
                while chunk := resp.read(CHUNK):
                    fh.write(chunk)
                    size += len(chunk)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return size


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(exc.read())
        return str(doc.get("detail", doc)) if isinstance(doc, dict) else str(doc)
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else "error"


def run_api(args: argparse.Namespace, bar: Bar) -> Path:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise CliError(f"API mode needs a token: --token or ${TOKEN_ENV}", 2)
    client = Client(args.api, token)
    created = client.json("POST", "/api/v1/exports", {"camera_id": args.camera, "start": args.start, "end": args.end})
    export_id = str(created["id"])
    status = created
    while status.get("status") in ("queued", "running"):
        bar.update(float(status.get("progress") or 0.0), str(status.get("status")))
        time.sleep(POLL_S)
        status = client.json("GET", f"/api/v1/exports/{export_id}")
    if status.get("status") != "done":
        raise CliError(f"export {export_id} failed: {status.get('error') or status.get('status')}")
    bar.update(1.0, "downloading")
    out = Path(args.output or Path(str(status.get("filename") or f"{export_id}.mp4")).name)
    client.download(f"/api/v1/exports/{export_id}/video", out)
    return out


# --- direct mode ------------------------------------------------------------------------------


def run_direct(args: argparse.Namespace, bar: Bar) -> Path:
    from vigil_common.contract.exports import download_name
    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.runtime.settings import Settings
    from vigil_recorder.exports import build as exports

    settings = Settings()
    start, end = parse_time(args.start, settings.tz), parse_time(args.end, settings.tz)
    if end <= start:
        raise CliError("--end must be after --start", 2)
    if (end - start).total_seconds() > settings.export_max_seconds:
        raise CliError(f"the range is longer than the maximum of {settings.export_max_seconds} seconds", 2)
    out = Path(args.output or download_name(args.camera, start, end, settings.tz))
    engine = make_engine(settings.effective_database_url(), pool_size=1, max_overflow=1)
    try:
        exports.export_range(settings, make_sessionmaker(engine), args.camera, start, end, out.resolve(),
                             lambda f: bar.update(f * 0.99, "cutting"))
    except exports.NoFootage as exc:
        raise CliError(str(exc), 2) from None
    finally:
        engine.dispose()
    return out


def main(argv: list[str], stream: TextIO | None = None) -> int:
    args = parse_args(argv)
    err = stream or sys.stderr
    if not is_valid_camera_id(args.camera):
        err.write(f"vigil export: invalid camera id {args.camera!r}\n")
        return 2
    bar = Bar(err, f"export {args.camera}", enabled=not args.quiet)
    try:
        out = run_api(args, bar) if args.api else run_direct(args, bar)
    except CliError as exc:
        bar.done(f"vigil export: {exc}")
        return exc.status
    bar.update(1.0)
    bar.done(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
