"""District assignment by point-in-polygon, vectorised (numpy + shapely), with reprojection.

The polygons are the ``districts.geometry`` of the warehouse (GeoJSON, lon/lat). For each
district a bounding-box filter selects candidate points (numpy), then
``shapely.intersects_xy`` tests them against the prepared polygon: about 0.3 s per million
points for the 71 New York districts. A point on a shared border goes to the district with
the smallest id (deterministic). Coordinates in another CRS are reprojected with pyproj first.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from data.ingest.errors import FormatError, MappingError, WarehouseStateError

WGS84 = CRS.from_epsg(4326)

CHUNK = 1 << 18  # points per pass of locate_codes
OUTSIDE = "outside boundaries"
MISSING = "missing coordinates"
BAD = "bad coordinates"


def parse_crs(value) -> CRS | None:
    """None / EPSG:4326 / CRS84 → None (lon/lat already); anything pyproj understands."""
    if value in (None, "", 4326, "4326"):
        return None
    try:
        crs = CRS.from_user_input(value)
    except Exception as exc:  # noqa: BLE001 - pyproj raises CRSError and others
        raise MappingError(f"unknown CRS {value!r}: {str(exc).splitlines()[0]}") from None
    if crs.equals(WGS84, ignore_axis_order=True) or crs.to_string() in ("OGC:CRS84", "EPSG:4326"):
        return None
    return crs


@lru_cache(maxsize=16)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def to_lonlat(x: np.ndarray, y: np.ndarray, crs) -> tuple[np.ndarray, np.ndarray]:
    crs = parse_crs(crs) if not isinstance(crs, CRS) else crs
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if crs is None:
        return x, y
    ok = np.isfinite(x) & np.isfinite(y)
    lon = np.full(x.shape, np.nan)
    lat = np.full(y.shape, np.nan)
    if ok.any():
        lon[ok], lat[ok] = _transformer(crs.to_wkt()).transform(x[ok], y[ok])
    return lon, lat


class DistrictIndex:
    def __init__(self, ids: list[str], geometries: list):
        order = np.argsort(np.array(ids, dtype=object))
        self.ids = np.array(ids, dtype=object)[order]
        self.geoms = np.array(geometries, dtype=object)[order]
        shapely.prepare(self.geoms)
        self.bounds = shapely.bounds(self.geoms)

    @classmethod
    def from_warehouse(cls, con, layer: str | None = None) -> "DistrictIndex":
        """The districts of one boundary layer: the base layer (ids without a ':'), or the layer
        loaded with ``boundaries --layer NAME`` (ids ``NAME:<id>``). Points are placed within one
        layer only: with two overlapping layers, a point would otherwise go to whichever id sorts
        first, and the other layer would silently lose it."""
        rows = con.execute("SELECT district_id, geometry FROM districts WHERE CASE WHEN $layer IS NULL THEN "
                           "NOT contains(district_id, ':') ELSE starts_with(district_id, $layer || ':') END "
                           "ORDER BY district_id", {"layer": layer}).fetchall()
        if not rows and (layer is not None or con.execute("SELECT count(*) FROM districts").fetchone()[0]):
            layers = sorted({r[0].split(":", 1)[0] for r in con.execute(
                "SELECT district_id FROM districts WHERE contains(district_id, ':')").fetchall()})
            raise WarehouseStateError(
                (f"the warehouse has no districts in layer {layer!r}" if layer else
                 "the warehouse has no districts outside the named layers") + " (layers: "
                + (", ".join(layers) or "none") + "): load it with python -m data.ingest boundaries FILE --layer "
                "NAME, or give district.layer in the mapping")
        if not rows:
            raise WarehouseStateError("the warehouse has no districts: load boundaries first "
                                      "(python -m data.ingest boundaries FILE.geojson --key PROPERTY), or generate "
                                      "them (python -m data.ingest grid FILE --shape hex|square|city)")
        geoms = []
        for did, text in rows:
            try:
                geoms.append(shapely.geometry.shape(json.loads(text)))
            except Exception as exc:  # noqa: BLE001
                raise FormatError(f"district {did}: unreadable geometry ({exc})") from None
        return cls([r[0] for r in rows], geoms)

    REASONS = (None, MISSING, BAD, OUTSIDE)  # reason codes of locate_codes

    def locate_codes(self, x, y, crs=None) -> tuple[np.ndarray, np.ndarray]:
        """For each point the index into ``self.ids`` (-1: none) and a reason code into
        ``REASONS`` (0: found). Numbers only, so millions of results go back to DuckDB
        without a Python string per row."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        missing = np.isnan(x) | np.isnan(y)
        lon, lat = to_lonlat(x, y, crs)
        # impossible: not finite, off the globe, or (0, 0) — the usual placeholder of a failed geocode
        bad = ~missing & ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
                           & ~((lon == 0) & (lat == 0)))
        todo = ~missing & ~bad
        found = np.full(len(x), -1, dtype=np.int64)
        # in chunks that stay in the CPU cache: the bounding-box masks, not shapely, cost most
        for a in range(0, len(x), CHUNK):
            t, f, xs, ys = todo[a:a + CHUNK], found[a:a + CHUNK], lon[a:a + CHUNK], lat[a:a + CHUNK]
            for i, geom in enumerate(self.geoms):
                minx, miny, maxx, maxy = self.bounds[i]
                cand = np.nonzero(t & (f < 0) & (xs >= minx) & (xs <= maxx) & (ys >= miny) & (ys <= maxy))[0]
                if cand.size:
                    f[cand[shapely.intersects_xy(geom, xs[cand], ys[cand])]] = i
        why = np.zeros(len(x), dtype=np.int8)
        why[missing] = 1
        why[bad] = 2
        why[todo & (found < 0)] = 3
        return found, why

    def locate(self, x, y, crs=None) -> tuple[np.ndarray, np.ndarray]:
        """District id (or None) and reason (or None) for each point."""
        found, codes = self.locate_codes(x, y, crs)
        out = np.full(len(found), None, dtype=object)
        ok = found >= 0
        out[ok] = self.ids[found[ok]]
        return out, np.array(self.REASONS, dtype=object)[codes]

    def locate_one(self, x: float, y: float, crs=None) -> str | None:
        ids, _ = self.locate(np.array([x]), np.array([y]), crs)
        return ids[0]
