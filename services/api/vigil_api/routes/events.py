"""/api/v1/events: motion events with thumbnails."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vigil_api.deps import API_PREFIX, require_user

router = APIRouter(prefix=f"{API_PREFIX}/events", tags=["events"], dependencies=[Depends(require_user)])
