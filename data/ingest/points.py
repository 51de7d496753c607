"""A point held in one text field: ``"(lat, lon)"`` / ``"lat, lon"``, ``"lon lat"`` or WKT
``"POINT (lon lat)"``, and the SQL that takes its lon or lat out.

Shared by the generic adapter (``district.point``, ``fields.<f>.coordinate``) and the grid
adapter (``--point``); a module of its own so that neither imports the other.
"""
from __future__ import annotations

from data.ingest.fields import Bind

POINT_FORMATS = ("lat,lon", "lon,lat", "wkt")

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
POINT_PATTERNS = {
    "lat,lon": rf"^\s*\(?\s*{_NUM}\s*[,; ]\s*{_NUM}\s*\)?\s*$",
    "lon,lat": rf"^\s*\(?\s*{_NUM}\s*[,; ]\s*{_NUM}\s*\)?\s*$",
    "wkt": rf"^\s*(?:SRID=\d+;)?\s*POINT\s*(?:Z\s*)?\(\s*{_NUM}\s+{_NUM}(?:\s+{_NUM})?\s*\)\s*$",
}


def point_part(x: str, fmt: str, part: str, bind: Bind) -> str:
    """SQL: the lat or lon (text) of a point held in one cleaned value ``x`` (the pattern bound)."""
    first_is_lat = fmt == "lat,lon"
    group = (1 if part == "lat" else 2) if first_is_lat else (2 if part == "lat" else 1)
    return f"nullif(regexp_extract({x}, {bind(POINT_PATTERNS[fmt])}, {group}), '')"
