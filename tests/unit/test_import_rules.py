"""The package map of docs/architecture.md, enforced: who may import whom, and no import cycle.

Every first-party module belongs to the longest prefix in RULES; a module may import (at any
level: top, function, TYPE_CHECKING) only first-party modules under the prefixes its rule
allows, besides its own unit. A new package needs a rule here (and a line in the map), so the
structure cannot drift without someone deciding it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "vigil_common": ROOT / "services/common/vigil_common",
    "vigil_capture": ROOT / "services/capture/vigil_capture",
    "vigil_ingest": ROOT / "services/ingest/vigil_ingest",
    "vigil_recorder": ROOT / "services/recorder/vigil_recorder",
    "vigil_api": ROOT / "services/api/vigil_api",
    "vigil_notifier": ROOT / "services/notifier/vigil_notifier",
    "vigil_detector": ROOT / "services/detector/vigil_detector",
    "vigil_ipcams": ROOT / "services/ipcams/vigil_ipcams",
    "vigil_bench": ROOT / "bench/vigil_bench",
}

C = "vigil_common"
C_INIT = f"{C}:init"  # the package's own __init__ only (``__version__``), not all of common
SERVER_COMMON = (f"{C}.contract", f"{C}.runtime", f"{C}.bus", f"{C}.db", f"{C}.motion", f"{C}.media", C_INIT)
R = "vigil_recorder"
RECORDER_BASE = (f"{R}.media", f"{R}.remux", f"{R}.storage", f"{R}.duties", f"{R}.context",
                 f"{R}.lasting_horse", f"{R}.metrics", f"{R}.progress")
RECORDER_FEATURE = (*SERVER_COMMON, *RECORDER_BASE, f"{R}.segment")

# unit (module prefix) -> the prefixes it may import besides itself (``pkg:init``: that
# package's ``__init__`` only).
# IP cameras: a library (search, ONVIF, records, sealing) the API's routes use too, and the
# service on it (the capture fleet), which nothing else imports.
IP = "vigil_ipcams"
IPCAMS_LIBRARY = (f"{IP}.probe", f"{IP}.onvif_device", f"{IP}.records", f"{IP}.secretbox", f"{IP}.streams")
RULES: dict[str, tuple[str, ...]] = {
    # common: contracts know nothing else; runtime builds on them; bus and db on both; cli on all.
    C: (),  # __init__: the map and __version__
    f"{C}.contract": (),
    f"{C}.runtime": (f"{C}.contract",),
    f"{C}.bus": (f"{C}.contract", f"{C}.runtime"),
    f"{C}.db": (f"{C}.contract", f"{C}.runtime"),
    f"{C}.motion": (),  # pure numpy: the detector the camera and the recorder share
    f"{C}.media": (f"{C}.contract",),  # PyAV: single frames decoded (server side only)
    f"{C}.cli": (C,),  # all of common
    # the camera: never the database, never the operator tooling (the Pi installs neither).
    "vigil_capture": (f"{C}.contract", f"{C}.runtime", f"{C}.bus", f"{C}.motion", C_INIT),
    # the server services: common's libraries, never another service, never the tooling.
    "vigil_ingest": SERVER_COMMON,
    "vigil_notifier": SERVER_COMMON,
    "vigil_detector": SERVER_COMMON,
    IP: (*SERVER_COMMON, *IPCAMS_LIBRARY),  # the library, and __init__ (its map)
    f"{IP}.fleet": (*SERVER_COMMON, *IPCAMS_LIBRARY),
    f"{IP}.discover_cli": (*SERVER_COMMON, *IPCAMS_LIBRARY),
    f"{IP}.service": (*SERVER_COMMON, *IPCAMS_LIBRARY, f"{IP}.fleet"),
    f"{IP}.main": (*SERVER_COMMON, f"{IP}.service", f"{IP}.secretbox"),
    "vigil_api": SERVER_COMMON,
    "vigil_api.routes": (*SERVER_COMMON, "vigil_api", *IPCAMS_LIBRARY),  # and never another route (below)
    "vigil_api.app": (*SERVER_COMMON, "vigil_api"),  # the one module that mounts the routes
    # the recorder: a base, the segment writer on it, features on both that never import each
    # other, and main, the composition root, on everything.
    R: (),  # the package's __init__ (its map) imports nothing
    f"{R}.media": (*SERVER_COMMON,),
    f"{R}.remux": (*SERVER_COMMON, f"{R}.media"),
    f"{R}.storage": (*SERVER_COMMON,),
    f"{R}.duties": (*SERVER_COMMON,),
    f"{R}.context": (*SERVER_COMMON,),
    f"{R}.lasting_horse": (),  # RQ only
    f"{R}.metrics": (*SERVER_COMMON,),
    f"{R}.progress": (*SERVER_COMMON,),
    f"{R}.segment": (*SERVER_COMMON, *RECORDER_BASE),
    f"{R}.jobs": (*SERVER_COMMON, *RECORDER_BASE, f"{R}.segment"),
    f"{R}.snapshots": RECORDER_FEATURE,
    f"{R}.motion": RECORDER_FEATURE,
    f"{R}.retention": RECORDER_FEATURE,
    f"{R}.reconcile": RECORDER_FEATURE,
    f"{R}.days": RECORDER_FEATURE,
    f"{R}.exports": RECORDER_FEATURE,
    f"{R}.homeassistant": RECORDER_FEATURE,
    f"{R}.main": (*SERVER_COMMON, R),  # all of the recorder
    # the benchmarks drive everything (and nothing imports them).
    "vigil_bench": tuple(SOURCES),
}


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg, root in SOURCES.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            if "migrations" in rel.parts:
                continue
            parts = [pkg, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def resolve(name: str) -> str | None:
    """The first-party module ``name`` refers to (a module, or a name inside a module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> Iterator[tuple[int, str]]:
    """(line, first-party module) for every import in ``module``, at any level."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] if base else []
        else:
            continue
        for name in names:
            target = resolve(name)
            if target is not None:
                yield node.lineno, target


def unit_of(module: str) -> str:
    best = None
    for unit in RULES:
        if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best)):
            best = unit
    assert best is not None, f"{module} has no rule in RULES: add one (and a line in docs/architecture.md)"
    return best


def within(module: str, prefix: str) -> bool:
    if prefix.endswith(":init"):
        return module == prefix.removesuffix(":init")
    return module == prefix or module.startswith(prefix + ".")


def test_every_module_has_a_rule() -> None:
    for module in MODULES:
        unit_of(module)


def test_every_import_follows_the_map() -> None:
    broken: list[str] = []
    for module in sorted(MODULES):
        unit = unit_of(module)
        allowed = (unit, *RULES[unit])
        for line, target in imports(module):
            if target == module:
                continue
            ok = any(within(target, p) for p in allowed)
            if not ok:
                broken.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {module} ({unit}) imports {target}")
    assert not broken, "imports outside the package map:\n" + "\n".join(broken)


def test_routes_never_import_each_other() -> None:
    routes = [m for m in MODULES if m.startswith("vigil_api.routes.")]
    broken = [f"{m} imports {t}" for m in routes for _, t in imports(m) if t.startswith("vigil_api.routes") and t != m]
    assert not broken, broken


def test_recorder_features_never_import_each_other() -> None:
    features = [u for u, allowed in RULES.items() if allowed is RECORDER_FEATURE]
    broken = [f"{m} imports {t}" for m in MODULES for f in features if within(m, f)
              for _, t in imports(m) if any(within(t, g) for g in features if g != f)]
    assert not broken, broken


def test_nothing_imports_the_benchmarks_or_the_tooling_from_a_service() -> None:
    for module in MODULES:
        if within(module, "vigil_bench") or within(module, f"{C}.cli"):
            continue
        for _, target in imports(module):
            assert not within(target, "vigil_bench"), f"{module} imports {target}"
            assert not within(target, f"{C}.cli"), f"{module} imports {target}"


def test_no_import_cycle() -> None:
    graph = {m: {t for _, t in imports(m) if t != m} for m in MODULES}
    # A package's __init__ re-exporting its own modules is not a cycle of the design: a module
    # importing a sibling through the package resolves to the sibling itself (see ``resolve``).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_rules_see_imports() -> None:
    """The checker itself: it finds a known edge, at function level too."""
    found = dict((t, line) for line, t in imports("vigil_recorder.main"))
    assert "vigil_recorder.duties" in found and "vigil_recorder.days" in found
    assert "vigil_common.contract.recorder_jobs" in {t for _, t in imports("vigil_api.routes.days")}


def test_only_the_app_mounts_the_routes() -> None:
    broken = [f"{m} imports {t}" for m in MODULES if within(m, "vigil_api") and not within(m, "vigil_api.routes")
              and m != "vigil_api.app" for _, t in imports(m) if within(t, "vigil_api.routes")]
    assert not broken, broken
