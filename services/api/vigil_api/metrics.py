"""The ``/metrics`` exposition, built on prometheus_client.

The API's own request counter and duration histogram are prometheus_client metrics. Everything
else is read per scrape and handed to prometheus_client as metric families: the counters,
histograms and gauges the other services keep in Redis (``vigil_common.contract.metrics``: only
catalog names with the catalog's labels get through), and gauges the API reads itself (the
registry, the recording watchdog, the storage figures the recorder's retention pass publishes,
the recorder queues). Nothing here counts or sums the recording index: a scrape costs a SCAN
of a few small hashes, one HGETALL of the storage figures and the registry's camera rows
(cached 15 s), whatever the size of the index.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric as Family
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil_common.contract import keys
from vigil_common.contract.metrics import CATALOG, SUM_PART, Metric, bucket_labels, parse_field

log = logging.getLogger(__name__)

# What generate_latest writes (prometheus_client names it CONTENT_TYPE_PLAIN_0_0_4 from 0.23 on).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# No `*_created` series: they are not in the catalog and would double the API's series.
disable_created_metrics()

# A label value per method a client invents would grow /metrics without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Labels = tuple[str, ...]  # label values, in the catalog's label order


def _spec(name: str) -> Metric:
    return CATALOG[name]


class RequestMetrics:
    """Requests by (method, route template, status) and a duration histogram per route."""

    def __init__(self) -> None:
        req = _spec("vigil_api_requests_total")
        dur = _spec("vigil_api_request_duration_seconds")
        # registry=None: each app keeps its own (several apps live in one test process).
        self.requests = Counter(req.name, req.help, req.labels, registry=None)
        self.duration = Histogram(dur.name, dur.help, dur.labels, buckets=dur.buckets, registry=None)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(route).observe(seconds)

    def collectors(self) -> tuple[Counter, Histogram]:
        return self.requests, self.duration


def family(name: str, samples: Mapping[Labels, float]) -> Family:
    """A counter or gauge family of a catalog metric; ``samples`` maps label values to a value."""
    spec = _spec(name)
    fam: CounterMetricFamily | GaugeMetricFamily
    if spec.kind == "counter":
        fam = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
    elif spec.kind == "gauge":
        fam = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    else:
        raise ValueError(f"{name} is a histogram")
    for values, value in sorted(samples.items()):
        fam.add_metric(list(values), value)
    return fam


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def redis_families(hashes: Iterable[Mapping[str, Any]]) -> list[Family]:
    """Families of the samples in the services' metric hashes: samples of one metric and label
    set are summed over hashes (several processes of a service); anything not in the catalog, a
    metric the API itself exposes, or a value that is not a finite number is left out."""
    plain: dict[str, dict[Labels, float]] = defaultdict(dict)
    hists: dict[str, dict[Labels, list[float]]] = defaultdict(dict)
    for fields in hashes:
        for raw_name, raw_value in fields.items():
            sample = parse_field(raw_name)
            value = _number(raw_value)
            if sample is None or value is None or sample.metric.source == "api":
                log.debug("ignoring metric field %r", str(raw_name)[:100])
                continue
            values = tuple(v for _, v in sample.labels)
            spec = sample.metric
            if spec.kind == "histogram":
                bounds = bucket_labels(spec)
                parts = hists[spec.name].setdefault(values, [0.0] * (len(bounds) + 1))  # buckets, then the sum
                index = len(bounds) if sample.part == SUM_PART else bounds.index(str(sample.part))
                parts[index] += value
            else:
                by_labels = plain[spec.name]
                by_labels[values] = by_labels.get(values, 0.0) + value
    out = [family(name, samples) for name, samples in sorted(plain.items())]
    for name, by_values in sorted(hists.items()):
        spec = _spec(name)
        fam = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
        for values, parts in sorted(by_values.items()):
            cumulative, buckets = 0.0, []
            for bound, n in zip(bucket_labels(spec), parts[:-1], strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            fam.add_metric(list(values), buckets, sum_value=parts[-1] / 1e6)
        out.append(fam)
    return out


def read_redis_hashes(client: redis.Redis) -> list[dict[str, Any]]:
    """Every service's counter hash and every live process's gauge hash (SCAN, never KEYS)."""
    out: list[dict[str, Any]] = []
    for pattern in (keys.METRICS_PATTERN, keys.GAUGES_PATTERN):
        for key in client.scan_iter(match=pattern, count=100):
            raw: dict[Any, Any] = client.hgetall(key)
            out.append({k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in raw.items()})
    return out


class _Families:
    """A collector of ready-made families (one scrape's)."""

    def __init__(self, families: Sequence[Family]) -> None:
        self._families = families

    def collect(self) -> Iterator[Family]:
        return iter(self._families)


def exposition(requests: RequestMetrics, families: Sequence[Family]) -> bytes:
    """The text format (0.0.4) of the API's request metrics and ``families``."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in requests.collectors():
        registry.register(collector)
    registry.register(_Families(families))
    return generate_latest(registry)


def route_label(scope: Scope) -> str:
    """The matched route's template (bounded cardinality), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return "static" if route is not None else "unmatched"


class RequestMetricsMiddleware:
    """Pure ASGI middleware counting every HTTP response (streaming-safe)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"  # the client picks it
            self.metrics.observe(method, route_label(scope), status, time.perf_counter() - started)
