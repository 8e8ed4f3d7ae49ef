"""Addresses in the HTTP contract that other services hand out (the detector names close-ups in
its MQTT messages, the notifier links them in e-mails): the one place they are spelled."""

from __future__ import annotations

API_PREFIX = "/api/v1"


def closeup_url(event_id: int) -> str:
    """An object event's close-up JPEG (served by the API's events routes)."""
    return f"{API_PREFIX}/events/objects/{int(event_id)}/closeup.jpg"


def face_url(event_id: int) -> str:
    """A person's face close-up JPEG (cameras with ``detect_faces``)."""
    return f"{API_PREFIX}/events/objects/{int(event_id)}/face.jpg"


def thumbnail_url(event_id: int) -> str:
    """A motion event's thumbnail JPEG."""
    return f"{API_PREFIX}/events/{int(event_id)}/thumbnail.jpg"
