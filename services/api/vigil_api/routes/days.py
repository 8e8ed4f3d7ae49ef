"""/api/v1/cameras/{id}/days/{date}: the day's timeline, and the whole day as one MP4."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vigil_api.deps import API_PREFIX, require_user

router = APIRouter(prefix=f"{API_PREFIX}/cameras", tags=["timeline"], dependencies=[Depends(require_user)])
