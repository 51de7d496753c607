"""Every named query in queries/ is run by the application's code (not only by tests), and
every name the code runs is a literal: grepping a query file's name finds its callers."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = [p for folder in ("app.py", "data", "callbacks", "layouts", "bench") for p in
        ([ROOT / folder] if folder.endswith(".py") else (ROOT / folder).rglob("*.py"))]


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
        if f'"{literal}"' not in text and f"'{literal}'" not in text and f"/ \"{name}.sql\"" not in text \
                and f'"{name}.sql"' not in text and f'"{name}"' not in text:
            unused.append(literal)
    assert not unused, f"query files no code runs: {unused}"


def test_query_names_are_literals():
    built = re.findall(r"repository\.(?:run|stream)\(\s*f[\"']", _code())
    assert not built, "query names built at run time (grep cannot find their callers)"
