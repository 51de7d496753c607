"""The whole NYC open-data pack: ``python -m data.ingest nyc DIR``.

Loads the boundaries first (``community_districts.geojson`` of the pack — the project's
simplified file with ``district_id``, or the published one with ``BoroCD`` — else
``data/boundaries/community_districts.geojson``), then the population, the precinct map and
the violation codes, then every fact file the pack holds, each with its adapter. A file that
fails is reported (status failed, its batch marked failed) and the others still load. Files
with no adapter (data dictionaries, pedestrian counts, borough and council polygons) are listed
as skipped.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

from data import settings
from data.ingest import boundaries, gbfs
from data.ingest.errors import IngestError, InputFileError
from data.ingest.progress import Progress
from data.ingest.registry import load
from data.ingest.runner import DEFAULT_TZ, LoadResult

REPO_BOUNDARIES = settings.ROOT / "data" / "boundaries" / "community_districts.geojson"

# (pattern, adapter, options) in load order
PLAN: list[tuple[str, str, dict]] = [
    ("nyc_cdta_demographics_acs*.csv", "population", {}),
    ("police_precincts*.geojson", "precincts", {"key": "Precinct"}),
    ("dof_parking_violation_codes*.csv", "parking-codes", {}),
    ("parking_violations*.csv", "parking", {}),
    ("dsny_monthly_tonnage*.csv", "dsny", {}),
    ("mta_daily_ridership_2*.csv", "mta", {}),
    ("traffic_volume_counts*.csv", "traffic", {}),
    ("citibike_trips*.csv", "citibike", {}),
    ("*station_information*.json", "gbfs", {"nyc": True}),
    ("*station_status*.json", "gbfs", {"nyc": True}),
    ("nyc311*.csv", "nyc311", {}),
    ("pedestrian_counts*.csv", "pedestrians", {}),
]
NOT_LOADED = {
    "mta_daily_ridership_dictionary.csv": "data dictionary (documentation)",
    "boroughs.geojson": "borough polygons: not needed (districts carry their borough)",
    "city_council.geojson": "council districts: not a CityOps district layer",
}


def _boundary_key(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as fh:
        head = fh.read(1 << 16)
    return "district_id" if '"district_id"' in head else "BoroCD"


def load_pack(con, directory: Path | str, *, force: bool = False, progress: Progress | None = None,
              tz: str = DEFAULT_TZ) -> list[LoadResult]:


    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(f"not a directory: {directory} (the nyc adapter takes the pack folder)")
    results: list[LoadResult] = []

    def attempt(adapter: str, path: Path, **options) -> None:
        try:
            results.extend(load(con, adapter, path, force=force, progress=progress, tz=tz, **options))
        except IngestError as exc:
            results.append(LoadResult(adapter=adapter, source_id="", file=str(path), status="failed",
                                      message=str(exc)))

    cd = directory / "community_districts.geojson"
    if not cd.exists():
        cd = REPO_BOUNDARIES
    attempt("boundaries", cd, key=_boundary_key(cd), nyc=True, source=boundaries.NYC_BOUNDARY_SOURCE,
            tolerance_m=30.0)
    used = {cd.name}
    for pattern, adapter, options in PLAN:
        for path in sorted(directory.glob(pattern)):
            if path.name in used or path.name in NOT_LOADED:
                continue
            used.add(path.name)
            opts = dict(options)
            if opts.pop("nyc", False):
                opts["source"] = gbfs.NYC_SOURCE
            attempt(adapter, path, **opts)
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name not in used and not path.name.lower().endswith((".md", ".py", ".txt")):
            why = NOT_LOADED.get(path.name, "no adapter for this file")
            results.append(LoadResult(adapter="-", source_id="", file=str(path), status="skipped", message=why))
    return results


def matches(name: str) -> str | None:
    for pattern, adapter, _ in PLAN:
        if fnmatch.fnmatch(name, pattern):
            return adapter
    return None


__all__ = ["load_pack", "PLAN", "NOT_LOADED", "matches"]
