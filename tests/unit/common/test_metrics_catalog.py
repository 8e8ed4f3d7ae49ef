"""The metrics catalog (vigil_common/contract/metrics.py) is the one list: every name the code
counts is in it, every entry is counted by the service it names, docs/operations.md#metrics
lists exactly it, and the Grafana dashboard plots only names from it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.support.dashboard import DASHBOARD, dashboard_metrics
from vigil_common.contract.metrics import CATALOG, metric_field, parse_field

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"
# Calls whose first argument is a metric name.
NAMING_CALLS = {"inc", "observe", "sample_name", "metric_field", "family", "_spec"}
PACKAGE_OF = {"api": "api/vigil_api", "ingest": "ingest/vigil_ingest", "recorder": "recorder/vigil_recorder",
              "detector": "detector/vigil_detector", "notifier": "notifier/vigil_notifier"}


def _named_metrics() -> dict[str, set[str]]:
    """Metric names passed as literals to the naming calls, by the file that names them."""
    out: dict[str, set[str]] = {}
    for path in SERVICES.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = node.args[0]
            if name in NAMING_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value.startswith("vigil_"):
                    out.setdefault(first.value, set()).add(str(path.relative_to(SERVICES)))
    return out


def test_every_metric_the_code_names_is_in_the_catalog() -> None:
    named = _named_metrics()
    assert len(named) > 20  # the scan finds the calls
    unknown = {name: files for name, files in named.items() if name not in CATALOG}
    assert not unknown, f"metrics missing from vigil_common/contract/metrics.py: {unknown}"


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_metric_is_counted_by_its_service(name: str) -> None:
    metric = CATALOG[name]
    package = SERVICES / PACKAGE_OF[metric.source]
    text = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert f'"{name}"' in text, f"{name} is said to come from {metric.source}, whose code never names it"


def test_catalog_entries_are_well_formed() -> None:
    for metric in CATALOG.values():
        assert re.fullmatch(r"vigil_[a-z0-9_]+", metric.name), metric.name
        assert metric.name.endswith("_total") == (metric.kind == "counter"), metric.name
        assert (metric.kind == "histogram") == bool(metric.buckets), metric.name
        assert list(metric.buckets) == sorted(metric.buckets)
        assert metric.help.endswith(".") and "le" not in metric.labels


def test_fields_round_trip_and_junk_is_refused() -> None:
    sample = parse_field(metric_field("vigil_ingest_dropped_total", {"reason": "overload", "camera": "a"}))
    assert sample is not None and sample.labels == (("camera", "a"), ("reason", "overload"))
    hist = "vigil_recorder_segment_write_seconds"
    assert parse_field(metric_field(hist, part="+Inf")) is not None
    assert parse_field(metric_field(hist, part=str(CATALOG[hist].buckets[0]))) is not None
    assert parse_field(metric_field(hist, part="sum_us")) is not None
    for junk in ('vigil_ingest_frames_total{camera="a"}', "[]", '["vigil_ingest_frames_total"]',
                 metric_field("vigil_ingest_frames_total"),
                 metric_field("vigil_ingest_frames_total", {"camera": "a"}, 0),
                 metric_field(hist, part="99.5"), metric_field(hist, part="-1"), metric_field(hist),
                 '["vigil_ingest_frames_total",{"camera":1}]', '[1,{}]', "{", metric_field("vigil_nope_total")):
        assert parse_field(junk) is None, junk
    assert parse_field(json.dumps([hist, {}, 0])) is None  # a position is not a bound


def test_the_operations_guide_lists_exactly_the_catalog() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(vigil_[a-z0-9_]+)` \| (\w+) \|", section, re.M)
    assert {name: kind for name, kind in listed} == {m.name: m.kind for m in CATALOG.values()}


def test_the_grafana_dashboard_plots_only_catalog_metrics() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] == "Vigil" and doc["panels"]
    plotted = dashboard_metrics()
    assert plotted - set(CATALOG) == set()
    wanted = {"vigil_camera_fps", "vigil_ingest_dropped_total", "vigil_recording_lag_seconds",
              "vigil_recorder_segment_write_seconds", "vigil_recorder_bytes_total", "vigil_recorder_queue_jobs",
              "vigil_ingest_queue_frames", "vigil_detector_frame_seconds", "vigil_notifier_deliveries_total"}
    assert wanted <= plotted  # what issue 16 asks the dashboard to show
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in doc["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert all(t["refId"] and t["expr"] for t in panel["targets"])
