"""Generic CSV adapter driven by a small YAML mapping: a city loads its own parking, waste,
service-request (or any other fact table of :mod:`data.ingest.targets`) data with no code.

See ``data/ingest/README.md`` for the mapping reference and ``data/samples/mappings/`` for
worked examples. Everything is validated in bulk in DuckDB like the city adapters: casts,
required fields, the target's range rules, dates, district (key or point-in-polygon after
reprojection from the given CRS), duplicates.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from data.ingest.core import (Batch, Districting, F, IngestError, MappingError, Source, WarehouseStateError, ql,
                              qi)
from data.ingest.expr import any_present, compile_expr
from data.ingest.geo import parse_crs
from data.ingest.targets import TARGETS, Target
from data.registry import GRAINS

DOMAINS = {"transport", "waste", "parking", "satisfaction", "geography"}
FIELD_KEYS = {"column", "format", "formats", "decimal", "thousands", "map", "value", "expr", "unmapped", "unit",
              "coordinate", "point_format", "filename"}
DISTRICT_KEYS = {"column", "map", "x", "y", "lon", "lat", "crs", "decimal", "point", "point_format", "geometry",
                 "whole_city", "unmapped"}
UNMAPPED = ("keep", "null", "quarantine")
POINT_FORMATS = ("lat,lon", "lon,lat", "wkt")
WHOLE_CITY = "all"   # the id of the built-in whole-city district (not 'city': that is the rollup of all)

# a mapping's `unit:` -> factor to the target column's unit
UNITS = {
    "t": {"t": 1.0, "tonne": 1.0, "tonnes": 1.0, "metric ton": 1.0, "kg": 0.001, "lb": 0.00045359237,
          "lbs": 0.00045359237, "short ton": 0.90718474, "short_ton": 0.90718474, "us ton": 0.90718474},
    "%": {"%": 1.0, "percent": 1.0, "pct": 1.0, "fraction": 100.0, "share": 100.0},
    "km/h": {"km/h": 1.0, "kmh": 1.0, "mph": 1.609344, "m/s": 3.6},
    "degree": {"degree": 1.0, "degrees": 1.0},
}
# a column name that says it holds a rate, not an amount
RATE_NAME = re.compile(r"(%|percent|pct|rate|ratio|share|index)", re.IGNORECASE)
GEO_SUFFIXES = (".geojson", ".gpkg", ".shp", ".zip", ".fgb")


def is_geo_file(path: Path) -> bool:
    """A GeoJSON / GeoPackage / Shapefile (by suffix, or a .json holding a FeatureCollection)."""
    suffix = path.suffix.lower()
    if suffix in GEO_SUFFIXES:
        return True
    if suffix == ".json":
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError:
            return False
        return b'"FeatureCollection"' in head
    return False

# one field holding a point: "(lat, lon)" / "lat, lon", "lon lat", WKT "POINT (lon lat)"
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
POINT_PATTERNS = {
    "lat,lon": rf"^\s*\(?\s*{_NUM}\s*[,; ]\s*{_NUM}\s*\)?\s*$",
    "lon,lat": rf"^\s*\(?\s*{_NUM}\s*[,; ]\s*{_NUM}\s*\)?\s*$",
    "wkt": rf"^\s*(?:SRID=\d+;)?\s*POINT\s*(?:Z\s*)?\(\s*{_NUM}\s+{_NUM}(?:\s+{_NUM})?\s*\)\s*$",
}
SQL_TYPES = {"varchar": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
             "timestamp": "TIMESTAMP", "date": "DATE"}


class Mapping:
    def __init__(self, doc: dict, origin: str = "mapping"):
        self.origin = origin
        if not isinstance(doc, dict):
            raise MappingError(f"{origin}: expected a YAML mapping at the top level")
        self.doc = doc
        unknown = set(doc) - {"source", "target", "csv", "timestamp_format", "date_format", "fields",
                              "district", "dedup", "update_existing", "timezone", "max_quarantined_share",
                              "keep_rows"}
        if unknown:
            raise MappingError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}")
        table = doc.get("target")
        if table not in TARGETS:
            raise MappingError(f"{origin}: target must be one of {', '.join(sorted(TARGETS))}, got {table!r}")
        self.target: Target = TARGETS[table]
        src = doc.get("source")
        if not isinstance(src, dict) or not src.get("id"):
            raise MappingError(f"{origin}: source.id is required (and source.name, licence, description)")
        domain = src.get("domain", self.target.domain)
        if domain not in DOMAINS:
            raise MappingError(f"{origin}: source.domain must be one of {', '.join(sorted(DOMAINS))}")
        grain = src.get("grain", "hour")
        if grain not in GRAINS:
            raise MappingError(f"{origin}: source.grain must be one of {', '.join(GRAINS)} (the finest period "
                               f"one row describes: month for monthly totals), got {grain!r}")
        self.source = Source(str(src["id"]), str(src.get("name") or src["id"]), domain,
                             str(src.get("licence") or "not stated"), str(src.get("description") or ""), grain)
        csv = doc.get("csv") or {}
        if not isinstance(csv, dict):
            raise MappingError(f"{origin}: csv must be a mapping (delimiter, quote, encoding)")
        self.delimiter = str(csv.get("delimiter", ","))
        self.quote = str(csv.get("quote", '"'))
        self.encoding = str(csv.get("encoding", "utf-8"))
        if len(self.delimiter) != 1 and self.delimiter != "\\t":
            raise MappingError(f"{origin}: csv.delimiter must be one character")
        if self.delimiter == "\\t":
            self.delimiter = "\t"
        self.ts_format = doc.get("timestamp_format")
        self.date_format = doc.get("date_format")
        # the zone of the file's naive times (default: city time, --tz); offsets and Z always win
        self.timezone = doc.get("timezone")
        if self.timezone is not None:
            try:
                ZoneInfo(str(self.timezone))
            except (ZoneInfoNotFoundError, ValueError):
                raise MappingError(f"{origin}: timezone: unknown time zone {self.timezone!r} (an IANA name such "
                                   "as UTC or Europe/Berlin)") from None
        share = doc.get("max_quarantined_share")
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                                  or not 0 <= share <= 1):
            raise MappingError(f"{origin}: max_quarantined_share must be a number from 0 to 1, got {share!r}")
        self.max_quarantined_share = share
        # rows the city does not mean to publish (a closed car park's "0 % full"): quarantined as
        # "excluded by the mapping", so they stay counted and visible
        keep = doc.get("keep_rows")
        if keep is not None and (not isinstance(keep, dict) or set(keep) != {"column", "values"}
                                 or not isinstance(keep["values"], list) or not keep["values"]):
            raise MappingError(f"{origin}: keep_rows must be {{column: COLUMN, values: [value, ...]}}")
        self.keep_rows = keep
        fields = doc.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise MappingError(f"{origin}: fields is required: target field -> CSV column")
        names = {c.name for c in self.target.columns}
        extra = set(fields) - names
        if extra:
            raise MappingError(f"{origin}: fields: {', '.join(sorted(extra))} not in {self.target.table} "
                               f"(fields: {', '.join(c.name for c in self.target.columns)})")
        for col in self.target.columns:
            if col.required and col.name not in fields:
                raise MappingError(f"{origin}: fields: required field {col.name!r} of {self.target.table} is not mapped")
        self.fields: dict[str, dict] = {}
        for name, spec in fields.items():
            if isinstance(spec, str):
                spec = {"column": spec}
            if not isinstance(spec, dict) or not (set(spec) & {"column", "value", "expr", "filename"}) \
                    or set(spec) - FIELD_KEYS:
                bad = sorted(set(spec) - FIELD_KEYS) if isinstance(spec, dict) else []
                raise MappingError(f"{origin}: fields.{name}: " + (f"unknown key(s) {', '.join(bad)}; " if bad else "")
                                   + "a column name, or {column: ..., format: ..., decimal: ..., thousands: ..., "
                                   "map: {...}, unmapped: ..., unit: ...}, {expr: ...}, {value: ...} or "
                                   "{filename: FORMAT}")
            self._check_field(self.target.col(name), spec)
            self.fields[name] = spec
        d = doc.get("district")
        if not isinstance(d, dict) or not ({"column"} <= set(d) or {"x", "y"} <= set(d) or {"lon", "lat"} <= set(d)
                                           or "point" in d or d.get("geometry") is True or d.get("whole_city") is True):
            raise MappingError(f"{origin}: district needs column (a district id) and/or x/y (or lon/lat, or point: "
                               "one column holding both) with crs, or geometry: true (a GeoJSON/GeoPackage/"
                               "Shapefile), or whole_city: true")
        if set(d) - DISTRICT_KEYS:
            raise MappingError(f"{origin}: district: unknown key(s) {', '.join(sorted(set(d) - DISTRICT_KEYS))}")
        if d.get("whole_city") is True and set(d) & {"column", "map"}:
            raise MappingError(f"{origin}: district: whole_city puts every row in one district; drop column/map")
        if "point" in d and d.get("point_format", "lat,lon") not in POINT_FORMATS:
            raise MappingError(f"{origin}: district.point_format must be one of {', '.join(POINT_FORMATS)}")
        if "map" in d and not isinstance(d["map"], dict):
            raise MappingError(f"{origin}: district.map must be a mapping value -> district id")
        if d.get("unmapped", "keep") not in UNMAPPED:
            raise MappingError(f"{origin}: district.unmapped must be one of {', '.join(UNMAPPED)}")
        self.district = d
        self.crs = d.get("crs")
        parse_crs(self.crs)  # validates
        dd = doc.get("dedup")
        self.dedup = list(dd) if isinstance(dd, list) else list(self.target.dedup)
        self.update_existing = bool(doc.get("update_existing", True))

    def _check_field(self, col, spec: dict) -> None:
        """Validate one field spec against its target column (a one-line error naming it)."""
        where = f"{self.origin}: fields.{col.name}"
        numeric = col.kind in ("double", "int", "bigint")
        if "map" in spec:
            if not isinstance(spec["map"], dict) or not spec["map"]:
                raise MappingError(f"{where}.map must be a mapping source value -> value")
            if numeric:
                for k, v in spec["map"].items():
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise MappingError(f"{where}.map: {k!r} -> {v!r}: {col.name} is a number; map to numbers "
                                           "(occupied: 1, vacant: 0)")
            elif col.kind != "varchar":
                raise MappingError(f"{where}: map is for text and number fields, not {col.kind}")
        if spec.get("unmapped", "keep") not in UNMAPPED:
            raise MappingError(f"{where}.unmapped must be one of {', '.join(UNMAPPED)}")
        if "expr" in spec and not numeric:
            raise MappingError(f"{where}: expr is for number fields; {col.name} is {col.kind}")
        if "expr" in spec and ("column" in spec or "map" in spec):
            raise MappingError(f"{where}: give either expr or column/map, not both")
        if "coordinate" in spec:
            if spec["coordinate"] not in ("lat", "lon"):
                raise MappingError(f"{where}.coordinate must be lat or lon (the part of the point in column)")
            if spec.get("point_format", "lat,lon") not in POINT_FORMATS:
                raise MappingError(f"{where}.point_format must be one of {', '.join(POINT_FORMATS)}")
        if "filename" in spec and col.kind not in ("timestamp", "date"):
            raise MappingError(f"{where}: filename (the time in the file's name) is for time fields")
        if "unit" in spec:
            if col.unit is None or col.unit not in UNITS:
                raise MappingError(f"{where}: {col.name} has no unit to convert to; drop unit")
            if str(spec["unit"]).lower() not in UNITS[col.unit]:
                raise MappingError(
                    f"{where}: unit {spec['unit']!r} cannot be converted to {col.unit} (accepted: "
                    f"{', '.join(UNITS[col.unit])})" + (
                        ". A rate or index the department computes is not a tonnage: publish it as it is, "
                        "not as tonnes" if col.unit == "t" else ""))
        elif col.unit == "t" and "column" in spec and RATE_NAME.search(str(spec["column"])):
            raise MappingError(f"{where}: column {spec['column']!r} looks like a rate or index, not tonnes; if it "
                               "really holds tonnes say so with unit: t (a percentage loaded as tonnes would "
                               "publish as '100 % diverted')")

    @classmethod
    def load(cls, path: Path | str) -> "Mapping":
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"no such mapping file: {path}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls(doc, path.name)

    @property
    def uses_filename(self) -> bool:
        """A field takes its value from the file's name (a snapshot's poll time)."""
        return any("filename" in spec for spec in self.fields.values())

    def columns_used(self) -> list[str]:
        cols = [s["column"] for s in self.fields.values() if "column" in s]
        d = self.district
        cols += [d[k] for k in ("column", "x", "y", "lon", "lat", "point") if k in d]
        if self.keep_rows:
            cols.append(self.keep_rows["column"])
        return list(dict.fromkeys(cols))


# ------------------------------------------------------------------------------ SQL for one field
def _map_sql(batch: Batch, mapping: dict, unmapped: str = "keep", numeric: bool = False) -> str:
    """CASE over the cleaned value {x}; keys and values are bound parameters."""
    whens = " ".join(f"WHEN {batch.bind(str(k).strip())} THEN "
                     + (f"CAST({batch.bind(float(v))} AS DOUBLE)" if numeric else f"CAST({batch.bind(str(v))} AS VARCHAR)")
                     for k, v in mapping.items())
    if unmapped == "keep":
        other = "TRY_CAST({x} AS DOUBLE)" if numeric else "{x}"
    else:
        other = "NULL"
    return f"(CASE {{x}} {whens} ELSE {other} END)"


def _as_kind(v: str, kind: str) -> str:
    """A DOUBLE expression as the column's kind (an integer column takes whole numbers only)."""
    if kind in ("int", "bigint"):
        limit = 2**31 if kind == "int" else 2**53
        typ = "INTEGER" if kind == "int" else "BIGINT"
        return f"(CASE WHEN {v} = round({v}) AND abs({v}) < {limit} THEN CAST({v} AS {typ}) END)"
    return f"(CASE WHEN isfinite({v}) THEN {v} END)"


