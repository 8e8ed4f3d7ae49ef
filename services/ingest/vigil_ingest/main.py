"""``vigil ingest``: run the ingest service."""

from __future__ import annotations

import argparse

from vigil_common.runtime.lifecycle import StopSignal, private_files
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings


def main(argv: list[str]) -> int:
    private_files()
    parser = argparse.ArgumentParser(prog="vigil ingest", description="MQTT -> Redis streams, registry, jobs")
    parser.add_argument("--mqtt-url", help="broker URL (default VIGIL_MQTT_URL)")
    parser.add_argument("--redis-url", help="Redis URL (default VIGIL_REDIS_URL)")
    parser.add_argument("--shared-group", default=None,
                        help="share frames and heartbeats between ingest processes ($share/<group>/...); "
                             "default VIGIL_INGEST_SHARE_GROUP")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"mqtt_url": args.mqtt_url, "redis_url": args.redis_url,
                                   "ingest_share_group": args.shared_group}.items() if v}
    settings = Settings(**overrides)
    setup_logging("ingest", settings.log_level, settings.log_format)
    from vigil_ingest.service import IngestService

    stop = StopSignal().install()
    IngestService(settings).run(stop)
    return 0
