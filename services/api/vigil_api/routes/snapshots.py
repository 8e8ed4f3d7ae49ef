"""/api/v1/cameras/{id}/snapshots: the periodic stills (recording-depth issue)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vigil_api.deps import API_PREFIX, require_user

router = APIRouter(prefix=f"{API_PREFIX}/cameras", tags=["snapshots"], dependencies=[Depends(require_user)])
