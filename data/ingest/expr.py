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

from data.ingest.errors import MappingError
from data.ingest.sql import qi

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


class _Parser:
    """A recursive-descent parser over the tokens of one expression, writing SQL as it reads
    (expr := term (+|- term)*; term := factor (*|/ factor)*; factor := -factor | number |
    column | function(args) | (expr))."""

    def __init__(self, text: str, where: str, bind: Callable[[float], str], column_sql: Callable[[str], str],
                 columns: list[str] | None):
        self.text, self.where, self.bind, self.column_sql, self.columns = text, where, bind, column_sql, columns
        self.toks = _tokens(text, where)
        self.pos = 0
        self.used: list[str] = []

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else ("end", "", len(self.text))

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise MappingError(f"{self.where}: expected {value!r} at position {tok[2] + 1} of {self.text!r}")
        self.pos += 1
        return tok

    def column(self, name: str, at: int) -> str:
        if self.columns is not None and name not in self.columns:
            raise MappingError(f"{self.where}: column {name!r} (position {at + 1}) is not in the file")
        if name not in self.used:
            self.used.append(name)
        return f"TRY_CAST({self.column_sql(name)} AS DOUBLE)"

    def number(self, value: str) -> str:
        number = float(value)
        if not math.isfinite(number):
            raise MappingError(f"{self.where}: number {value!r} is not finite")
        return f"CAST({self.bind(number)} AS DOUBLE)"

    def call(self, name: str) -> str:
        """A function call after its name: ``(`` args ``)``, checked against FUNCS."""
        if name.lower() not in FUNCS:
            raise MappingError(f"{self.where}: unknown function {name!r}; allowed: {', '.join(FUNCS)}")
        self.take("(")
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        lo, hi = FUNCS[name.lower()]
        if not lo <= len(args) <= hi:
            raise MappingError(f"{self.where}: {name}() takes {lo}..{hi} arguments, got {len(args)}")
        if name.lower() == "round" and len(args) == 2:
            args[1] = f"CAST({args[1]} AS INTEGER)"
        return f"{name.lower()}({', '.join(args)})"

    def factor(self) -> str:
        kind, value, at = self.peek()
        if value == "-":
            self.take()
            return f"(- {self.factor()})"
        if kind == "num":
            self.take()
            return self.number(value)
        if kind == "col":
            self.take()
            return self.column(value, at)
        if kind == "name":
            self.take()
            return self.call(value) if self.peek()[1] == "(" else self.column(value, at)
        if value == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return f"({inner})"
        raise MappingError(f"{self.where}: expected a number, a column or '(' at position {at + 1} of {self.text!r}")

    def term(self) -> str:
        out = self.factor()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            out = f"({out} {op} {self.factor()})"
        return out

    def expr(self) -> str:
        out = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            out = f"({out} {op} {self.term()})"
        return out


def compile_expr(text, where: str, bind: Callable[[float], str], column_sql: Callable[[str], str],
                 columns: list[str] | None = None) -> Compiled:
    """Compile ``text``; ``where`` names the mapping field in errors; ``bind(number)`` gives a
    parameter placeholder; ``column_sql(name)`` the cleaned text of a column; ``columns``
    (the header, when known) is checked."""
    if not isinstance(text, str) or not text.strip():
        raise MappingError(f"{where}: expr must be a non-empty text such as \"100 - fill_remaining\"")
    parser = _Parser(text, where, bind, column_sql, columns)
    sql = parser.expr()
    if parser.pos != len(parser.toks):
        kind, value, at = parser.peek()
        raise MappingError(f"{where}: unexpected {value!r} at position {at + 1} of {text!r}")
    used = parser.used
    if not used:
        raise MappingError(f"{where}: expr uses no column (a constant is {{value: ...}})")
    return Compiled(f"(CASE WHEN isfinite({sql}) THEN {sql} END)", used)


def any_present(columns: list[str], column_sql: Callable[[str], str]) -> str:
    """SQL that is non-NULL when any of the columns has a value (for 'bad number' detection)."""
    return "coalesce(" + ", ".join(column_sql(c) for c in columns) + ", NULL)" if len(columns) > 1 \
        else column_sql(columns[0])


__all__ = ["compile_expr", "Compiled", "any_present", "qi"]
