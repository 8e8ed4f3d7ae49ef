"""A camera's object-detection zones as stored in the registry (``cameras.object_zones``, JSON) and
sent over the API (``PATCH /cameras/{id}`` ``object_zones``): the one definition the API validates
with and the detector reads.

Each zone is a polygon in fractions of the frame (x right, y down, 0..1, 3 to 32 points), the
labels that count there (empty: every label), a minimum score and a minimum size (fraction of the
frame the box must cover). A detection counts in a zone when the bottom centre of its box lies in
the polygon (docs/detector.md). No zones: the whole frame counts, under the server's settings.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

log = logging.getLogger(__name__)

MAX_ZONES = 16
MAX_POINTS = 32
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$"
ZONE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Point = Annotated[list[Fraction], Field(min_length=2, max_length=2)]
Label = Annotated[str, Field(pattern=LABEL_PATTERN)]


class ObjectZone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ZONE_NAME_PATTERN)
    points: list[Point] = Field(min_length=3, max_length=MAX_POINTS)
    labels: list[Label] = Field(default_factory=list, max_length=100, description="empty: every label")
    min_score: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    min_area: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)


ZONES = TypeAdapter(list[ObjectZone])


def dump(zones: list[ObjectZone]) -> str:
    return json.dumps([z.model_dump() for z in zones], separators=(",", ":"))


def parse(text: str | None) -> list[ObjectZone]:
    """The stored zones; a row that does not parse (edited by hand) counts as none, logged."""
    if not text:
        return []
    try:
        zones = ZONES.validate_json(text)
    except ValidationError as exc:
        log.warning("ignoring malformed object zones (%d errors)", exc.error_count())
        return []
    return zones[:MAX_ZONES]
