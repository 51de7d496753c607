"""GeoJSON polygon layers: district boundaries (→ ``districts``) and police precincts
(→ ``precinct_districts``, used by the parking adapter).

``boundaries``: any FeatureCollection of polygons, given the property holding the district
key. Area is computed from the full-resolution geometry in the local UTM zone; the outlines
are then simplified *as a coverage* (shared borders simplified once: no slivers, no gaps) with
a tolerance in metres (default 30 m), projected to lon/lat and rounded to 5 decimals (~1 m).
Properties ``name``, ``borough``, ``population`` and ``is_joint_area`` are used when present
(or name others with the options). Districts are upserted by id: a reload updates names and outlines, keeps a population set by
the population adapter unless the file has one. Features without a key, without a polygon,
or repeating a key are quarantined (line_no = the feature's position, 1-based).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from data.ingest.core import Batch, EmptyFileError, FormatError, MappingError, Source, read_json
from data.ingest import geo

GRID_DEG = 1e-5


def read_geojson(path: Path) -> tuple[list[dict], object]:
    """(features, crs or None) of a GeoJSON FeatureCollection, with clear errors."""
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise FormatError("not a GeoJSON FeatureCollection")
    if not doc["features"]:
        raise EmptyFileError("the FeatureCollection has no features")
    crs = None
    name = ((doc.get("crs") or {}).get("properties") or {}).get("name") if isinstance(doc.get("crs"), dict) else None
    if name:
        crs = geo.parse_crs(name.replace("urn:ogc:def:crs:OGC:1.3:CRS84", "OGC:CRS84"))
    return doc["features"], crs


def _key_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _polygons(features: list[dict], key: str, batch: Batch, crs_override=None):
    """Validate features → (GeoDataFrame of good ones with key/props/line, crs)."""
    keys, props, geoms, lines = [], [], [], []
    bad = []
    seen: set[str] = set()
    for i, feat in enumerate(features, start=1):
        p = (feat.get("properties") or {}) if isinstance(feat, dict) else {}
        p = p if isinstance(p, dict) else {}
        g = feat.get("geometry") if isinstance(feat, dict) else None
        raw = json.dumps({"properties": p, "geometry_type": (g or {}).get("type") if isinstance(g, dict) else None},
                         ensure_ascii=False, default=str)
        k = _key_text(p.get(key))
        if k is None:
            bad.append((i, f"missing key property: {key}", raw))
            continue
        if not g:
            bad.append((i, "missing geometry", raw))
            continue
        try:
            shape = shapely.geometry.shape(g)
        except Exception:  # noqa: BLE001 - malformed coordinates
            bad.append((i, "bad geometry", raw))
            continue
        if shape.is_empty:
            bad.append((i, "missing geometry", raw))
            continue
        if shape.geom_type == "GeometryCollection":   # keep the polygonal parts
            parts = [g_ for g_ in shape.geoms if g_.geom_type in ("Polygon", "MultiPolygon")]
            shape = shapely.union_all(parts) if parts else shape
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            bad.append((i, "not a polygon", raw))
            continue
        if not shape.is_valid:
            shape = shapely.make_valid(shape)
            polys = [p_ for p_ in getattr(shape, "geoms", [shape]) if p_.geom_type in ("Polygon", "MultiPolygon")]
            if not polys:
                bad.append((i, "bad geometry", raw))
                continue
            shape = shapely.union_all(polys)
        if k in seen:
            bad.append((i, "duplicate district key", raw))
            continue
        seen.add(k)
        keys.append(k)
        props.append(p)
        geoms.append(shape)
        lines.append(i)
    if bad:
        batch.quarantine_frame(pd.DataFrame(bad, columns=["line", "reason", "raw"]))
    crs = crs_override or batch.options.get("file_crs") or "EPSG:4326"
    gdf = gpd.GeoDataFrame({"key": keys, "props": props, "line": lines}, geometry=geoms, crs=crs)
    return gdf


def simplify(gdf: gpd.GeoDataFrame, tolerance_m: float) -> np.ndarray:
    """Coverage-simplify in metres, back to lon/lat, snapped to a 1e-5 degree grid."""
    metric = gdf.geometry.to_crs(gdf.estimate_utm_crs())
    out = None
    if tolerance_m > 0:
        try:
            candidate = shapely.set_precision(metric.simplify_coverage(tolerance_m).to_crs(4326).values, GRID_DEG)
            if shapely.is_valid(candidate).all() and not shapely.is_empty(candidate).any():
                out = candidate
        except Exception:  # noqa: BLE001 - not a valid coverage (overlaps): fall back below
            out = None
        if out is None:
            candidate = shapely.make_valid(shapely.set_precision(
                metric.simplify(tolerance_m, preserve_topology=True).to_crs(4326).values, GRID_DEG))
            if not shapely.is_empty(candidate).any():
                out = candidate
    if out is None:
        out = shapely.make_valid(shapely.set_precision(gdf.geometry.to_crs(4326).values, GRID_DEG))
    return out


def _int_or_none(value) -> int | None:
    try:
        v = float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return None
    return int(v) if math.isfinite(v) and v >= 0 else None


Namer = Callable[[str, dict], dict]


def load_boundaries(batch: Batch, *, key: str, name_property: str | None = None,
                    borough_property: str | None = None, population_property: str | None = None,
                    joint_property: str | None = None, tolerance_m: float = 30.0, crs=None,
                    namer: Namer | None = None) -> None:
    features, file_crs = read_geojson(batch.path)
    batch.rows_read += len(features)
    if not any(isinstance(f, dict) and key in ((f.get("properties") or {})) for f in features):
        sample = next((sorted((f.get("properties") or {}).keys()) for f in features if isinstance(f, dict)), [])
        raise MappingError(f"no feature has the key property {key!r}; properties are: {', '.join(sample[:12])}")
    batch.options["file_crs"] = file_crs
    props0 = set().union(*[(f.get("properties") or {}).keys() for f in features[:50] if isinstance(f, dict)])
    # conventional property names are used when present and no other is given
    name_property = name_property or ("name" if "name" in props0 else None)
    borough_property = borough_property or ("borough" if "borough" in props0 else None)
    population_property = population_property or ("population" if "population" in props0 else None)
    joint_property = joint_property or ("is_joint_area" if "is_joint_area" in props0 else None)
    gdf = _polygons(features, key, batch, geo.parse_crs(crs) if crs else None)
    if gdf.empty:
        return
    area = gdf.geometry.to_crs(gdf.estimate_utm_crs()).area.values / 1e6
    simple = simplify(gdf, tolerance_m)
    rows = []
    for i, (k, p) in enumerate(zip(gdf["key"], gdf["props"])):
        if namer:
            info = namer(k, p)
        else:
            info = {
                "name": str(p.get(name_property) or "").strip() if name_property else "",
                "borough": str(p.get(borough_property) or "").strip() if borough_property else "",
                "population": _int_or_none(p.get(population_property)) if population_property else None,
                "is_joint_area": bool(p.get(joint_property)) if joint_property else False,
            }
        rows.append({
            "district_id": k,
            "name": info.get("name") or f"District {k}",
            "borough": info.get("borough") or "",
            "population": info.get("population"),
            "area_km2": round(float(area[i]), 3),
            "geometry": json.dumps(shapely.geometry.mapping(simple[i]), separators=(",", ":")),
            "is_joint_area": bool(info.get("is_joint_area")),
        })
    frame = pd.DataFrame(rows)
    frame["population"] = frame["population"].astype("Int64")
    batch.con.register("ingest_districts", frame)
    try:
        batch.con.execute(
            "INSERT INTO districts SELECT district_id, name, borough, CAST(population AS INTEGER), area_km2, geometry, "
            "is_joint_area FROM ingest_districts ON CONFLICT (district_id) DO UPDATE SET name = excluded.name, "
            "borough = excluded.borough, population = coalesce(excluded.population, districts.population), "
            "area_km2 = excluded.area_km2, geometry = excluded.geometry, is_joint_area = excluded.is_joint_area")
    finally:
        batch.con.unregister("ingest_districts")
    batch.written["districts"] += len(frame)
    batch.rows_loaded += len(frame)


# ------------------------------------------------------------------------------ precincts
# West 96th St at Riverside Drive and East 96th St at the FDR Drive (lon, lat): the line that
# splits the two DOF fine schedules ("Manhattan 96th St. & below" / "all other areas").
_W96 = (-73.9767, 40.7966)
_E96 = (-73.9427, 40.7834)


def south_of_96th(lon: float, lat: float) -> bool:
    (x1, y1), (x2, y2) = _W96, _E96
    # sign of the cross product: > 0 = left of the west→east line = north
    return (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1) < 0


def load_precincts(batch: Batch, *, key: str = "Precinct", crs=None) -> None:
    """Each precinct polygon's representative point → the district containing it."""
    features, file_crs = read_geojson(batch.path)
    batch.rows_read += len(features)
    if not any(isinstance(f, dict) and key in ((f.get("properties") or {})) for f in features):
        raise MappingError(f"no feature has the key property {key!r}")
    batch.options["file_crs"] = file_crs
    gdf = _polygons(features, key, batch, geo.parse_crs(crs) if crs else None)
    if gdf.empty:
        return
    points = gdf.geometry.to_crs(4326).representative_point()
    index = batch.districts()
    ids, why = index.locate(points.x.values, points.y.values)
    boroughs = dict(batch.con.execute("SELECT district_id, borough FROM districts").fetchall())
    good, bad = [], []
    for k, p, line, did, reason, pt in zip(gdf["key"], gdf["props"], gdf["line"], ids, why, points):
        if did is None:
            bad.append((line, reason, json.dumps({"properties": p}, default=str)))
            continue
        below = boroughs.get(did) == "Manhattan" and south_of_96th(pt.x, pt.y)
        good.append((k, did, below))
    if bad:
        batch.quarantine_frame(pd.DataFrame(bad, columns=["line", "reason", "raw"]))
    if good:
        batch.con.executemany("INSERT OR REPLACE INTO precinct_districts VALUES (?, ?, ?, ?)",
                              [(k, d, b, batch.source.source_id) for k, d, b in good])
    batch.written["precinct_districts"] += len(good)
    batch.rows_loaded += len(good)


