"""The statements of the build half (``queries/publish/``) and the contract of the snapshot tables.

Publish runs only statements from files, named by literal strings (``sql("publish/week_heads")``),
so grepping a file's name finds the code that runs it. A file that creates a snapshot table
declares that table and its columns in its header — the contract the pages read::

    -- table: snap.sources          (snap: the ops snapshot, pub: the public snapshot)
    -- columns: source_id, name, domain,
    --          simulated, licence   (a line ending in a comma continues on the next)

:func:`create_table` runs such a file and checks the table it made against the header: a
warehouse column added, dropped or renamed under a ``SELECT *`` stops the publish with a
:class:`ContractError` naming the file and the difference, instead of changing what the pages
read without anyone declaring it.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

QUERIES = Path(__file__).resolve().parent.parent / "queries"
_NAME = re.compile(r"^publish/[a-z0-9_]{1,60}$")
# the attach alias a header names -> the snapshot it is (see data.publish)
SNAPSHOTS = {"snap": "ops", "pub": "public"}
_TABLE = re.compile(r"^--\s*table:\s*(snap|pub)\.([a-z0-9_]+)\b", re.MULTILINE)
_COLUMNS_START = re.compile(r"^--\s*columns:(.*)$")


class ContractError(RuntimeError):
    """A snapshot table does not have the columns its query file declares."""


@functools.cache
def sql(name: str) -> str:
    """The text of queries/<name>.sql (a ``publish/`` name, written literally by its caller)."""
    if not _NAME.match(name):
        raise ValueError(f"invalid publish query name {name!r}")
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


@functools.cache
def contract(name: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(attach alias, table, columns) that the header of queries/<name>.sql declares, or None
    when the file creates no snapshot table."""
    text = sql(name)
    table = _TABLE.search(text)
    if table is None:
        return None
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _COLUMNS_START.match(line)), None)
    if start is None:
        raise ContractError(f"queries/{name}.sql: '-- table:' without a '-- columns:' line")
    listed = _COLUMNS_START.match(lines[start]).group(1)
    for line in lines[start + 1:]:  # continued while a line ends with a comma
        if not listed.rstrip().endswith(",") or not line.startswith("--"):
            break
        listed += " " + line[2:]
    columns = tuple(c.strip() for c in listed.split(",") if c.strip())
    return table.group(1), table.group(2), columns


def declared() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Every publish file that creates a snapshot table → its contract."""
    out = {}
    for path in sorted((QUERIES / "publish").glob("*.sql")):
        found = contract(f"publish/{path.stem}")
        if found is not None:
            out[f"publish/{path.stem}"] = found
    return out


def table_columns(con, alias: str, table: str) -> list[str]:
    """The columns of `alias`.`table` as the database has them, in order."""
    return [c for (c,) in con.execute(sql("publish/table_columns"), {"db": alias, "t": table}).fetchall()]


def check(con, name: str) -> None:
    """Raise ContractError when the table queries/<name>.sql declares differs from its header."""
    found = contract(name)
    if found is None:
        raise ContractError(f"queries/{name}.sql: no '-- table:' / '-- columns:' header")
    alias, table, columns = found
    actual = table_columns(con, alias, table)
    if actual == list(columns):
        return
    missing = [c for c in columns if c not in actual]
    extra = [c for c in actual if c not in columns]
    if missing or extra:
        difference = "; ".join(part for part in (
            f"declared but not made: {', '.join(missing)}" if missing else "",
            f"made but not declared: {', '.join(extra)}" if extra else "") if part)
    else:
        difference = f"columns in another order: made {', '.join(actual)}"
    raise ContractError(f"queries/{name}.sql: table {alias}.{table} does not match its header ({difference})")


def create_table(con, name: str, params: dict | None = None) -> None:
    """Run the CREATE TABLE statement of queries/<name>.sql and check its columns (module docstring)."""
    if contract(name) is None:
        raise ContractError(f"queries/{name}.sql: no '-- table:' / '-- columns:' header")
    con.execute(sql(name), params or {})
    check(con, name)
