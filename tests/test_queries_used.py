"""Every named query in queries/ is run by the application's code (not only by tests or the
benchmarks), and every name the code runs is a literal: grepping a query file's name
(``"publish/week_heads"``) finds its callers."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = [ROOT / "app.py", *(p for folder in ("data", "callbacks", "layouts") for p in sorted((ROOT / folder).rglob("*.py")))]
BENCH = sorted((ROOT / "bench").rglob("*.py"))  # runs queries too: by literal names, but does not count as a use
# the functions that take a query name, and the position of the name among their arguments
LOADERS = {"run": 0, "stream": 0, "sql": 0, "access_class": 0, "create_table": 1, "contract": 0, "check": 1}
# the modules whose functions those are (``repository.run``, ``publish_sql.sql``, or imported by name)
OWNERS = {"repository", "publish_sql"}


def _code() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in CODE)


def test_every_query_file_is_used_by_code():
    text = _code()
    unused = []
    for path in sorted((ROOT / "queries").glob("*/*.sql")):
        folder, name = path.parent.name, path.stem
        if folder == "metrics":
            continue  # the registry loads every metric file
        literal = f"{folder}/{name}"
        if f'"{literal}"' not in text and f"'{literal}'" not in text:
            unused.append(literal)
    assert not unused, f"query files no application code runs by their literal name: {unused}"


def _literal(node) -> bool:
    """A string literal, or a literal dict of them picked by key ({"ops": "ops/x", ...}[db])."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict) and all(
        isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.value.values)


def _loader_calls(tree: ast.AST, imported: set[str]):
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in OWNERS:
            name = func.attr
        elif isinstance(func, ast.Name) and func.id in imported:
            name = func.id
        else:
            continue
        position = LOADERS.get(name)
        if position is not None and len(node.args) > position:
            yield node, node.args[position]


def test_query_names_are_literals():
    built = []
    for path in CODE + BENCH:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module in {f"data.{o}" for o in OWNERS} for alias in node.names}
        if path.stem in OWNERS:
            continue  # the loaders themselves pass the name on
        for call, name in _loader_calls(tree, imported & set(LOADERS)):
            if not _literal(name):
                built.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)[:100]}")
    assert not built, "query names built at run time (grep cannot find their callers):\n" + "\n".join(built)


def test_the_literal_check_sees_a_built_name():
    tree = ast.parse('from data.publish_sql import sql\nsql(f"publish/{name}")\nrepository.run("ops/" + q)\n'
                     'repository.run("ops/meta")')
    found = [ast.unparse(n) for _c, n in _loader_calls(tree, {"sql"}) if not _literal(n)]
    assert found == ["f'publish/{name}'", "'ops/' + q"]
