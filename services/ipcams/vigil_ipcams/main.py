"""``vigil ipcams``: capture the IP cameras added in the web app or API (docs/integrations.md#onvif-cameras)."""

from __future__ import annotations

import argparse
import logging

from vigil_common.runtime.lifecycle import StopSignal, private_files
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings


def main(argv: list[str]) -> int:
    private_files()
    parser = argparse.ArgumentParser(prog="vigil ipcams",
                                     description="run one capture process per enabled IP camera (RTSP/ONVIF)")
    parser.parse_args(argv)
    settings = Settings()
    setup_logging("ipcams", settings.log_level, settings.log_format)
    from vigil_ipcams.secretbox import CredentialsKeyError
    from vigil_ipcams.service import IpCamsService

    stop = StopSignal().install()
    try:
        service = IpCamsService(settings)
    except CredentialsKeyError as exc:
        logging.getLogger("vigil_ipcams").error("ipcams not started: %s", exc)
        return 2
    service.run(stop)
    return 0
