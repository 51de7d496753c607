"""The modules of ``data.ingest`` import each other without a cycle (issue 18).

A cycle hides which module is the lower one: a split module that imports back its importer
works only through a function-level import placed just so, and a new import at the top of
either breaks at start-up. The graph is read from the source (ast), every ``import`` at any
depth (one inside a function counts: it is the same dependency, only deferred), so the test
fails on a cycle before anything imports it.
"""
from __future__ import annotations

import ast
from pathlib import Path

from bench.structure import cycles

PACKAGE = "data.ingest"
ROOT = Path(__file__).resolve().parent.parent / "data" / "ingest"


def module_name(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports. ``from data.ingest import x`` is an
    edge to the submodule ``x`` when there is one, else to the package (its ``__init__``)."""
    modules = {module_name(p) for p in root.glob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for path in root.glob("*.py"):
        here = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            graph[here].update(t for t in targets if t in modules and t != here)
    return graph


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"data.ingest", "data.ingest.batch", "data.ingest.errors", "data.ingest.nyc"} <= set(graph)
    assert "data.ingest.errors" in graph["data.ingest.batch"]   # an edge the split relies on


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_data_ingest():
    assert cycles(import_graph()) == []


def test_errors_import_no_other_ingest_module():
    """The errors are the bottom of the package: anything may raise them."""
    assert import_graph()["data.ingest.errors"] == set()
