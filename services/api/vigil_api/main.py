"""``vigil api``: serve the HTTP API (and the web app) with uvicorn."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from vigil_api.app import create_app, find_frontend_dir
from vigil_common.runtime.lifecycle import private_files
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)

# Live streams never end by themselves: give them this long after SIGTERM, then close them.
GRACEFUL_SHUTDOWN_S = 5


def _parser(settings: Settings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigil api", description="Run the Vigil HTTP API and web app.")
    p.add_argument("--host", default=settings.http_host, help=f"bind address (default {settings.http_host})")
    p.add_argument("--port", type=int, default=settings.http_port, help=f"port (default {settings.http_port})")
    p.add_argument(
        "--frontend-dir",
        type=Path,
        default=None,
        help="directory with the web app's index.html (default: ./frontend if present)",
    )
    return p


def _stopped_by(signum: int, _frame: FrameType | None) -> None:
    """Uvicorn re-raises the stop signal after its graceful shutdown; we exit 0 instead."""
    log.info("stopped by %s", signal.Signals(signum).name)


class _Server(uvicorn.Server):
    """Ends live streams as soon as a stop signal arrives, so they do not hold up shutdown."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_stop()
        super().handle_exit(sig, frame)


def main(argv: list[str]) -> int:
    private_files()
    settings = Settings()
    args = _parser(settings).parse_args(argv)
    if not 1 <= args.port <= 65535:
        print("vigil api: --port must be 1..65535", file=sys.stderr)
        return 2
    setup_logging("api", settings.log_level, settings.log_format)
    repo_root = Path(__file__).resolve().parents[3]
    frontend = args.frontend_dir or find_frontend_dir(Path.cwd(), repo_root)
    if frontend is None:
        log.warning("no web app found (./frontend/index.html): serving the API only")
    app = create_app(settings, frontend_dir=frontend)
    signal.signal(signal.SIGTERM, _stopped_by)
    signal.signal(signal.SIGINT, _stopped_by)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # keep our logging setup
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,  # client address for the login throttle, logs
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )

    def stop_streams() -> None:
        begin = getattr(app.state, "begin_shutdown", None)
        if begin is not None:
            begin()

    _Server(config, stop_streams).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
