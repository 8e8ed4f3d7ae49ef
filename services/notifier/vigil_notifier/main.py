"""``vigil notifier``: run the notifier service."""

from __future__ import annotations

import argparse
import logging

from vigil_common.runtime.lifecycle import StopSignal, private_files
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings


def main(argv: list[str]) -> int:
    private_files()
    parser = argparse.ArgumentParser(prog="vigil notifier",
                                     description="e-mail people about camera outages, recoveries and new cameras")
    parser.add_argument("--mqtt-url", help="broker URL (default VIGIL_MQTT_URL)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"mqtt_url": args.mqtt_url}.items() if v}
    settings = Settings(**overrides)
    setup_logging("notifier", settings.log_level, settings.log_format)
    from vigil_notifier.service import NotifierService

    stop = StopSignal().install()
    try:
        service = NotifierService(settings)
    except ValueError as exc:  # a channel or webhook setting that cannot work: say which, in one line
        logging.getLogger("vigil_notifier").error("notifier not started: %s", exc)
        return 2
    service.run(stop)
    return 0