def point_part(x: str, fmt: str, part: str) -> str:
    """SQL: the lat or lon (text) of a point held in one cleaned value ``x``."""
    first_is_lat = fmt == "lat,lon"
    group = (1 if part == "lat" else 2) if first_is_lat else (2 if part == "lat" else 1)
    return f"nullif(regexp_extract({x}, {ql(POINT_PATTERNS[fmt])}, {group}), '')"


def _file_time(mp: Mapping, col, spec: dict, batch: Batch) -> datetime:
    fmt = str(spec["filename"])
    try:
        ts = datetime.strptime(batch.path.name, fmt)
    except ValueError:
        raise IngestError(f"fields.{col.name}: the file name {batch.path.name!r} does not match its filename "
                          f"format {fmt!r}") from None
    if mp.timezone:   # the poller's clock zone -> city time
        ts = ts.replace(tzinfo=ZoneInfo(str(mp.timezone))).astimezone(ZoneInfo(batch.tz)).replace(tzinfo=None)
    return ts


def _field(mp: Mapping, col, spec: dict | None, batch: Batch, header: list[str], checks: list) -> F:
    """The staged field of one target column; extra rules it needs are appended to ``checks``."""
    if spec is None:
        return F(col.name, None, col.kind)
    where = f"{mp.origin}: fields.{col.name}"
    common = dict(required=col.required, future_ok=col.future_ok)
    if "value" in spec:
        return F(col.name, None, col.kind, sql=f"TRY_CAST({batch.bind(str(spec['value']))} AS {SQL_TYPES[col.kind]})",
                 **common)
    if "filename" in spec:
        ts = _file_time(mp, col, spec, batch)
        return F(col.name, None, col.kind, sql=f"CAST({batch.bind(ts)} AS {SQL_TYPES[col.kind]})", **common)
    factor = UNITS[col.unit][str(spec["unit"]).lower()] if "unit" in spec else 1.0
    cleaning = dict(thousands=spec.get("thousands"), decimal=spec.get("decimal"))
    if "expr" in spec:
        def column_sql(name: str) -> str:
            return F("_", qi(name), **cleaning).cleaned()
        compiled = compile_expr(spec["expr"], where, batch.bind, column_sql, header)
        value = compiled.sql if factor == 1.0 else f"({compiled.sql} * CAST({batch.bind(factor)} AS DOUBLE))"
        return F(col.name, any_present(compiled.columns, lambda c: qi(c)), col.kind, label=str(spec["expr"]),
                 sql=_as_kind(value, col.kind), bad=f"bad number: {spec['expr']}", strict=True, **common)
    column = spec["column"]
    fmt = spec.get("formats") or spec.get("format")
    if fmt is None and col.kind == "timestamp":
        fmt = mp.ts_format
    if fmt is None and col.kind == "date":
        fmt = mp.date_format or mp.ts_format
    formats = [fmt] if isinstance(fmt, str) else list(fmt) if fmt else None
    # values outside a map: kept (default), NULL, or quarantined; a closed vocabulary quarantines
    unmapped = spec.get("unmapped", "quarantine" if col.vocabulary else "keep")
    sql, bad = None, None
    numeric = col.kind in ("double", "int", "bigint")
    if "coordinate" in spec:   # lat or lon out of one point column
        sql = _as_kind(f"TRY_CAST({point_part('{x}', spec.get('point_format', 'lat,lon'), spec['coordinate'])} "
                       "AS DOUBLE)", col.kind)
    elif "map" in spec and numeric:   # a text status that means a number
        v = _map_sql(batch, spec["map"], unmapped, numeric=True)
        if factor != 1.0:
            v = f"({v} * CAST({batch.bind(factor)} AS DOUBLE))"
        sql = _as_kind(v, col.kind)
        bad = f"bad value: {column}"
        if unmapped == "null":
            mapped = " OR ".join(f"{{x}} = {batch.bind(str(k).strip())}" for k in spec["map"])
            sql = f"(CASE WHEN {mapped} THEN {sql} END)"
    elif "map" in spec:   # (a closed vocabulary is checked after the map and normalisation, below)
        sql = _map_sql(batch, spec["map"], "keep" if col.vocabulary else unmapped)
        bad = f"bad value: {column}"
    elif factor != 1.0:
        base = F("_", "x", col.kind if col.kind != "int" else "double").typed().replace("nullif(trim(x), '')", "{x}")
        sql = _as_kind(f"({base} * CAST({batch.bind(factor)} AS DOUBLE))", col.kind)
    if col.normalise:
        sql = col.normalise.replace("{x}", sql) if sql else col.normalise
    strict = col.strict
    if col.vocabulary and unmapped != "keep":
        # a closed vocabulary (channel: phone/online/app): a value outside it, after the map, is
        # quarantined (the default) or, with unmapped: null, left empty
        vocab = ", ".join(batch.bind(v) for v in col.vocabulary)
        if unmapped == "null":
            inner = sql or "{x}"
            sql = f"(CASE WHEN ({inner}) IN ({vocab}) THEN ({inner}) END)"
        else:
            checks.append((f"{qi(col.name)} IS NOT NULL AND {qi(col.name)} NOT IN ({vocab})",
                           f"bad value: {column} (not {'/'.join(col.vocabulary)})"))
    elif "map" in spec:
        strict = unmapped == "quarantine" or (strict and col.normalise is not None) or numeric
        if unmapped == "null":
            strict = False
    return F(col.name, qi(column), col.kind, label=column, formats=formats, sql=sql, bad=bad, strict=strict,
             naive_tz=bool(mp.timezone), **cleaning, **common)


