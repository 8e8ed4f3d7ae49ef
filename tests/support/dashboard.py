"""The Grafana dashboard shipped in deploy/grafana/, as the tests read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from vigil_common.contract.metrics import CATALOG

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "vigil-dashboard.json"
_SERIES_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def family_of(series: str) -> str:
    """The catalog name a series belongs to (a histogram's ``_bucket``/``_sum``/``_count``)."""
    base = _SERIES_SUFFIX.sub("", series)
    metric = CATALOG.get(base)
    return base if base != series and metric is not None and metric.kind == "histogram" else series


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries use."""
    doc = json.loads(DASHBOARD.read_text())
    return {family_of(name) for panel in doc["panels"] for target in panel["targets"]
            for name in re.findall(r"\bvigil_[a-z0-9_]+", target["expr"])}


def exposed_metrics(text: str) -> set[str]:
    """The metric names with at least one sample in a Prometheus text exposition."""
    return {family_of(re.split(r"[{ ]", line, maxsplit=1)[0]) for line in text.splitlines()
            if line and not line.startswith("#")}
