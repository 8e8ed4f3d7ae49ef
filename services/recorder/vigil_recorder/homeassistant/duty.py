"""The Home Assistant duty (leased, like every periodic duty): every ``VIGIL_HA_STATS_INTERVAL_S``
it publishes each enabled camera's discovery configs (retained; only those that changed since
this leader last sent them) and its ``stats``, and an empty retained config for every entity
that is no longer wanted — a camera disabled or deleted, an object label dropped, or discovery
turned off — so Home Assistant removes it. What was published is kept in Redis
(``keys.HA_PUBLISHED``: camera -> its discovery topics), so a removal is sent even after a
restart or by another recorder holding the lease.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from vigil_common import __version__
from vigil_common.contract import keys
from vigil_common.contract.ids import is_valid_camera_id
from vigil_common.contract.topics import CameraTopic, Topics
from vigil_common.db import recording_probe
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext
from vigil_recorder.homeassistant.configs import CameraInfo, configs

log = logging.getLogger(__name__)
NAME = "homeassistant"


# Every config is sent again this often even when unchanged: a broker restarted without
# persistence has lost the retained ones (Home Assistant would lose the entities at its next start).
RESEND_S = 300.0


@dataclass
class HaState:
    sent: dict[str, bytes] = field(default_factory=dict)  # discovery topic -> the config last sent
    resent_at: float = field(default_factory=time.monotonic)


def _published(client: redis.Redis) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cam, raw in client.hgetall(keys.HA_PUBLISHED).items():
        name = cam.decode(errors="replace") if isinstance(cam, bytes) else str(cam)
        try:
            topics = json.loads(raw)
        except ValueError:
            continue
        if is_valid_camera_id(name) and isinstance(topics, list):
            out[name] = [t for t in topics if isinstance(t, str)]
    return out


def _cameras(ctx: DutyContext) -> list[CameraInfo]:
    with ctx.sessions() as db:
        rows = db.execute(select(Camera.id, Camera.name, Camera.location, Camera.source, Camera.codec,
                                 Camera.version).where(Camera.enabled.is_(True)).order_by(Camera.id)).all()
    return [CameraInfo(r.id, r.name or "", r.location or "", r.source or "", r.codec or "", r.version or "")
            for r in rows]


def _stats(ctx: DutyContext, cameras: list[str]) -> dict[str, dict[str, Any]]:
    """Each camera's stats: recording lag (None unless it streams) and bytes stored (None until
    the retention pass has counted it)."""
    with ctx.sessions() as db:
        report = recording_probe.check(ctx.settings, db, ctx.redis)
    lag = {c.camera_id: round(c.lag_s, 1) for c in report.cameras}
    stored: dict[str, int] = {}
    for cam, value in ctx.redis.hgetall(keys.STORAGE_CAMERAS).items():
        parts = value.split()
        if len(parts) == 2 and parts[1].isdigit():
            stored[cam.decode(errors="replace")] = int(parts[1])
    now = time.time()
    return {c: {"recording_lag_s": lag.get(c), "storage_bytes": stored.get(c), "updated_at": round(now, 3)}
            for c in cameras}


def _remove(ctx: DutyContext, topics: list[str], state: HaState) -> None:
    for topic in topics:
        ctx.publish(topic, b"", 1, True)  # an empty retained config: Home Assistant drops the entity
        state.sent.pop(topic, None)


def publish_discovery(ctx: DutyContext) -> dict[str, int]:
    """One run; returns counts (for logs and tests): configs sent, configs removed, stats sent."""
    settings: Settings = ctx.settings
    state = ctx.state.setdefault(NAME, HaState())
    assert isinstance(state, HaState)
    if time.monotonic() - state.resent_at >= RESEND_S:
        state.sent.clear()
        state.resent_at = time.monotonic()
    published = _published(ctx.redis)
    counts = {"sent": 0, "removed": 0, "stats": 0}
    cameras = _cameras(ctx) if settings.ha_discovery else []
    topics = Topics(settings.topic_prefix)
    labels = settings.event_labels()
    wanted: dict[str, dict[str, dict[str, object]]] = {
        cam.camera_id: configs(cam, topics=topics, prefix=settings.ha_discovery_prefix, labels=labels,
                               sw_version=__version__, public_url=settings.public_url)
        for cam in cameras}
    for cam, old in published.items():
        gone = [t for t in old if t not in wanted.get(cam, {})]
        if gone:
            _remove(ctx, gone, state)
            counts["removed"] += len(gone)
            log.info("Home Assistant: %d entities of camera %s removed", len(gone), cam)
        if cam not in wanted:
            # Its picture and stats go too (retained: readable by anyone on the broker).
            _remove(ctx, [topics.camera(cam, CameraTopic.SNAPSHOT), topics.camera(cam, CameraTopic.STATS)], state)
            ctx.redis.hdel(keys.HA_PUBLISHED, cam)
    for cam, by_topic in wanted.items():
        if sorted(by_topic) != sorted(published.get(cam, [])):
            # Recorded before publishing: a crash in between must not leave configs no run removes.
            ctx.redis.hset(keys.HA_PUBLISHED, cam, json.dumps(sorted(set(by_topic) | set(published.get(cam, [])))))
        for topic, config in by_topic.items():
            payload = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
            if state.sent.get(topic) != payload:
                ctx.publish(topic, payload, 1, True)
                state.sent[topic] = payload
                counts["sent"] += 1
        if sorted(by_topic) != sorted(published.get(cam, [])):
            ctx.redis.hset(keys.HA_PUBLISHED, cam, json.dumps(sorted(by_topic)))
    if wanted:
        for cam, doc in _stats(ctx, list(wanted)).items():
            ctx.publish(topics.camera(cam, CameraTopic.STATS), json.dumps(doc).encode(), 1, True)
            counts["stats"] += 1
    if counts["sent"] or counts["removed"]:
        log.info("Home Assistant discovery: %d configs sent, %d removed (%d cameras)", counts["sent"],
                 counts["removed"], len(wanted))
    return counts


def duties(settings: Settings) -> list[Duty]:
    def run(ctx: DutyContext) -> None:
        try:
            publish_discovery(ctx)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("Home Assistant discovery skipped, again in %.0fs: %s", settings.ha_stats_interval_s, exc)

    return [Duty(NAME, settings.ha_stats_interval_s, run)]
