"""Input validation against allow-lists, and small lookups every page needs.

Callbacks and page layouts receive values from any HTTP client; everything they pass on to
the repository goes through these functions first (allow-lists from the registry and the
published districts, bounded lengths), and unknown values fall back to defaults.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from data import registry, repository, settings
from data.registry import Metric


def valid_metric(value, *, public_only: bool = False) -> Metric | None:
    metric = registry.get(value) if isinstance(value, str) and len(value) <= 64 else None
    if metric is None or (public_only and not metric.public):
        return None
    return metric


def valid_grain(value, metric: Metric | None = None, default: str = "day") -> str:
    allowed = metric.grains if metric else registry.GRAINS
    if isinstance(value, str) and value in allowed:
        return value
    return default if default in allowed else allowed[-1]


def valid_districts(values, known, limit: int = 12) -> list[str]:
    """Keep only known district ids (and 'city'), at most `limit`, order kept, no repeats."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return []
    out: list[str] = []
    for value in values[:1000]:
        if isinstance(value, str) and (value in known or value == "city") and value not in out:
            out.append(value)
        if len(out) >= limit:
            break
    return out


def db_for_mode() -> str:
    return "public" if settings.mode() == "public" else "ops"


def districts(db: str = "ops") -> pd.DataFrame:
    return repository.run(f"{db}/districts")


def district_names(db: str = "ops") -> dict[str, str]:
    frame = districts(db)
    names = dict(zip(frame["district_id"], frame["name"]))
    names["city"] = "Whole city"
    return names


def table_times(db: str = "ops") -> dict[str, tuple[datetime | None, bool]]:
    """raw table → (newest data time, any of it simulated?). A table without data is absent."""
    frame = repository.run(f"{db}/table_times")
    out = {}
    for row in frame.itertuples():
        ts = row.data_time
        out[row.table_name] = (None if pd.isna(ts) else ts.to_pydatetime(), bool(row.simulated))
    return out


def available_metrics(db: str = "ops", *, public_only: bool = False, domain: str | None = None) -> list[Metric]:
    """Registry metrics whose raw table has data in this snapshot: a metric a city has no source
    for is hidden, never shown as zero."""
    times = table_times(db)
    return [m for m in registry.metrics().values()
            if m.table in times and (m.public or not public_only) and (domain is None or m.domain == domain)]
