"""/api/v1/exports: clip exports (queued RQ jobs cutting a range across segments)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vigil_api.deps import API_PREFIX, require_user

router = APIRouter(prefix=f"{API_PREFIX}/exports", tags=["exports"], dependencies=[Depends(require_user)])
