"""The packages import one way, and no module imports itself back through others.

    {ingest.cli, ingest.ui} → ingest.demo → ingest.run → ingest.discover → {ingest.fetch, ingest.extract}
      → {ingest.config, ingest.siteserver} → transforms

A module may import its own package and anything in a lower tier; fetch and extract never
import each other; transforms never imports ingest. Every import counts, including the ones
inside functions and under TYPE_CHECKING: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import ROOT

TIERS: tuple[tuple[str, ...], ...] = (
    ("ingest.cli", "ingest.ui"),
    ("ingest.demo",),
    ("ingest.run",),
    ("ingest.discover",),
    ("ingest.fetch", "ingest.extract"),
    ("ingest.config", "ingest.siteserver", "ingest.logs"),
    ("transforms",),
)
PACKAGES = ("ingest", "transforms")


def module_sources(root: Path = ROOT) -> dict[str, str]:
    """Every module of the project's packages by dotted name, with its source."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path.read_text(encoding="utf-8")
    return found


def import_graph(sources: Mapping[str, str]) -> dict[str, set[str]]:
    """module -> the project modules it imports (a `from package import name` imports the
    package, and the module `package.name` when there is one)."""
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets.add(node.module)
                targets |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[module] = {t for t in targets if t in sources and t != module}
    return graph


def tier(module: str) -> tuple[int, str]:
    """(tier index, unit) of a module: the longest unit in TIERS it belongs to."""
    matches = [
        (len(unit), index, unit)
        for index, units in enumerate(TIERS)
        for unit in units
        if module == unit or module.startswith(unit + ".")
    ]
    if not matches:
        raise AssertionError(f"{module} belongs to no tier: add it to TIERS")
    _, index, unit = max(matches)
    return index, unit


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Imports that point upward or sideways, as 'importer -> imported' lines."""
    found = []
    for module, targets in sorted(graph.items()):
        if module in PACKAGES:
            continue
        own, unit = tier(module)
        for target in sorted(targets):
            if target in PACKAGES:
                continue
            other, other_unit = tier(target)
            if other_unit != unit and other <= own:
                found.append(f"{module} -> {target}")
    return found


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles: strongly connected sets of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_point_one_way() -> None:
    assert violations(import_graph(module_sources())) == []


def test_no_import_circles() -> None:
    assert cycles(import_graph(module_sources())) == []


def test_the_check_finds_an_upward_import_a_sideways_one_and_a_circle() -> None:
    sources = module_sources()
    sources["ingest.fetch.http"] += "\nfrom ingest.extract.page import extract_page\n"
    # (in a module the ingest side does not reach, so the circle below stays on its own)
    sources["transforms.report"] += "\ndef f():\n    import ingest.run.stages\n"
    sources["ingest.fetch.body"] += "\nfrom ingest.fetch import http\n"  # http imports body
    graph = import_graph(sources)
    assert violations(graph) == [
        "ingest.fetch.http -> ingest.extract.page",
        "transforms.report -> ingest.run.stages",
    ]
    assert ["ingest.fetch.body", "ingest.fetch.http"] in cycles(graph)


def test_every_module_belongs_to_a_tier() -> None:
    for module in module_sources():
        if module not in PACKAGES:
            tier(module)
