"""Footage to export through the API (the ``footage`` fixture) and posting an export."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api, add_camera
from tests.integration.support.days import S, gop_segment, ns_of, utc

CAM = "gate"


T = utc(2024, 6, 1, 12)


ISO = "2024-06-01T12:00:{:02d}+00:00"


@pytest.fixture
def footage(api: Api, factory: sessionmaker[Session], sessions: sessionmaker[Session]) -> Api:
    """Frames 0..59 at 10 fps from T (two 3 s segments, GOPs of 1 s); a bearer token."""
    add_camera(factory, CAM)
    for k in range(2):
        gop_segment(api.settings, sessions, CAM, ns_of(T) + 3 * k * S, 30, gop=10, first_number=30 * k)
    token = api.token()
    api.client.headers["Authorization"] = f"Bearer {token}"
    return api


def post(api: Api, **body: object) -> tuple[int, dict[str, object]]:
    r = api.client.post("/api/v1/exports", json=body)
    return r.status_code, r.json()