def _district_point(d: dict, header: list[str]) -> tuple[list[F], str | None, str | None]:
    """Staged fields of the district point: (fields, lon field, lat field)."""
    if "point" in d:
        fmt = d.get("point_format", "lat,lon")
        col = d["point"]
        return ([F("_x", qi(col), "double", label=col, sql=_as_kind(f"TRY_CAST({point_part('{x}', fmt, 'lon')} AS DOUBLE)", "double")),
                 F("_y", qi(col), "double", label=col, sql=_as_kind(f"TRY_CAST({point_part('{x}', fmt, 'lat')} AS DOUBLE)", "double"),
                   bad=f"bad coordinates: {col}")], "_x", "_y")
    if d.get("geometry") is True:
        return ([F("_x", qi(GEOM_LON), "double", label="geometry"), F("_y", qi(GEOM_LAT), "double", label="geometry")],
                "_x", "_y")
    xs, ys = (d.get("x"), d.get("y")) if "x" in d else (d.get("lon"), d.get("lat"))
    if xs and ys:
        return ([F("_x", qi(xs), "double", label=xs, decimal=d.get("decimal")),
                 F("_y", qi(ys), "double", label=ys, decimal=d.get("decimal"))], "_x", "_y")
    return [], None, None


# ------------------------------------------------------------------------------ geo files
GEOM_LON, GEOM_LAT = "__geometry_lon", "__geometry_lat"


