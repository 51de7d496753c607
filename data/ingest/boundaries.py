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

from data.ingest import geo
from data.ingest.batch import Batch
from data.ingest.errors import EmptyFileError, FormatError, MappingError, first_line
from data.ingest.files import read_json
from data.ingest.points import POINT_FORMATS, point_part
from data.ingest.source import Source
from data.ingest.sql import qi

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


def read_features(path: Path, crs=None) -> tuple[list[dict], object]:
    """Features and declared CRS of a GeoJSON, or of a GeoPackage / Shapefile (pyogrio)."""
    if Path(path).suffix.lower() in (".gpkg", ".shp", ".zip", ".fgb"):
        gdf = read_polygons_any(Path(path), crs)
        doc = json.loads(gdf.to_json(drop_id=True))
        return doc["features"], (gdf.crs if crs is None else None)
    return read_geojson(path)


def guard_other_layer(batch: Batch, keys: list[str]) -> None:
    """District ids loaded before from another boundary file are not overwritten silently: a
    second layer needs --layer (its ids get a prefix), a replacement --replace-layer."""
    if batch.options.get("replace_layer"):
        return
    others = batch.con.execute(
        "SELECT DISTINCT f.path FROM ingest_files f JOIN sources s USING (source_id) "
        "WHERE s.domain = 'geography' AND f.path <> $p AND f.source_id = $s", {"p": batch.file,
                                                                            "s": batch.source.source_id}).fetchall()
    if not others:
        return
    clash = batch.con.execute("SELECT district_id FROM districts WHERE list_contains($k, district_id) ORDER BY 1 "
                              "LIMIT 3", {"k": keys}).fetchall()
    if clash:
        ids = ", ".join(repr(r[0]) for r in clash)
        raise MappingError(f"district id(s) {ids} already exist from another boundary file "
                           f"({Path(others[0][0]).name}): load a second layer with --layer NAME (ids become "
                           "NAME:<id>), or replace the first with --replace-layer")


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


def _polygons(features: list[dict], key: str, batch: Batch, crs_override=None, dissolve: bool = False):
    """Validate features → (GeoDataFrame of good ones with key/props/line, crs). With
    ``dissolve``, several features with the same key are one district (their union)."""
    keys, props, geoms, lines = [], [], [], []
    bad = []
    seen: dict[str, int] = {}
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
            if dissolve:   # another part of the same district
                geoms[seen[k]] = shapely.union_all([geoms[seen[k]], shape])
                batch.rows_loaded += 1   # counted as loaded: it is part of the district's outline
                continue
            bad.append((i, "duplicate district key (several polygons per district: --dissolve)", raw)
                       if batch.options.get("dissolve_hint") else (i, "duplicate district key", raw))
            continue
        seen[k] = len(keys)
        keys.append(k)
        props.append(p)
        geoms.append(shape)
        lines.append(i)
    if bad:
        batch.quarantine_frame(pd.DataFrame(bad, columns=["line", "reason", "raw"]))
    crs = crs_override or batch.options.get("file_crs")
    if crs is None and geoms:   # no declaration: lon/lat, or a one-line error naming --crs
        check_lonlat(shapely.total_bounds(np.array(geoms, dtype=object)))
    gdf = gpd.GeoDataFrame({"key": keys, "props": props, "line": lines}, geometry=geoms, crs=crs or "EPSG:4326")
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
                    namer: Namer | None = None, dissolve: bool = False, layer: str | None = None) -> None:
    features, file_crs = read_features(batch.path, crs)
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
    gdf = _polygons(features, key, batch, geo.parse_crs(crs) if crs else None, dissolve=dissolve)
    if gdf.empty:
        return
    if layer:   # a second layer (neighbourhoods beside council districts): its own ids
        gdf["key"] = [f"{layer}:{k}" for k in gdf["key"]]
    guard_other_layer(batch, list(gdf["key"]))
    area = gdf.geometry.to_crs(gdf.estimate_utm_crs()).area.values / 1e6
    simple = simplify(gdf, tolerance_m)
    rows = []
    for i, (k, p) in enumerate(zip(gdf["key"], gdf["props"], strict=False)):
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
    for k, p, line, did, reason, pt in zip(gdf["key"], gdf["props"], gdf["line"], ids, why, points, strict=False):
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


# ------------------------------------------------------------------------------ generated districts
# A city with no district boundaries yet: one whole-city district, or a grid of square or
# hexagonal cells over the extent of a file (the points of a CSV, or the polygons of an outline).
GRID_SHAPES = ("square", "hex", "city")


