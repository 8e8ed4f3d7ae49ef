"""The event webhooks' delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DeliveryOut(BaseModel):
    id: int = Field(description="Sent as X-Vigil-Delivery")
    created_at: datetime
    event_id: str = Field(description="Sent as X-Vigil-Event-Id and in the body; the same on every retry")
    event: str
    camera_id: str | None = None
    url: str = Field(description="scheme, host, port and path only (credentials and query hidden)")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(default=None, description="The receiver's last HTTP status")
    error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