# ------------------------------------------------------------------------------ NYC naming
BOROUGHS = {1: "Manhattan", 2: "Bronx", 3: "Brooklyn", 4: "Queens", 5: "Staten Island"}
JOINT_AREAS = {164, 226, 227, 228, 355, 356, 480, 481, 482, 483, 484, 595}


def nyc_namer(key: str, props: dict) -> dict:
    """Names for NYC community districts (BoroCD): 'Brooklyn CD 1', joint areas flagged."""
    if "district_id" in props and "name" in props:   # the project's own derived file
        return {"name": props.get("name"), "borough": props.get("borough"),
                "population": _int_or_none(props.get("population")),
                "is_joint_area": bool(props.get("is_joint_area"))}
    code = int(float(key))
    borough = BOROUGHS.get(code // 100, "")
    joint = code in JOINT_AREAS
    name = f"{borough} joint interest area {code % 100}" if joint else f"{borough} CD {code % 100}"
    return {"name": name, "borough": borough, "population": None, "is_joint_area": joint}


BOUNDARY_SOURCE = Source(
    "district_boundaries", "District boundaries", "geography",
    "as published by the boundary publisher", "District outlines loaded from a GeoJSON file, simplified.")
NYC_BOUNDARY_SOURCE = Source(
    "nyc_dcp_community_districts", "NYC community districts (DCP)", "geography",
    "NYC Open Data terms of use",
    "NYC Department of City Planning community district boundaries (BoroCD), 59 districts and 12 "
    "joint interest areas; simplified as a coverage.")
NYC_PRECINCT_SOURCE = Source(
    "nyc_nypd_precincts", "NYC police precincts (DCP)", "geography", "NYC Open Data terms of use",
    "NYC police precinct polygons; each precinct is mapped to the community district containing its "
    "representative point (used to place parking tickets).")