def read_geo(batch: Batch, mp: Mapping) -> list[str]:
    """Attributes and a representative point of every feature of a GeoJSON / GeoPackage /
    Shapefile (read with geopandas/pyogrio) as the raw rows."""
    import geopandas as gpd
    import numpy as np

    from data.ingest.core import EmptyFileError, FormatError, first_line, to_text

    try:
        gdf = gpd.read_file(batch.path, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - pyogrio / GDAL errors
        raise FormatError(f"cannot read as a GeoJSON/GeoPackage/Shapefile: {first_line(exc)}") from None
    if gdf.empty:
        raise EmptyFileError("no features")
    declared = parse_crs(mp.crs) if mp.crs else None
    if declared is not None:
        gdf = gdf.set_crs(declared, allow_override=True)
    elif gdf.crs is None or gdf.crs.is_geographic:   # GDAL reads an undeclared GeoJSON as lon/lat
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (abs(minx) <= 180 and abs(maxx) <= 180 and abs(miny) <= 90 and abs(maxy) <= 90):
            raise MappingError(f"the coordinates are not lon/lat (x up to {maxx:,.0f}, y up to {maxy:,.0f}) and the "
                               "file declares no CRS: give it as district.crs in the mapping (e.g. EPSG:2263)")
        if gdf.crs is None:
            gdf = gdf.set_crs(4326)
    geom = gdf.geometry
    ok = geom.notna() & ~geom.is_empty
    pts = geom[ok].to_crs(4326).representative_point()
    lon = np.full(len(gdf), np.nan)
    lat = np.full(len(gdf), np.nan)
    lon[ok.values], lat[ok.values] = pts.x.values, pts.y.values
    attrs = [c for c in gdf.columns if c != gdf.geometry.name]
    records = []
    for i, row in enumerate(gdf[attrs].itertuples(index=False, name=None)):
        rec = {c: to_text(None if (isinstance(v, float) and v != v) else (v.isoformat() if hasattr(v, "isoformat") else v))
               for c, v in zip(attrs, row)}
        rec[GEOM_LON] = None if np.isnan(lon[i]) else repr(float(lon[i]))
        rec[GEOM_LAT] = None if np.isnan(lat[i]) else repr(float(lat[i]))
        records.append(rec)
    header = batch.raw_from_records(records, columns=attrs + [GEOM_LON, GEOM_LAT])
    missing = [c for c in mp.columns_used() if c not in header]
    if missing:
        raise MappingError(f"{mp.origin}: the file has no attribute(s) {', '.join(repr(m) for m in missing)}; "
                           f"attributes: {', '.join(attrs[:12])}")
    return header


# ------------------------------------------------------------------------------ whole city
def ensure_whole_city(batch: Batch, lon: str | None, lat: str | None) -> None:
    """The built-in whole-city district, created from the extent of the rows' points when the
    warehouse has none (a city with no district boundaries yet)."""
    con = batch.con
    if con.execute("SELECT count(*) FROM districts WHERE district_id = $d", {"d": WHOLE_CITY}).fetchone()[0]:
        return
    from data.ingest import boundaries

    if not (lon and lat):
        raise WarehouseStateError("whole_city: the warehouse has no whole-city district and the rows have no "
                                  "points to outline one: create it first (python -m data.ingest grid FILE "
                                  "--shape city) or give district lon/lat or point")
    ext = con.execute(f"SELECT min({qi(lon)}), min({qi(lat)}), max({qi(lon)}), max({qi(lat)}) FROM checked "
                      f"WHERE _reason IS NULL AND abs({qi(lon)}) <= 180 AND abs({qi(lat)}) <= 90 "
                      f"AND NOT ({qi(lon)} = 0 AND {qi(lat)} = 0)").fetchall()[0]
    if ext[0] is None:
        raise WarehouseStateError("whole_city: no row has a valid point to outline the city with")
    boundaries.write_cells(batch, boundaries.grid_cells(tuple(float(v) for v in ext), shape="city"),
                           count_rows=False)


def load(batch: Batch) -> None:
    mp: Mapping = batch.options["mapping"]
    if mp.timezone:
        batch.options["source_tz"] = str(mp.timezone)
    if is_geo_file(batch.path):
        header = read_geo(batch, mp)
    else:
        if mp.district.get("geometry") is True:
            raise MappingError(f"{mp.origin}: district.geometry is for GeoJSON/GeoPackage/Shapefile inputs")
        header = batch.read_csv(mp.columns_used(), delimiter=mp.delimiter, quote=mp.quote, encoding=mp.encoding)
    checks: list[tuple[str, str]] = []
    keep: list[F] = []
    if mp.keep_rows:   # first: an excluded row is excluded whatever else is wrong with it
        col = str(mp.keep_rows["column"])
        values = ", ".join(batch.bind(str(v)) for v in mp.keep_rows["values"])
        keep.append(F("__keep", qi(col), label=col))
        checks.append((f"__keep IS NULL OR __keep NOT IN ({values})",
                       f"excluded by the mapping: {col} not {' / '.join(str(v) for v in mp.keep_rows['values'])}"))
    fields = keep + [_field(mp, col, mp.fields.get(col.name), batch, header, checks) for col in mp.target.columns]
    d = mp.district
    district = Districting()
    if "column" in d:
        unmapped = d.get("unmapped", "keep")
        sql = _map_sql(batch, d["map"], unmapped) if isinstance(d.get("map"), dict) else None
        fields.append(F("district_key", qi(d["column"]), sql=sql, label=d["column"],
                        strict=unmapped == "quarantine", bad=f"unknown district: {d['column']} not in district.map"))
        district.key = "district_key"
    elif d.get("whole_city") is True:
        fields.append(F("district_key", None, sql=f"CAST({batch.bind(WHOLE_CITY)} AS VARCHAR)"))
        district.key = "district_key"
    point_fields, lon, lat = _district_point(d, header)
    fields += point_fields
    if lon and lat:
        district.lon, district.lat, district.crs = lon, lat, mp.crs
    missing = [c for c in mp.dedup if c not in {f.name for f in fields} | {"district_id"}]
    if missing:
        raise MappingError(f"{mp.origin}: dedup: unknown field(s) {', '.join(missing)}")
    if d.get("whole_city") is True:
        # stage without the key first to outline the city from the points, then with it
        batch.stage([f for f in fields if f.name != "district_key"], ())
        ensure_whole_city(batch, lon, lat)
        batch.districts_reset()
    batch.stage(fields, [*checks, *mp.target.rules], district=district, dedup=mp.dedup or None,
                dedup_reason=("duplicate " + ", ".join(mp.dedup)) if mp.dedup else None)
    cols = {c.name: c.name for c in mp.target.columns}
    t = mp.target
    batch.insert(t.table, cols, upsert_key=t.upsert_key if mp.update_existing else (), time_expr=t.time,
                 replace_pk=t.primary_key)
