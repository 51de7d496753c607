"""The one SQL helper of the ingest: quoting an identifier.

Identifiers (a file header's column names, a mapping's new column names) cannot be bound as
parameters, so they are quoted here; every value, in every statement, is a bound ``$param``.
There is deliberately no literal-quoting helper.
"""
from __future__ import annotations


def qi(name: str) -> str:
    """Quote an SQL identifier (column names come from file headers)."""
    return '"' + str(name).replace('"', '""') + '"'

