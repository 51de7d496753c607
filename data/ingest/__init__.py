"""Ingest: one adapter per source format → validated rows in the warehouse, bad rows in
``quarantine``. Command line: ``python -m data.ingest <adapter> <path> [options]`` (see
``data/ingest/README.md``); from Python::

    from data import warehouse
    from data.ingest import load
    con = warehouse.connect()
    results = load(con, "dsny", "data/samples/nyc/dsny_monthly_tonnage_1990_2025.csv")

Each file is one load batch in one transaction; loading the same bytes again changes
nothing; a file that cannot be loaded raises an :class:`IngestError` (one-line message)
after rolling back and marking its batch failed.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from data.ingest import nyc, registry
from data.ingest.errors import (
    EmptyFileError,
    FormatError,
    IngestError,
    InputFileError,
    MappingError,
    MissingColumnsError,
    QuarantineShareError,
    WarehouseStateError,
)
from data.ingest.progress import Progress
from data.ingest.registry import ADAPTERS, Adapter
from data.ingest.runner import DEFAULT_TZ, LoadResult

__all__ = ["ADAPTERS", "Adapter", "load", "IngestError", "InputFileError", "EmptyFileError", "FormatError",
           "MissingColumnsError", "MappingError", "WarehouseStateError", "QuarantineShareError", "LoadResult",
           "Progress"]


def load(con: duckdb.DuckDBPyConnection, adapter: str, path: Path | str, *, force: bool = False,
         progress: Progress | None = None, tz: str = DEFAULT_TZ, **options) -> list[LoadResult]:
    """Load one file with the named adapter (see :func:`data.ingest.registry.load`), or with
    ``nyc`` the whole NYC pack in a folder. Returns one LoadResult per file."""
    if adapter == "nyc":
        return nyc.load_pack(con, path, force=force, progress=progress, tz=tz)
    return registry.load(con, adapter, path, force=force, progress=progress, tz=tz, **options)
