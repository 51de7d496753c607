"""The shape of the code (issue 18's measure): module sizes, the longest functions, the import
rules (no module imports a page module, no data module imports layouts or callbacks, no page's
callbacks import another page's), import cycles, and the count of noqa markers.

    python -m bench.structure [ROOT]     (default: this checkout)

tests/test_structure.py holds the import rules and the absence of cycles on every run. Imports
under ``if TYPE_CHECKING:`` are not counted (they never run); imports inside functions are.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

TOP = ("app.py", "layouts", "callbacks", "data", "queries")
PAGE_CALLBACKS = ("callbacks.ops.", "callbacks.public.")
NOQA = re.compile(r"#\s*noqa")


@dataclass
class Shape:
    sizes: dict[str, int] = field(default_factory=dict)          # module -> lines
    functions: list[tuple[int, str]] = field(default_factory=list)  # (lines, module.function)
    graph: dict[str, set[str]] = field(default_factory=dict)     # module -> project modules it imports
    pages: set[str] = field(default_factory=set)                 # modules that register a Dash page
    noqa: int = 0
    noqa_bench: int = 0

    def violations(self) -> list[str]:
        found = set()
        for module, deps in self.graph.items():
            for dep in deps:
                if dep in self.pages:
                    found.add(f"{module} imports page module {dep}")
                if module.startswith("data") and dep.startswith(("layouts", "callbacks")):
                    found.add(f"{module} (data) imports {dep}")
                if module.startswith(PAGE_CALLBACKS) and dep.startswith(PAGE_CALLBACKS):
                    found.add(f"{module} imports another page's callbacks {dep}")
        return sorted(found)

    def cycles(self) -> list[list[str]]:
        return cycles(self.graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def _files(root: Path) -> list[Path]:
    files = []
    for top in TOP:
        path = root / top
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [f for f in path.rglob("*.py") if "samples" not in f.parts]
    return files


def _module(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    for node in ast.walk(tree):  # imports for type checkers only never run: no edge
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    deps = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            deps.update(subs)
            if len(subs) < len(node.names):
                deps.add(node.module)
    return deps & modules


def measure(root: Path) -> Shape:
    root = Path(root).resolve()
    files = {_module(root, f): f for f in _files(root)}
    shape = Shape()
    for module, path in files.items():
        source = path.read_text(encoding="utf-8")
        shape.sizes[module] = source.count("\n")
        shape.noqa += len(NOQA.findall(source))
        if "dash.register_page(__name__" in source:
            shape.pages.add(module)
        tree = ast.parse(source)
        shape.functions += [(node.end_lineno - node.lineno + 1, f"{module}.{node.name}") for node in ast.walk(tree)
                            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        shape.graph[module] = _imports(tree, set(files)) - {module}
    bench = root / "bench"
    if bench.is_dir():
        shape.noqa_bench = sum(len(NOQA.findall(p.read_text(encoding="utf-8"))) for p in bench.rglob("*.py"))
    return shape


def main(argv: list[str]) -> None:
    root = Path(argv[0] if argv else Path(__file__).resolve().parent.parent)
    shape = measure(root)
    print("modules:", len(shape.sizes), "lines:", sum(shape.sizes.values()))
    print("biggest modules:")
    for module, lines in sorted(shape.sizes.items(), key=lambda x: -x[1])[:8]:
        print(f"  {lines:5d} {module}")
    print("longest functions:")
    for lines, name in sorted(shape.functions, reverse=True)[:8]:
        print(f"  {lines:4d} {name}")
    print("functions > 60 lines:", sum(1 for lines, _ in shape.functions if lines > 60))
    violations = shape.violations()
    print("import-rule violations:", len(violations))
    for v in violations:
        print("  ", v)
    cycles = shape.cycles()
    print("import cycles (SCCs > 1):", len(cycles))
    for c in cycles:
        print("  ", " <-> ".join(c))
    print("noqa markers: app/layouts/callbacks/data/queries", shape.noqa, "bench", shape.noqa_bench)


if __name__ == "__main__":
    main(sys.argv[1:])
