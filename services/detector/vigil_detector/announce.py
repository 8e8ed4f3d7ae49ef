"""Object events told on MQTT (docs/protocol.md#object-events-on-mqtt) as they are stored.

:class:`Announcer` is the :class:`vigil_detector.camera.Sink` the service uses: it hands each
change to the :class:`vigil_detector.store.EventStore` first (the row and close-up exist before
anyone hears of them), then publishes

- ``{prefix}/cameras/{id}/object_event`` (QoS 1): ``start`` / ``update`` / ``end`` with the
  event's id, label, score, times, zones, box and ``closeup_url``;
- ``{prefix}/cameras/{id}/objects`` (QoS 1, retained): ``{label: objects in view}`` for every
  label seen on that camera since the detector started (0 once gone), so a subscriber's
  "person" sensor goes back to 0; ``{}`` when the detector first takes a camera on (a count a
  killed detector left retained does not linger);
- ``{prefix}/cameras/{id}/closeup`` (QoS 1, retained): the JPEG of the newest event's
  close-up, at its start and its end (its best).

Publishing never blocks detection: the bus queues (bounded) while the broker is away.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase
from vigil_common.contract.topics import Topics
from vigil_common.contract.urls import closeup_url
from vigil_detector.store import EventStore
from vigil_detector.tracking import Track

Publish = Callable[[str, bytes, int, bool], None]  # (topic, payload, qos, retain)


class Announcer:
    def __init__(self, store: EventStore, publish: Publish, topics: Topics) -> None:
        self.store = store
        self.publish = publish
        self.topics = topics
        self.in_view: dict[str, dict[str, int]] = {}  # camera -> label -> open events
        self.sizes: dict[tuple[str, int], tuple[int, int]] = {}  # (camera, track) -> frame size
        self.zones: dict[tuple[str, int], list[str]] = {}

    def camera_added(self, camera_id: str) -> None:
        """A camera the detector now looks at: nothing in view yet."""
        self.in_view[camera_id] = {}
        self.publish(self.topics.objects(camera_id), b"{}", 1, True)

    def camera_handed_over(self, camera_id: str) -> None:
        """Another detector process owns the camera now: its events still end here, but the
        retained counts and close-up are the new owner's to publish."""
        self.in_view.pop(camera_id, None)

    def camera_removed(self, camera_id: str) -> None:
        """A camera disabled or deleted (its events were ended first): no retained state left."""
        self.in_view.pop(camera_id, None)
        self.publish(self.topics.objects(camera_id), b"", 1, True)
        self.publish(self.topics.closeup(camera_id), b"", 1, True)

    # -- the Sink --------------------------------------------------------------------------------

    def started(self, camera_id: str, track: Track, closeup: bytes, size: tuple[int, int], zones: list[str]) -> int:
        event_id = self.store.started(camera_id, track, closeup, size, zones)
        key = (camera_id, track.id)
        self.sizes[key] = size
        self.zones[key] = zones
        counts = self.in_view.setdefault(camera_id, {})
        counts[track.label] = counts.get(track.label, 0) + 1
        self._event(ObjectPhase.START, camera_id, event_id, track)
        self._counts(camera_id)
        self.publish(self.topics.closeup(camera_id), closeup, 1, True)
        return event_id

    def improved(self, camera_id: str, track: Track, closeup: bytes) -> None:
        self.store.improved(camera_id, track, closeup)
        event_id = self.store.event_id.get((camera_id, track.id))
        if event_id is not None:
            self._event(ObjectPhase.UPDATE, camera_id, event_id, track)

    def face(self, camera_id: str, track: Track, closeup: bytes) -> None:
        self.store.face(camera_id, track, closeup)

    def ended(self, camera_id: str, track: Track) -> int | None:
        rel = self.store.closeup.get((camera_id, track.id))
        event_id = self.store.ended(camera_id, track)
        if event_id is None:
            return None
        counts = self.in_view.get(camera_id)
        self._event(ObjectPhase.END, camera_id, event_id, track, end=ns_to_datetime(track.last_ns))
        if counts is not None:  # (not after a hand-over: the new owner keeps the retained state)
            counts[track.label] = max(0, counts.get(track.label, 0) - 1)
            self._counts(camera_id)
        if counts is not None and rel is not None:
            try:
                self.publish(self.topics.closeup(camera_id), (self.store.data_dir / rel).read_bytes(), 1, True)
            except OSError:
                pass  # removed meanwhile (the camera's footage was deleted): the event is told anyway
        key = (camera_id, track.id)
        self.sizes.pop(key, None)
        self.zones.pop(key, None)
        return event_id

    # -- messages --------------------------------------------------------------------------------

    def _event(self, phase: ObjectPhase, camera_id: str, event_id: int, track: Track,
               end: datetime | None = None) -> None:
        key = (camera_id, track.id)
        w, h = self.sizes.get(key, (0, 0))
        b = track.best.box
        box = [round(b.x / w, 4), round(b.y / h, 4), round(b.w / w, 4), round(b.h / h, 4)] if w and h else []
        message = ObjectEventMessage(
            type=phase, id=event_id, camera_id=camera_id, label=track.label, score=round(track.best.score, 4),
            start=ns_to_datetime(track.first_ns), end=end,
            closeup_url=closeup_url(event_id), zones=self.zones.get(key, []), box=box)
        self.publish(self.topics.object_event(camera_id), message.model_dump_json().encode(), 1, False)

    def _counts(self, camera_id: str) -> None:
        counts = self.in_view.get(camera_id, {})
        self.publish(self.topics.objects(camera_id), json.dumps(counts, sort_keys=True).encode(), 1, True)
