"""Input validation against allow-lists, and small lookups every page needs.

Callbacks and page layouts receive values from any HTTP client; everything they pass on to
the repository goes through these functions first (allow-lists from the registry and the
published districts, bounded lengths), and unknown values fall back to defaults.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd

from data import registry, repository, settings
from data.registry import Metric
from data.snapshot import DataUnavailable


def valid_metric(value, *, public_only: bool = False) -> Metric | None:
    """The metric with this id (public ones only for the public site), with the grains its
    snapshot publishes; None if unknown."""
    metric = registry.get(value) if isinstance(value, str) and len(value) <= 64 else None
    if metric is None or (public_only and not metric.public):
        return None
    return published(metric, "public" if public_only else "ops")


def valid_grain(value, metric: Metric | None = None, default: str = "day") -> str:
    """`value` if the metric has it, else the finest of its grains at or above `default`
    (a monthly metric asked for by day shows months), else its coarsest."""
    allowed = metric.grains if metric else registry.GRAINS
    if isinstance(value, str) and value in allowed:
        return value
    rank = registry.GRAINS.index
    coarser = [g for g in allowed if default in registry.GRAINS and rank(g) >= rank(default)]
    return coarser[0] if coarser else allowed[-1]


def published_metrics(db: str = "ops") -> dict[str, dict]:
    """metric id → how the snapshot publishes it: grains (none finer than its sources' data:
    monthly tonnage has no daily figures), source, cadence. Metrics without any published value
    are absent. Read back from the snapshot's metrics table, which the publisher wrote from
    ``data.publish.metrics_to_publish`` (that one decides from the warehouse; this one reads)."""
    frame = repository.run({"ops": "ops/published_metrics", "public": "public/published_metrics"}[db])
    return {row.metric_id: {"grains": tuple(g for g in str(row.grains or "").split(",") if g in registry.GRAINS),
                            "source": row.source, "cadence_text": row.cadence,
                            "cadence": timedelta(seconds=int(row.cadence_s))}
            for row in frame.itertuples()}


def _as_published(metric: Metric, how: dict | None) -> Metric:
    if not how or not how["grains"]:
        return metric
    return replace(metric, **how)


def published(metric: Metric, db: str = "ops") -> Metric:
    """`metric` as published in `db`: its grains, source and cadence there (unchanged when the
    snapshot publishes no value of it, or there is no snapshot yet)."""
    try:
        return _as_published(metric, published_metrics(db).get(metric.id))
    except DataUnavailable:
        return metric


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
    return repository.run({"ops": "ops/districts", "public": "public/districts"}[db])


def layer_of(district_id: str) -> str:
    """The boundary layer of a district id: 'A' for 'A:N1' (loaded with boundaries --layer A),
    '' for the base layer (ids without ':', the built-in whole city 'all' included)."""
    return district_id.split(":", 1)[0] if isinstance(district_id, str) and ":" in district_id else ""


def in_layers_of(frame: pd.DataFrame, district_ids) -> pd.DataFrame:
    """The districts (rows of `frame`) of the layers that `district_ids` (a metric's values) are
    in: a metric placed in neighbourhoods is drawn over neighbourhoods only, never under or
    beside the council districts of the same ground. No ids: the base layer."""
    layers = {layer_of(d) for d in district_ids if d != "city"} or {""}
    return frame[frame["district_id"].map(layer_of).isin(layers)]


def district_names(db: str = "ops") -> dict[str, str]:
    frame = districts(db)
    names = dict(zip(frame["district_id"], frame["name"], strict=False))
    names["city"] = "Whole city"
    return names


def table_times(db: str = "ops") -> dict[str, tuple[datetime | None, bool]]:
    """raw table → (newest data time, any of it simulated?). A table without data is absent."""
    frame = repository.run({"ops": "ops/table_times", "public": "public/table_times"}[db])
    out = {}
    for row in frame.itertuples():
        ts = row.data_time
        out[row.table_name] = (None if pd.isna(ts) else ts.to_pydatetime(), bool(row.simulated))
    return out


def available_metrics(db: str = "ops", *, public_only: bool = False, domain: str | None = None) -> list[Metric]:
    """Registry metrics whose raw table has data in this snapshot and that have published
    values, with their published grains: a metric a city has no source for (or whose source
    has nothing it counts, like missed-collection reports in a 311 sample without any) is
    hidden, never shown as zero."""
    times = table_times(db)
    how = published_metrics(db)
    return [_as_published(m, how[m.id]) for m in registry.metrics().values()
            if m.table in times and how.get(m.id, {}).get("grains") and (m.public or not public_only)
            and (domain is None or m.domain == domain)]
