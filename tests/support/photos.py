"""Real photos for the detector's tests: the demo camera's (``vigil_capture.demo_photos``,
scikit-image's pictures, hash-checked), which ``make install`` fetches; a test that finds them
missing fails with the command that fetches them."""

from __future__ import annotations

from vigil_capture.demo_photos import FETCH, PHOTOS, ensure, missing, photo, photo_dir

__all__ = ["FETCH", "PHOTOS", "ensure", "missing", "photo", "photo_dir"]
