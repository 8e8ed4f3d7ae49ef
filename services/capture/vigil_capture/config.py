"""The camera's live settings and the pure rule for changing them with a ``configure`` command."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from vigil_common.contract.messages import ConfigureParams

MAX_FPS = 120.0


class ConfigureError(ValueError):
    """``configure`` parameters that are rejected (the camera keeps its settings)."""


@dataclass(frozen=True, slots=True)
class CaptureConfig:
    """What a ``configure`` command can change. Immutable: a change swaps the whole object.

    ``fps`` 0 means unthrottled (benchmarks only; ``configure`` never sets it).
    """

    fps: float
    width: int
    height: int
    quality: int
    overlay: bool
    name: str
    location: str

    def __post_init__(self) -> None:
        if not 0 <= self.fps <= MAX_FPS:
            raise ValueError(f"fps must be between 0 and {MAX_FPS:g}")
        if not (16 <= self.width <= 7680 and 16 <= self.height <= 4320):
            raise ValueError("size must be between 16x16 and 7680x4320")
        if not 1 <= self.quality <= 100:
            raise ValueError("quality must be between 1 and 100")


def apply_configure(config: CaptureConfig, params: Mapping[str, Any]) -> CaptureConfig:
    """Return ``config`` with ``params`` applied, validated by the contract's ``ConfigureParams``.

    Unknown keys, wrong types and out-of-range values raise :class:`ConfigureError`; nothing
    is applied partially. Keys given as ``null`` keep their current value.
    """
    try:
        parsed = ConfigureParams.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigureError(f"invalid configure params: {problems}") from exc
    changes = {key: value for key, value in parsed.model_dump().items() if value is not None}
    if "fps" in changes:
        changes["fps"] = float(changes["fps"])
    try:
        return dataclasses.replace(config, **changes)
    except ValueError as exc:
        raise ConfigureError(str(exc)) from exc
