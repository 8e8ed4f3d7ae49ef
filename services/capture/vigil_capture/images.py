"""The frame type shared by every module: an 8-bit BGR image as a numpy array."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def as_image(value: Any) -> Image:
    """Type an OpenCV return value (``cv2.typing.MatLike``) as an :data:`Image`, without copying."""
    return cast(Image, value)
