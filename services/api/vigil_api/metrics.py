"""Prometheus text exposition: the API's own counters plus what other services keep in Redis.

Ingest and recorder ``HINCRBY`` counters into ``vigil:metrics:{service}`` hashes whose fields
are sample names such as ``vigil_ingest_frames_total{camera="a"}``. /metrics reads them all
(SCAN, never KEYS), drops any field that is not a well-formed sample, sums duplicates, and
groups samples by family so the output is valid exposition format 0.0.4.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_PATTERN = "vigil:metrics:*"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
_SAMPLE_RE = re.compile(rf"^({_NAME})(\{{(?:{_LABEL})(?:,{_LABEL})*,?\}}|\{{\}})?$")

# A label value per method a client invents would grow /metrics without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def parse_sample_name(field_name: str) -> tuple[str, str] | None:
    """Split ``name{labels}`` into ``(family, labels)``; None unless it is a valid sample."""
    m = _SAMPLE_RE.fullmatch(field_name)
    if m is None:
        return None
    return m.group(1), m.group(2) or ""


def _parse_value(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_redis_samples(hashes: Iterable[Mapping[str, str]]) -> list[str]:
    """Turn metric hashes into exposition lines, one ``# TYPE`` per family."""
    families: dict[str, dict[str, float]] = defaultdict(dict)
    for fields in hashes:
        for name, raw in fields.items():
            parsed = parse_sample_name(name)
            value = _parse_value(raw)
            if parsed is None or value is None:
                log.debug("ignoring malformed metric field %r", name[:100])
                continue
            family, labels = parsed
            samples = families[family]
            samples[labels] = samples.get(labels, 0.0) + value
    lines: list[str] = []
    for family in sorted(families):
        kind = "counter" if family.endswith("_total") else "untyped"
        lines.append(f"# TYPE {family} {kind}")
        lines += [f"{family}{labels} {_fmt(v)}" for labels, v in sorted(families[family].items())]
    return lines


async def collect_redis_hashes(redis: aioredis.Redis) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    async for key in redis.scan_iter(match=METRICS_PATTERN, count=100):
        raw: dict[Any, Any] = await redis.hgetall(key)
        out.append({k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in raw.items()})
    return out


def gauge(name: str, help_: str, samples: Mapping[str, float]) -> list[str]:
    """Exposition lines for a gauge; ``samples`` maps a label string (or "") to a value."""
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {_fmt(v)}" for labels, v in samples.items()]
    return lines


def labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in kv.items()) + "}"


@dataclass
class RequestMetrics:
    """Requests by (method, route template, status) and a duration histogram per route."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    buckets: dict[str, list[int]] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, str(status))
            self.counts[key] = self.counts.get(key, 0) + 1
            hist = self.buckets.setdefault(route, [0] * (len(DURATION_BUCKETS) + 1))
            for i, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    hist[i] += 1
            hist[-1] += 1
            self.sums[route] = self.sums.get(route, 0.0) + seconds

    def render(self) -> list[str]:
        with self._lock:
            lines = [
                "# HELP vigil_api_requests_total HTTP requests handled, by route template and status.",
                "# TYPE vigil_api_requests_total counter",
            ]
            for (method, route, status), n in sorted(self.counts.items()):
                lines.append(f"vigil_api_requests_total{labels(method=method, route=route, status=status)} {n}")
            lines += [
                "# HELP vigil_api_request_duration_seconds Time to handle a request (streams: until closed).",
                "# TYPE vigil_api_request_duration_seconds histogram",
            ]
            for route, hist in sorted(self.buckets.items()):
                for bound, n in zip(DURATION_BUCKETS, hist, strict=False):
                    lines.append(f"vigil_api_request_duration_seconds_bucket{labels(route=route, le=str(bound))} {n}")
                lab = labels(route=route, le="+Inf")
                lines.append(f"vigil_api_request_duration_seconds_bucket{lab} {hist[-1]}")
                lines.append(f"vigil_api_request_duration_seconds_sum{labels(route=route)} {self.sums[route]:.6f}")
                lines.append(f"vigil_api_request_duration_seconds_count{labels(route=route)} {hist[-1]}")
            return lines


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