def grid_cells(extent: tuple[float, float, float, float], *, shape: str = "hex", cell_km: float = 1.0,
               outline=None) -> list[tuple[str, str, object]]:
    """(id, name, polygon in lon/lat) of the cells covering ``extent`` (lon/lat min/max), in
    the local UTM zone so that cells are ``cell_km`` across; only cells meeting ``outline``
    (a lon/lat polygon) when given. ``shape='city'``: one district, the outline or the extent
    (with a 1 % margin)."""
    from pyproj import CRS, Transformer

    minx, miny, maxx, maxy = extent
    if shape not in GRID_SHAPES:
        raise MappingError(f"--shape must be one of {', '.join(GRID_SHAPES)}")
    if shape == "city":
        if outline is not None:
            geom = outline
        else:
            dx, dy = max((maxx - minx) * 0.01, 1e-3), max((maxy - miny) * 0.01, 1e-3)
            geom = shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy)
        return [("all", "Whole city", geom)]
    if not (cell_km > 0):
        raise MappingError("--cell-km must be a positive number of kilometres")
    lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
    utm = CRS.from_dict({"proj": "utm", "zone": int((lon0 + 180) // 6) + 1, "south": lat0 < 0})
    fwd = Transformer.from_crs(4326, utm, always_xy=True)
    back = Transformer.from_crs(utm, 4326, always_xy=True)
    xs, ys = fwd.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    size = cell_km * 1000.0
    pad = size * 0.1   # points on the extent's edge fall inside a cell, not on its border
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    cells = []
    if shape == "square":
        ncol, nrow = int(math.ceil((x1 - x0) / size)) or 1, int(math.ceil((y1 - y0) / size)) or 1
        if ncol * nrow > 10000:
            raise MappingError(f"{ncol * nrow:,} cells: give a larger --cell-km")
        for r in range(nrow):
            for c in range(ncol):
                cells.append((r, c, shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size)))
    else:   # flat-topped hexagons, `size` across the flats
        radius = size / math.sqrt(3)
        dx, dy = 1.5 * radius, size
        ncol, nrow = int(math.ceil((x1 - x0) / dx)) + 1, int(math.ceil((y1 - y0) / dy)) + 1
        if ncol * nrow > 10000:
            raise MappingError(f"{ncol * nrow:,} cells: give a larger --cell-km")
        for c in range(ncol):
            for r in range(nrow):
                cx, cy = x0 + c * dx, y0 + r * dy + (dy / 2 if c % 2 else 0)
                cells.append((r, c, shapely.Polygon([(cx + radius * math.cos(math.radians(a)),
                                                      cy + radius * math.sin(math.radians(a)))
                                                     for a in range(0, 360, 60)])))
    out = []
    width = max(2, len(str(max(nrow, ncol))))
    for r, c, poly in cells:
        lon, lat = back.transform(*poly.exterior.xy)
        geom = shapely.Polygon(list(zip(lon, lat, strict=False)))
        if outline is not None and not geom.intersects(outline):
            continue
        prefix = "H" if shape == "hex" else "S"
        out.append((f"{prefix}{r:0{width}d}{c:0{width}d}", f"Cell row {r + 1}, column {c + 1}", geom))
    return out


def write_cells(batch: Batch, cells: list[tuple[str, str, object]], *, count_rows: bool = True) -> None:
    """Upsert generated districts (area from the UTM geometry, outline rounded like boundaries)."""
    gdf = gpd.GeoDataFrame({"key": [c[0] for c in cells], "name": [c[1] for c in cells]},
                           geometry=[c[2] for c in cells], crs=4326)
    area = gdf.geometry.to_crs(gdf.estimate_utm_crs()).area.values / 1e6
    frame = pd.DataFrame({
        "district_id": gdf["key"], "name": gdf["name"], "borough": "", "population": pd.array([None] * len(gdf), "Int64"),
        "area_km2": [round(float(a), 3) for a in area],
        "geometry": [json.dumps(shapely.geometry.mapping(g), separators=(",", ":"))
                     for g in shapely.set_precision(gdf.geometry.values, GRID_DEG)],
        "is_joint_area": False})
    batch.con.register("ingest_cells", frame)
    try:
        batch.con.execute(
            "INSERT INTO districts SELECT district_id, name, borough, CAST(population AS INTEGER), area_km2, geometry, "
            "is_joint_area FROM ingest_cells ON CONFLICT (district_id) DO UPDATE SET name = excluded.name, "
            "area_km2 = excluded.area_km2, geometry = excluded.geometry")
    finally:
        batch.con.unregister("ingest_cells")
    batch.written["districts"] += len(frame)
    if count_rows:
        batch.rows_loaded += len(frame)


def load_grid(batch: Batch, *, shape: str = "hex", cell_km: float = 1.0, lon: str | None = None,
              lat: str | None = None, point: str | None = None, point_format: str = "lat,lon") -> None:
    """`python -m data.ingest grid FILE`: districts over the extent of FILE — a GeoJSON outline
    (cells meeting it), or a CSV of points (--lon/--lat columns, or --point with one column)."""
    suffix = batch.path.suffix.lower()
    outline = None
    if suffix in (".geojson", ".json", ".gpkg", ".shp", ".zip"):
        gdf = read_polygons_any(batch.path, batch.options.get("crs")).to_crs(4326)
        shapes = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        extent = tuple(float(v) for v in shapes.total_bounds)
        if shapes.geom_type.isin(["Polygon", "MultiPolygon"]).all():   # an outline: cells meeting it
            outline = shapely.union_all(shapes.values)
        # points or lines (car parks, kerb segments): their extent
    else:
        if point:
            if point_format not in POINT_FORMATS:
                raise MappingError(f"--point-format must be one of {', '.join(POINT_FORMATS)}")
            batch.read_csv([point])
            cleaned = f"nullif(trim({qi(point)}), '')"
            x = f"TRY_CAST({point_part(cleaned, point_format, 'lon', batch.bind)} AS DOUBLE)"
            y = f"TRY_CAST({point_part(cleaned, point_format, 'lat', batch.bind)} AS DOUBLE)"
        elif lon and lat:
            batch.read_csv([lon, lat])
            x, y = f"TRY_CAST({qi(lon)} AS DOUBLE)", f"TRY_CAST({qi(lat)} AS DOUBLE)"
        else:
            raise MappingError("grid from a CSV needs --lon and --lat (or --point) naming its coordinate columns")
        ext = batch.run(
            f"SELECT min(x), min(y), max(x), max(y) FROM (SELECT {x} AS x, {y} AS y FROM raw) "
            "WHERE abs(x) <= 180 AND abs(y) <= 90 AND NOT (x = 0 AND y = 0)").fetchall()[0]
        if ext[0] is None:
            raise FormatError("no row has a valid lon/lat point to take the extent from")
        extent = tuple(float(v) for v in ext)
        batch.rows_read = batch.rows_quarantined   # the points only give the extent: the rows are the cells
    cells = grid_cells(extent, shape=shape, cell_km=cell_km, outline=outline)
    batch.rows_read += len(cells)
    write_cells(batch, cells)


def read_polygons_any(path: Path, crs=None) -> gpd.GeoDataFrame:
    """A polygon layer from GeoJSON, GeoPackage or Shapefile (geopandas/pyogrio), in a known CRS."""

    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001
        raise FormatError(f"cannot read polygons: {first_line(exc)}") from None
    if gdf.empty:
        raise EmptyFileError("no features")
    if crs:
        gdf = gdf.set_crs(geo.parse_crs(crs) or 4326, allow_override=True)
    elif gdf.crs is None or gdf.crs.is_geographic:   # GDAL reads an undeclared GeoJSON as lon/lat
        check_lonlat(gdf.total_bounds)
        if gdf.crs is None:
            gdf = gdf.set_crs(4326)
    return gdf


def check_lonlat(bounds) -> None:
    """A layer without a CRS must be lon/lat; projected coordinates need --crs (one line, no traceback)."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))):
        return
    if abs(minx) > 180 or abs(maxx) > 180 or abs(miny) > 90 or abs(maxy) > 90:
        raise MappingError(f"the coordinates are not lon/lat (x {minx:,.0f} to {maxx:,.0f}, y {miny:,.0f} to "
                           f"{maxy:,.0f}) and the file declares no CRS: give it with --crs (e.g. --crs EPSG:2263)")


GRID_SOURCE = Source("generated_districts", "Generated districts (grid)", "geography", "not applicable",
                     "Districts generated by CityOps over the city's extent: square or hexagonal cells, or one "
                     "whole-city district, for a city without district boundaries of its own.")
