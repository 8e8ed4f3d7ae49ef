"""Thread-safe labelled counters. Services flush the deltas into ``keys.metrics_hash(service)``
(HINCRBY; field = Prometheus sample name) and the API renders them at ``/metrics``."""

from __future__ import annotations

import re
import threading
from collections import Counter as _Counter

_LABEL_VALUE_BAD = re.compile(r'[\\"\n]')


def sample_name(metric: str, **labels: str) -> str:
    """``vigil_ingest_frames_total{camera="a"}``: label values escaped per the text format."""
    if not labels:
        return metric
    parts = ",".join(f'{k}="{_LABEL_VALUE_BAD.sub("_", v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{parts}}}"


class Counters:
    """Counts in memory (cheap on the hot path); ``drain()`` hands over and resets the deltas."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: _Counter[str] = _Counter()
        self._totals: _Counter[str] = _Counter()

    def inc(self, metric: str, amount: int = 1, **labels: str) -> None:
        key = sample_name(metric, **labels)
        with self._lock:
            self._pending[key] += amount
            self._totals[key] += amount

    def drain(self) -> dict[str, int]:
        with self._lock:
            pending, self._pending = dict(self._pending), _Counter()
        return pending

    def restore(self, deltas: dict[str, int]) -> None:
        """Put back deltas whose flush failed, so none are lost."""
        with self._lock:
            self._pending.update(deltas)

    def total(self, metric: str, **labels: str) -> int:
        with self._lock:
            return self._totals[sample_name(metric, **labels)]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)
