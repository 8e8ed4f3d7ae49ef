"""``vigil ipcams``: one ``vigil capture`` process per enabled IP camera, kept as the
``ip_cameras`` table says (read every ``VIGIL_IPCAMS_POLL_S``): started, restarted with backoff
when it dies (vigil_common.runtime.supervisor), stopped when the camera is disabled or removed, and
restarted when its stream URL, credentials or name change.

Each capture gets the camera's RTSP URL with its credentials in ``VIGIL_SOURCE`` (its
environment, never its command line, which any local user can read in ``ps``) and this
service's own broker account (``ipcams``: the camera topics of every camera). The captures pass
the camera's H.264 through untouched (docs/protocol.md), measure motion and send snapshots as a
Pi camera does.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from vigil_common.bus.presence import Presence
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.lifecycle import StopSignal
from vigil_common.runtime.settings import Settings
from vigil_common.runtime.supervisor import ServiceSpec, Supervisor
from vigil_ipcams import records
from vigil_ipcams.fleet import plan
from vigil_ipcams.records import RunSpec
from vigil_ipcams.secretbox import SecretBox

log = logging.getLogger("vigil_ipcams")
SERVICE = "ipcams"
CAPTURE_DROPS = ("VIGIL_CREDENTIALS_KEY", "VIGIL_DATABASE_URL", "VIGIL_REDIS_URL", "DATABASE_URL", "REDIS_URL",
                 "POSTGRES_PASSWORD", "REDIS_PASSWORD", "PGPASSWORD")


def capture_spec(spec: RunSpec, settings: Settings) -> ServiceSpec:
    """The capture process of one IP camera, on this service's broker, prefix and logging."""
    return ServiceSpec(
        name=spec.camera_id,
        argv=[sys.executable, "-m", "vigil_common.cli.main", "capture", "--codec", "h264"],
        # A capture parses a camera's RTSP (FFmpeg): it gets no key, database or Redis secret.
        drop_env=CAPTURE_DROPS,
        env={"VIGIL_CAMERA_ID": spec.camera_id, "VIGIL_SOURCE": spec.url, "VIGIL_NAME": spec.name,
             "VIGIL_LOCATION": spec.location, "VIGIL_MQTT_URL": settings.mqtt_url,
             "VIGIL_TOPIC_PREFIX": settings.topic_prefix, "VIGIL_LOG_LEVEL": settings.log_level,
             "VIGIL_LOG_FORMAT": settings.log_format},
    )


class IpCamsService:
    def __init__(self, settings: Settings, *, supervisor: Supervisor | None = None) -> None:
        self.settings = settings
        self.box = SecretBox.from_settings(settings)
        self.engine = make_engine(settings.effective_database_url())
        self.sessions = make_sessionmaker(self.engine)
        self.supervisor = supervisor or Supervisor()
        self.running: dict[str, RunSpec] = {}
        self._problems: dict[str, str] = {}
        self._db_down = False

    def reconcile(self) -> None:
        """Bring the capture processes in line with the table (one pass)."""
        try:
            with self.sessions() as db:
                wanted, problems = records.desired(db, self.box)
        except SQLAlchemyError as exc:
            if not self._db_down:
                log.warning("cannot read the IP cameras (%s); keeping the running captures, retrying",
                            type(exc).__name__)
            self._db_down = True
            return
        if self._db_down:
            log.info("database reachable again")
        self._db_down = False
        for cam, why in problems.items():
            if self._problems.get(cam) != why:
                log.error("IP camera %s not started: %s", cam, why)
        self._problems = problems
        steps = plan(self.running, wanted)
        for cam in steps.stop:
            log.info("stopping the capture of IP camera %s", cam)
            self.supervisor.remove(cam)
            self.running.pop(cam, None)
        for spec in steps.start:
            log.info("starting the capture of IP camera %s", spec.camera_id)
            self.supervisor.add(capture_spec(spec, self.settings))
            self.running[spec.camera_id] = spec
        if steps.start:
            self.supervisor.start()

    def run(self, stop: StopSignal | threading.Event) -> None:
        presence = Presence(self.settings, SERVICE)
        presence.start()
        log.info("ipcams: capturing the enabled IP cameras (re-read every %.0f s)", self.settings.ipcams_poll_s)
        try:
            next_read = 0.0
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_read:
                    self.reconcile()
                    next_read = now + self.settings.ipcams_poll_s
                self.supervisor.poll()
                stop.wait(0.5)
        finally:
            log.info("ipcams: stopping %d capture(s)", len(self.running))
            self.supervisor.stop()
            self.running.clear()
            presence.stop()
            self.engine.dispose()
