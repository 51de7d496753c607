"""Per-row arithmetic of a YAML mapping (``expr: "100 - fill_remaining"``), compiled to a DuckDB
expression from a small validated grammar — never SQL text from the mapping.

Grammar::

    expr    := term (("+" | "-") term)*
    term    := factor (("*" | "/") factor)*
    factor  := "-" factor | NUMBER | COLUMN | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    COLUMN  := a bare name (letters, digits, _) or any CSV header in [brackets]
    FUNC    := abs | round | least | greatest | coalesce

Every column reference becomes ``TRY_CAST(nullif(trim("col"), '') AS DOUBLE)`` of the quoted
identifier (after the field's decimal / thousands cleaning), every number a bound parameter
(``bind`` returns its placeholder). A result that is not finite (``a / 0``) is NULL, which the
stage reports as ``bad number: <expr>``. Anything else in the text — quotes, semicolons, other
names or functions — is a :class:`MappingError` naming the field and the position.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from data.ingest.core import MappingError, qi, ql

FUNCS = {"abs": (1, 1), "round": (1, 2), "least": (2, 8), "greatest": (2, 8), "coalesce": (2, 8)}
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<col>[^\[\]]+)\]|(?P<op>[-+*/(),]))")


@dataclass
class Compiled:
    sql: str            # the DuckDB expression (DOUBLE), placeholders for the literals
    columns: list[str]  # the CSV columns it reads


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise MappingError(f"{where}: cannot read {text[pos:].strip()[:20]!r} at position {pos + 1} "
                               "(numbers, column names, [Column Name], + - * / ( ) and abs/round/least/"
                               "greatest/coalesce only)")
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def compile_expr(text, where: str, bind: Callable[[float], str], column_sql: Callable[[str], str],  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
                 columns: list[str] | None = None) -> Compiled:
    """Compile ``text``; ``where`` names the mapping field in errors; ``bind(number)`` gives a
    parameter placeholder; ``column_sql(name)`` the cleaned text of a column; ``columns``
    (the header, when known) is checked."""
    if not isinstance(text, str) or not text.strip():
        raise MappingError(f"{where}: expr must be a non-empty text such as \"100 - fill_remaining\"")
    toks = _tokens(text, where)
    pos = 0
    used: list[str] = []

    def peek():
        return toks[pos] if pos < len(toks) else ("end", "", len(text))

    def take(value=None):
        nonlocal pos
        tok = peek()
        if value is not None and tok[1] != value:
            raise MappingError(f"{where}: expected {value!r} at position {tok[2] + 1} of {text!r}")
        pos += 1
        return tok

    def column(name: str, at: int) -> str:
        if columns is not None and name not in columns:
            raise MappingError(f"{where}: column {name!r} (position {at + 1}) is not in the file")
        if name not in used:
            used.append(name)
        return f"TRY_CAST({column_sql(name)} AS DOUBLE)"

    def factor() -> str:
        kind, value, at = peek()
        if value == "-":
            take()
            return f"(- {factor()})"
        if kind == "num":
            take()
            number = float(value)
            if not math.isfinite(number):
                raise MappingError(f"{where}: number {value!r} is not finite")
            return f"CAST({bind(number)} AS DOUBLE)"
        if kind == "col":
            take()
            return column(value, at)
        if kind == "name":
            take()
            if peek()[1] == "(":
                if value.lower() not in FUNCS:
                    raise MappingError(f"{where}: unknown function {value!r}; allowed: {', '.join(FUNCS)}")
                take("(")
                args = [expr()]
                while peek()[1] == ",":
                    take()
                    args.append(expr())
                take(")")
                lo, hi = FUNCS[value.lower()]
                if not lo <= len(args) <= hi:
                    raise MappingError(f"{where}: {value}() takes {lo}..{hi} arguments, got {len(args)}")
                if value.lower() == "round" and len(args) == 2:
                    args[1] = f"CAST({args[1]} AS INTEGER)"
                return f"{value.lower()}({', '.join(args)})"
            return column(value, at)
        if value == "(":
            take()
            inner = expr()
            take(")")
            return f"({inner})"
        raise MappingError(f"{where}: expected a number, a column or '(' at position {at + 1} of {text!r}")

    def term() -> str:
        out = factor()
        while peek()[1] in ("*", "/"):
            op = take()[1]
            out = f"({out} {op} {factor()})"
        return out

    def expr() -> str:
        out = term()
        while peek()[1] in ("+", "-"):
            op = take()[1]
            out = f"({out} {op} {term()})"
        return out

    sql = expr()
    if pos != len(toks):
        kind, value, at = peek()
        raise MappingError(f"{where}: unexpected {value!r} at position {at + 1} of {text!r}")
    if not used:
        raise MappingError(f"{where}: expr uses no column (a constant is {{value: ...}})")
    return Compiled(f"(CASE WHEN isfinite({sql}) THEN {sql} END)", used)


def any_present(columns: list[str], column_sql: Callable[[str], str]) -> str:
    """SQL that is non-NULL when any of the columns has a value (for 'bad number' detection)."""
    return "coalesce(" + ", ".join(column_sql(c) for c in columns) + ", NULL)" if len(columns) > 1 \
        else column_sql(columns[0])


__all__ = ["compile_expr", "Compiled", "any_present", "qi", "ql"]
