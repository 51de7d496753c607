"""The errors of a load, each a one-line message the CLI prints without a traceback (exit 2).

A module of its own, imported by every other ingest module and importing none of them, so
that a low-level module (``geo``, ``files``) can raise them without importing the batch or the
runner that catch them.
"""
from __future__ import annotations


class IngestError(Exception):
    """A file or an invocation that cannot be loaded at all. ``str()`` is one line; the CLI
    prints it without a traceback and exits with code 2."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class InputFileError(IngestError):
    """The file is missing, unreadable or not a regular file."""


class EmptyFileError(InputFileError):
    """The file has no bytes, or no data row."""


class FormatError(IngestError):
    """The file is not in the expected format (CSV dialect, JSON, GeoJSON, GBFS ...)."""


class MissingColumnsError(FormatError):
    """Required columns are absent (renamed, wrong delimiter, wrong file)."""


class MappingError(IngestError):
    """A YAML mapping for the generic adapter is invalid."""


class WarehouseStateError(IngestError):
    """The warehouse lacks something this load depends on (e.g. no districts loaded yet)."""


class InvariantError(IngestError):
    """Internal accounting error: rows read != rows loaded + rows quarantined."""



class QuarantineShareError(IngestError):
    """Every row, or more than the allowed share, was quarantined: the load is refused."""



def first_line(exc: BaseException | str) -> str:
    """The first line of an error's text (a DuckDB or OS message can run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

