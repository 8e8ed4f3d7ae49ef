"""Thread-safe labelled counters, and the one way services write counts to Redis:
``keys.metrics_hash(service)`` (HINCRBY; fields: :func:`vigil_common.contract.metrics.metric_field`,
names from its catalog), which the API renders at ``/metrics``. :func:`flush` drains a
:class:`Counters` (deltas put back if Redis fails, so none are lost); :func:`publish` sends
one-off deltas, best effort (a job's or a pass's counts must never fail the job)."""

from __future__ import annotations

import logging
import threading
from collections import Counter as _Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vigil_common.contract import keys
from vigil_common.contract.metrics import CATALOG, SUM_PART, bucket_label, metric_field

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

# A service instance's liveness key lasts this long; it is renewed with every flush.
ALIVE_TTL_S = 15


def sample_name(metric: str, **labels: str) -> str:
    """The Redis field of ``metric`` with ``labels`` (a counter's or a gauge's)."""
    return metric_field(metric, labels)


@lru_cache(maxsize=4096)
def _cached_sample_name(metric: str, labels: tuple[tuple[str, str], ...]) -> str:
    return metric_field(metric, dict(labels))


@lru_cache(maxsize=4096)
def _cached_part(metric: str, labels: tuple[tuple[str, str], ...], part: str) -> str:
    return metric_field(metric, dict(labels), part)


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

    def observe(self, metric: str, seconds: float, **labels: str) -> None:
        """One observation of a catalog histogram: its bucket's count and the sum (in µs)."""
        spec = CATALOG[metric]
        lab = tuple(labels.items())
        bucket = _cached_part(metric, lab, bucket_label(spec, seconds))
        total = _cached_part(metric, lab, SUM_PART)
        with self._lock:
            for key, amount in ((bucket, 1), (total, round(seconds * 1e6))):
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
    # A zero is sent too: a counter declared with ``inc(name, 0, ...)`` exists from then on, so
    # a dashboard's rate() over it reads 0, not "no data".
    for field, amount in deltas.items():
        pipe.hincrby(keys.metrics_hash(service), field, amount)


def flush(client: redis.Redis, service: str, counters: Counters, *, alive_instance: str | None = None,
          gauges: Mapping[str, float] | None = None, instance: str | None = None) -> bool:
    """The counters' deltas to Redis in one pipeline, and with ``alive_instance`` that
    instance's liveness key (``keys.service_health``, :data:`ALIVE_TTL_S`; what `vigil health`
    and the containers' probes read). ``gauges`` (field -> value, :func:`sample_name`) replace
    this process's gauge hash (``keys.metrics_gauges(service, instance)``), which expires with
    the liveness key. On a Redis error the deltas are put back for the next flush and False is
    returned."""
    import redis as redis_lib

    deltas = counters.drain()
    if not deltas and alive_instance is None and not gauges:
        return True
    try:
        pipe = client.pipeline(transaction=False)
        _increments(pipe, service, deltas)
        if alive_instance is not None:
            pipe.set(keys.service_health(service, alive_instance), b"ok", ex=ALIVE_TTL_S)
        if gauges:
            key = keys.metrics_gauges(service, instance or alive_instance or "default")
            pipe.delete(key)
            pipe.hset(key, mapping={name: value for name, value in gauges.items()})
            pipe.expire(key, ALIVE_TTL_S)
        pipe.execute()
        return True
    except redis_lib.RedisError:
        counters.restore(deltas)
        return False


def publish(client: redis.Redis, service: str, deltas: Mapping[str, int], what: str) -> None:
    """One-off deltas to Redis, best effort: logged (``what`` names them) and dropped on error."""
    import redis as redis_lib

    if not deltas:
        return
    try:
        pipe = client.pipeline(transaction=False)
        _increments(pipe, service, deltas)
        pipe.execute()
    except redis_lib.RedisError as exc:
        log.warning("could not publish %s metrics: %s", what, exc)
