"""Thread-safe labelled counters, and the one way services write counts to Redis:
``keys.metrics_hash(service)`` (HINCRBY; field = Prometheus sample name), which the API renders
at ``/metrics``. :func:`flush` drains a :class:`Counters` (deltas put back if Redis fails, so
none are lost); :func:`publish` sends one-off deltas, best effort (a job's or a pass's counts
must never fail the job)."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter as _Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vigil_common.contract import keys

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

# A service instance's liveness key lasts this long; it is renewed with every flush.
ALIVE_TTL_S = 15

_LABEL_VALUE_BAD = re.compile(r'[\\"\n]')


def sample_name(metric: str, **labels: str) -> str:
    """``vigil_ingest_frames_total{camera="a"}``: label values escaped per the text format."""
    if not labels:
        return metric
    parts = ",".join(f'{k}="{_LABEL_VALUE_BAD.sub("_", v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{parts}}}"


@lru_cache(maxsize=4096)
def _cached_sample_name(metric: str, labels: tuple[tuple[str, str], ...]) -> str:
    return sample_name(metric, **dict(labels))


class Counters:
    """Counts in memory (cheap on the hot path); ``drain()`` hands over and resets the deltas."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: _Counter[str] = _Counter()
        self._totals: _Counter[str] = _Counter()

    def inc(self, metric: str, amount: int = 1, **labels: str) -> None:
        # Hot path (ingest counts every frame batch): names built once per metric and labels.
        key = _cached_sample_name(metric, tuple(labels.items()))
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


def _increments(pipe: Any, service: str, deltas: Mapping[str, int]) -> None:
    for field, amount in deltas.items():
        if amount:
            pipe.hincrby(keys.metrics_hash(service), field, amount)


def flush(client: redis.Redis, service: str, counters: Counters, *, alive_instance: str | None = None) -> bool:
    """The counters' deltas to Redis in one pipeline, and with ``alive_instance`` that
    instance's liveness key (``keys.service_health``, :data:`ALIVE_TTL_S`; what `vigil health`
    and the containers' probes read). On a Redis error the deltas are put back for the next
    flush and False is returned."""
    import redis as redis_lib

    deltas = counters.drain()
    if not deltas and alive_instance is None:
        return True
    try:
        pipe = client.pipeline(transaction=False)
        _increments(pipe, service, deltas)
        if alive_instance is not None:
            pipe.set(keys.service_health(service, alive_instance), b"ok", ex=ALIVE_TTL_S)
        pipe.execute()
        return True
    except redis_lib.RedisError:
        counters.restore(deltas)
        return False


def publish(client: redis.Redis, service: str, deltas: Mapping[str, int], what: str) -> None:
    """One-off deltas to Redis, best effort: logged (``what`` names them) and dropped on error."""
    import redis as redis_lib

    if not any(deltas.values()):
        return
    try:
        pipe = client.pipeline(transaction=False)
        _increments(pipe, service, deltas)
        pipe.execute()
    except redis_lib.RedisError as exc:
        log.warning("could not publish %s metrics: %s", what, exc)
