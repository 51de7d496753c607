"""The adapters by name, and loading one file with one of them (:func:`load`).

An :class:`Adapter` names a source format, the :class:`~data.ingest.source.Source` it registers
and its ``load(batch)``; :func:`load` picks the adapter's options (the generic adapter's
mapping, the parking adapter's code and precinct files) and runs the file through
:func:`~data.ingest.runner.run_file`. The NYC pack, which loads many files with these
adapters, is :mod:`data.ingest.nyc` (``data.ingest.load(con, "nyc", DIR)``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from data.ingest import boundaries, citibike, dsny, gbfs, generic, mta, nyc311, open311, parking, pedestrians, population, traffic
from data.ingest.batch import Batch
from data.ingest.errors import IngestError, MappingError
from data.ingest.progress import Progress
from data.ingest.runner import DEFAULT_TZ, LoadResult, run_file
from data.ingest.source import Source


@dataclass(frozen=True)
class Adapter:
    """A source format: its name on the command line, the source it registers and its loader.
    ``replace_same_path=False`` for feeds re-fetched to one path (each snapshot adds rows)."""
    name: str
    help: str
    source: Source
    load: Callable[[Batch], None]
    replace_same_path: bool = True


def _boundaries(batch: Batch) -> None:
    o = batch.options
    boundaries.load_boundaries(
        batch, key=o.get("key") or "district_id", name_property=o.get("name_property"),
        borough_property=o.get("borough_property"), population_property=o.get("population_property"),
        joint_property=o.get("joint_property"), tolerance_m=float(o.get("tolerance_m", 30.0)), crs=o.get("crs"),
        namer=boundaries.nyc_namer if o.get("nyc") else None, dissolve=bool(o.get("dissolve")),
        layer=o.get("layer"))


def _grid(batch: Batch) -> None:
    o = batch.options
    boundaries.load_grid(batch, shape=o.get("shape") or "hex", cell_km=float(o.get("cell_km") or 1.0),
                         lon=o.get("lon"), lat=o.get("lat"), point=o.get("point"),
                         point_format=o.get("point_format") or "lat,lon")


def _precincts(batch: Batch) -> None:
    boundaries.load_precincts(batch, key=batch.options.get("key") or "Precinct", crs=batch.options.get("crs"))


ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    Adapter("boundaries", "district polygons from a GeoJSON (key property) -> districts", boundaries.BOUNDARY_SOURCE,
            _boundaries),
    Adapter("grid", "generated districts (square or hex cells, or one whole-city district) over the extent of "
            "a CSV of points or a GeoJSON outline -> districts", boundaries.GRID_SOURCE, _grid),
    Adapter("population", "population by district (NYC ACS CDTA table or any CSV) -> districts.population",
            population.SOURCE, population.load),
    Adapter("precincts", "police precinct polygons -> precinct_districts (for parking)",
            boundaries.NYC_PRECINCT_SOURCE, _precincts),
    Adapter("dsny", "DSNY monthly tonnage -> waste_tonnage", dsny.SOURCE, dsny.load),
    Adapter("citibike", "bike-share trip CSVs (Citi Bike format) -> bike_trips", citibike.SOURCE, citibike.load),
    Adapter("gbfs", "GBFS station_information / station_status -> bike_stations, bike_station_status",
            gbfs.SOURCE, gbfs.load, replace_same_path=False),
    Adapter("mta", "MTA daily ridership (citywide) -> transit_ridership_city", mta.SOURCE, mta.load),
    Adapter("traffic", "NYC DOT traffic volume counts -> traffic_counts_borough (or traffic_counts with --segments)",
            traffic.SOURCE, traffic.load),
    Adapter("pedestrians", "NYC DOT bi-annual pedestrian counts (wide, WKT points) -> pedestrian_counts",
            pedestrians.SOURCE, pedestrians.load),
    Adapter("nyc311", "NYC 311 requests, classic or API export -> service_requests", nyc311.SOURCE, nyc311.load),
    Adapter("parking-codes", "DOF parking violation codes and fines -> parking_violation_codes",
            parking.CODES_SOURCE, parking.load_codes),
    Adapter("parking", "DOF parking violations -> parking_citations", parking.SOURCE, parking.load),
    Adapter("open311", "Open311 GeoReport v2 requests.json -> service_requests", open311.SOURCE, open311.load,
            replace_same_path=False),
    Adapter("generic", "any CSV with a YAML mapping (--mapping) -> the mapped fact table",
            Source("generic", "(from the mapping)", "geography", "-", "-"), generic.load),
)}

SOURCE_OVERRIDES = ("source_id", "source_name", "licence", "description")


def source_for(adapter: Adapter, options: dict) -> Source:
    """The source a load registers: the mapping's (generic), else the adapter's, with the CLI's
    ``--source-*`` overrides."""
    if adapter.name == "generic":
        base = options["mapping"].source
    else:
        base = options.get("source") or adapter.source
    return base.with_overrides(source_id=options.get("source_id"), name=options.get("source_name"),
                               licence=options.get("licence"), description=options.get("description"))


def load(con: duckdb.DuckDBPyConnection, adapter: str, path: Path | str, *, force: bool = False,
         progress: Progress | None = None, tz: str = DEFAULT_TZ, **options) -> list[LoadResult]:
    """Load one file with the named adapter (plus the files it depends on when given as
    options: ``codes``/``precincts`` for parking). Returns one LoadResult per file. (The NYC
    pack is not one adapter: ``data.ingest.load`` sends ``nyc`` to :mod:`data.ingest.nyc`.)"""
    if adapter == "csv":
        adapter = "generic"
    if adapter not in ADAPTERS:
        raise IngestError(f"unknown adapter {adapter!r}: choose from {', '.join(sorted(ADAPTERS) + ['nyc'])}")
    results: list[LoadResult] = []
    if adapter == "parking":
        if options.get("precincts"):
            results += load(con, "precincts", options["precincts"], force=force, progress=progress, tz=tz,
                            source=options.get("precincts_source"))
        if options.get("codes"):
            results += load(con, "parking-codes", options["codes"], force=force, progress=progress, tz=tz)
    if adapter == "generic":
        mapping = options.get("mapping")
        if mapping is None:
            raise MappingError("the generic adapter needs --mapping FILE.yaml")
        if not isinstance(mapping, generic.Mapping):
            options["mapping"] = generic.Mapping.load(mapping)
    spec = ADAPTERS[adapter]
    source = source_for(spec, options)
    key = options_key(adapter, options)
    if adapter == "generic" and options["mapping"].uses_filename:   # the name holds the poll time: data
        key = hashlib.sha256(f"{key}:{Path(path).name}".encode()).hexdigest()[:16]
    results.append(run_file(con, adapter, source, Path(path), spec.load, force=force,
                            replace_same_path=spec.replace_same_path, progress=progress, tz=tz, options=options,
                            options_key=key))
    return results


def options_key(adapter: str, options: dict) -> str:
    """Short hash of what, besides the file's bytes, decides the rows loaded: the adapter,
    its options (the YAML mapping's content, the segment map's bytes ...)."""
    def value(v):
        if isinstance(v, generic.Mapping):
            return v.doc
        if isinstance(v, Source):
            return v.source_id
        if isinstance(v, Path) and v.is_file():
            return hashlib.sha256(v.read_bytes()).hexdigest()
        return str(v)

    items = {k: value(v) for k, v in sorted(options.items()) if v not in (None, False)
             and k not in ("codes", "precincts")}   # those are loaded as their own files
    if adapter == "generic" or items:
        text = json.dumps([adapter, items], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    return ""


def order_paths(adapter: str, paths: list[Path]) -> list[Path]:
    """GBFS: station_information before station_status."""
    if adapter != "gbfs":
        return paths
    rank = {"information": 0, "status": 1}
    return sorted(paths, key=lambda p: rank.get(gbfs.feed_kind(p), 2))
