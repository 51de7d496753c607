"""Generic CSV adapter driven by a small YAML mapping: a city loads its own parking, waste,
service-request (or any other fact table of :mod:`data.ingest.targets`) data with no code.

See ``data/ingest/README.md`` for the mapping reference and ``data/samples/mappings/`` for
worked examples. Everything is validated in bulk in DuckDB like the city adapters: casts,
required fields, the target's range rules, dates, district (key or point-in-polygon after
reprojection from the given CRS), duplicates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from data.ingest import boundaries
from data.ingest.batch import Batch
from data.ingest.errors import EmptyFileError, FormatError, IngestError, MappingError, WarehouseStateError, first_line
from data.ingest.expr import any_present, compile_expr
from data.ingest.fields import Bind, Districting, Field
from data.ingest.files import to_text
from data.ingest.geo import parse_crs
from data.ingest.points import POINT_FORMATS, point_part
from data.ingest.source import Source
from data.ingest.sql import qi
from data.ingest.targets import TARGETS, Target
from data.registry import GRAINS

DOMAINS = {"transport", "waste", "parking", "satisfaction", "geography"}
FIELD_KEYS = {"column", "format", "formats", "decimal", "thousands", "map", "value", "expr", "unmapped", "unit",
              "coordinate", "point_format", "filename"}
DISTRICT_KEYS = {"column", "map", "x", "y", "lon", "lat", "crs", "decimal", "point", "point_format", "geometry",
                 "whole_city", "unmapped", "layer"}
LAYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,30}$")
UNMAPPED = ("keep", "null", "quarantine")
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



# The extent of the valid mapped points (the columns named by bound $lon/$lat, renamed x/y by
# position), to outline a whole-city district from.
POINT_EXTENT = """
SELECT min(x), min(y), max(x), max(y)
FROM (SELECT COLUMNS(lambda c: c = $lon), COLUMNS(lambda c: c = $lat), _reason FROM checked) AS p(x, y, _reason)
WHERE _reason IS NULL AND abs(x) <= 180 AND abs(y) <= 90 AND NOT (x = 0 AND y = 0)
"""

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

SQL_TYPES = {"varchar": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
             "timestamp": "TIMESTAMP", "date": "DATE"}


# ------------------------------------------------------------------------------ reported measures
MEASURE_KEYS = {"id", "label", "unit", "format", "direction", "grain", "fiscal_year_start", "range", "method",
                "description", "public"}
MEASURE_GRAINS = ("month", "year", "fiscal_year")
MEASURE_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# default range of a reported measure by unit (a percentage is 0-100; an amount is not negative)
UNIT_RANGES = {"%": (0.0, 100.0), "t": (0.0, 1e6), "count": (0.0, None), "days": (0.0, None)}
_FY_RANGE = r"^\s*(?:FY\s*)?(\d{4})\s*[-/–]\s*(\d{2}|\d{4})\s*$"    # 2023-24, 2023/2024, FY2023-24
_FY_ONE = r"^\s*FY\s*[-']?\s*(\d{4}|\d{2})\s*$"                                 # FY2024, FY 24, FY'24
_YEAR = r"^\s*(?:CY\s*)?(\d{4})\s*$"                                            # 2024, CY2024


@dataclass(frozen=True)
class ReportedMeasure:
    """``measure:`` of a ``target: reported_measures`` mapping: a figure a department computes
    itself (a diversion rate, a satisfaction index), published as reported, per its period."""
    id: str
    label: str
    unit: str
    format: str
    direction: str | None
    grain: str
    fiscal_year_start: int
    low: float | None
    high: float | None
    method: str
    description: str
    public: bool

    @classmethod
    def parse(cls, m, origin: str) -> "ReportedMeasure":
        from data import registry

        where = f"{origin}: measure"
        if not isinstance(m, dict):
            raise MappingError(f"{where}: target reported_measures needs measure: {{id, label, unit, grain, method}}")
        if set(m) - MEASURE_KEYS:
            raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(set(m) - MEASURE_KEYS))}")
        for key in ("id", "label", "unit", "grain", "method"):
            if not m.get(key) or not isinstance(m[key], str):
                raise MappingError(f"{where}.{key} is required (text)")
        if not MEASURE_ID.match(m["id"]):
            raise MappingError(f"{where}.id must match {MEASURE_ID.pattern}, got {m['id']!r}")
        if m["id"] in registry.metrics():
            raise MappingError(f"{where}.id {m['id']!r} is a metric the dashboard computes; give the reported "
                               "measure its own id")
        if m["grain"] not in MEASURE_GRAINS:
            raise MappingError(f"{where}.grain must be one of {', '.join(MEASURE_GRAINS)}, got {m['grain']!r}")
        start = m.get("fiscal_year_start", 1 if m["grain"] != "fiscal_year" else None)
        if m["grain"] == "fiscal_year" and start is None:
            raise MappingError(f"{where}.fiscal_year_start is required for grain fiscal_year: the month the fiscal "
                               "year starts (7 for July)")
        if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= 12:
            raise MappingError(f"{where}.fiscal_year_start must be a month number 1-12, got {start!r}")
        if m.get("direction") not in (None, "higher", "lower"):
            raise MappingError(f"{where}.direction must be higher or lower")
        fmt = str(m.get("format", ".1f"))
        try:
            format(1234.5, fmt)
        except (ValueError, TypeError):
            raise MappingError(f"{where}.format is not a number format: {fmt!r}") from None
        unit = m["unit"].strip()
        low, high = UNIT_RANGES.get(unit.lower(), (None, None))
        if "range" in m:
            r = m["range"]
            if not isinstance(r, list) or len(r) != 2 or any(v is not None and (isinstance(v, bool) or not
                                                             isinstance(v, (int, float))) for v in r):
                raise MappingError(f"{where}.range must be [low, high] (numbers or null)")
            low, high = (None if v is None else float(v) for v in r)
        if unit == "%" and (low is None or high is None or low < 0 or high > 100):
            raise MappingError(f"{where}.range: a percentage lies within 0-100")
        return cls(m["id"], m["label"].strip(), unit, fmt, m.get("direction"), m["grain"], int(start), low, high,
                   m["method"].strip(), str(m.get("description") or "").strip(), bool(m.get("public", True)))

    def target(self, base: Target) -> Target:
        """The reported_measures target with this measure's unit and range rules."""
        unit = self.unit if self.unit in UNITS else None
        cols = tuple(replace(c, unit=unit) if c.name == "value" else c for c in base.columns)
        rules = []
        if self.low is not None:
            rules.append((f"value < {float(self.low)!r}", f"{self.label}: below {self.low:g} {self.unit}"))
        if self.high is not None:
            rules.append((f"value > {float(self.high)!r}", f"{self.label}: above {self.high:g} {self.unit}"))
        return replace(base, columns=cols, rules=tuple(rules))

    def period_sql(self, batch: Batch) -> str:
        """SQL over the cleaned header/cell {x}: the first day of the period it names (NULL if it
        names none): a calendar year "2024"; a fiscal year "FY2024" (named by the year it ends in,
        as in the US and Australia), "2023-24", "2023/2024" or "FY2023-24" (named by both years)."""
        m = batch.bind(self.fiscal_year_start)
        if self.grain == "year":
            return f"make_date(TRY_CAST(regexp_extract({{x}}, {batch.bind(_YEAR)}, 1) AS INTEGER), 1, 1)"
        first = f"TRY_CAST(regexp_extract({{x}}, {batch.bind(_FY_RANGE)}, 1) AS INTEGER)"
        second = f"TRY_CAST(regexp_extract({{x}}, {batch.bind(_FY_RANGE)}, 2) AS INTEGER)"
        one = f"TRY_CAST(regexp_extract({{x}}, {batch.bind(_FY_ONE)}, 1) AS INTEGER)"
        one4 = f"(CASE WHEN {one} < 100 THEN 2000 + {one} ELSE {one} END)"
        # a two-year label names a fiscal year that starts in the first and ends in the second
        ranged = (f"(CASE WHEN {m} > 1 AND ({second} = {first} + 1 OR ({second} < 100 AND {second} = ({first} + 1) % 100)) "
                  f"THEN make_date({first}, {m}, 1) END)")
        ends_in = f"make_date(CASE WHEN {m} > 1 THEN {one4} - 1 ELSE {one4} END, {m}, 1)"
        return f"(CASE WHEN {first} IS NOT NULL THEN {ranged} WHEN {one} IS NOT NULL THEN {ends_in} END)"

    def bad_period(self, column: str) -> str:
        if self.grain == "fiscal_year":
            return f"bad date: {column} (not a fiscal year like FY2024 or 2023-24)"
        if self.grain == "year":
            return f"bad date: {column} (not a year like 2024)"
        return f"bad date: {column}"

    def label_sql(self, period: str) -> str:
        """SQL: the period as the department names it (FY2023-24 / 2024 / 2024-03)."""
        if self.grain == "month":
            return f"strftime({period}, '%Y-%m')"
        if self.grain == "year" or self.fiscal_year_start == 1:
            return f"strftime({period}, '%Y')"
        return f"('FY' || strftime({period}, '%Y') || '-' || strftime({period} + INTERVAL 1 YEAR, '%y'))"

    def end_sql(self, period: str) -> str:
        return f"CAST({period} + INTERVAL {'1 MONTH' if self.grain == 'month' else '1 YEAR'} AS DATE)"


class Mapping:
    """A YAML mapping of the generic adapter, checked whole when it is read: every key known,
    the target and its required fields mapped, the source, CSV dialect, time zone, the wide-table
    unpivot and the district rule valid. An error names the key (``MappingError``)."""

    def __init__(self, doc: dict, origin: str = "mapping"):
        self.origin = origin
        if not isinstance(doc, dict):
            raise MappingError(f"{origin}: expected a YAML mapping at the top level")
        self.doc = doc
        unknown = set(doc) - {"source", "target", "csv", "timestamp_format", "date_format", "fields",
                              "district", "dedup", "update_existing", "timezone", "max_quarantined_share",
                              "keep_rows", "unpivot", "measure"}
        if unknown:
            raise MappingError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}")
        self._read_target(doc)
        src = self._read_source(doc)
        self._read_csv(doc)
        self._read_options(doc)
        self._read_unpivot(doc, src)
        self._read_fields(doc)
        self._read_district(doc)
        dd = doc.get("dedup")
        self.dedup = list(dd) if isinstance(dd, list) else list(self.target.dedup)
        self.update_existing = bool(doc.get("update_existing", True))

    def _read_target(self, doc: dict) -> None:
        """target: (and measure: for reported_measures): the table the rows go to."""
        origin = self.origin
        table = doc.get("target")
        if table not in TARGETS:
            raise MappingError(f"{origin}: target must be one of {', '.join(sorted(TARGETS))}, got {table!r}")
        self.target: Target = TARGETS[table]
        # a reported measure (a department's own rate or index): its name, unit, range, period
        self.measure = ReportedMeasure.parse(doc.get("measure"), origin) if table == "reported_measures" else None
        if self.measure is None and doc.get("measure") is not None:
            raise MappingError(f"{origin}: measure: is for target: reported_measures (a figure the department "
                               "computes itself)")
        if self.measure is not None:
            self.target = self.measure.target(self.target)

    def _read_source(self, doc: dict) -> dict:
        """source: id, name, licence, domain, grain (a year grain only for a reported measure)."""
        origin = self.origin
        src = doc.get("source")
        if not isinstance(src, dict) or not src.get("id"):
            raise MappingError(f"{origin}: source.id is required (and source.name, licence, description)")
        domain = src.get("domain", self.target.domain)
        if domain not in DOMAINS:
            raise MappingError(f"{origin}: source.domain must be one of {', '.join(sorted(DOMAINS))}")
        grain = src.get("grain", self.measure.grain if self.measure else "hour")
        if self.measure is not None:
            if grain != self.measure.grain:
                raise MappingError(f"{origin}: source.grain {grain!r} differs from measure.grain "
                                   f"{self.measure.grain!r}; give the period once, as measure.grain")
        elif grain in ("year", "fiscal_year"):
            raise MappingError(f"{origin}: source.grain {grain!r}: the dashboard's metrics are computed by hour, day, "
                               "week and month, so a yearly total cannot feed them (it would be published as one "
                               "month's); load a figure reported by year or fiscal year as target: reported_measures "
                               "(published as reported, per year), with measure.grain")
        elif grain not in GRAINS:
            raise MappingError(f"{origin}: source.grain must be one of {', '.join(GRAINS)} (the finest period "
                               f"one row describes: month for monthly totals), got {grain!r}")
        self.source = Source(str(src["id"]), str(src.get("name") or src["id"]), domain,
                             str(src.get("licence") or "not stated"), str(src.get("description") or ""), grain,
                             str(src["publisher"]).strip() if src.get("publisher") else None)
        return src

    def _read_csv(self, doc: dict) -> None:
        """csv: the dialect (delimiter, quote, encoding)."""
        origin = self.origin
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

    def _read_options(self, doc: dict) -> None:
        """Formats, the zone of naive times, the share of rows a load may quarantine, keep_rows."""
        origin = self.origin
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

    def _read_unpivot(self, doc: dict, src: dict) -> None:
        """unpivot: a wide table's columns (a list or a pattern) and the two new columns."""
        origin = self.origin
        # a wide table (one column per month): {columns: [..] or pattern: REGEX, name: N, value: V};
        # the fields then read N (the header, e.g. "Jan 2024") and V (the cell)
        wide = doc.get("unpivot")
        if wide is not None:
            if not isinstance(wide, dict) or not {"name", "value"} <= set(wide) or len(set(wide) & {"columns", "pattern"}) != 1 \
                    or set(wide) - {"name", "value", "columns", "pattern"}:
                raise MappingError(f"{origin}: unpivot must be {{columns: [...] or pattern: REGEX, name: NEW_COLUMN, "
                                   "value: NEW_COLUMN}")
            if "pattern" in wide:
                try:
                    re.compile(str(wide["pattern"]))
                except re.error as exc:
                    raise MappingError(f"{origin}: unpivot.pattern is not a regular expression: {exc}") from None
            elif not isinstance(wide["columns"], list) or not wide["columns"]:
                raise MappingError(f"{origin}: unpivot.columns must be a list of column names")
            if "grain" not in src and self.measure is None:
                raise MappingError(f"{origin}: a wide table holds totals per period: give source.grain (day or month)")
        self.unpivot = wide

    def _read_fields(self, doc: dict) -> None:
        """fields: target field -> a column, or a spec (format, map, expr, value, filename ...)."""
        origin = self.origin
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

    def _read_district(self, doc: dict) -> None:
        """district: a key column and/or a point (x/y, lon/lat, point, geometry) or whole_city."""
        origin = self.origin
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
        if "layer" in d and (not isinstance(d["layer"], str) or not LAYER_NAME.match(d["layer"])):
            raise MappingError(f"{origin}: district.layer must be the name a boundary layer was loaded with "
                               f"(boundaries --layer NAME), got {d['layer']!r}")
        if "layer" in d and d.get("whole_city") is True:
            raise MappingError(f"{origin}: district: whole_city is one district of no layer; drop layer")
        self.district = d
        self.crs = d.get("crs")
        parse_crs(self.crs)  # validates

    def _check_field(self, col, spec: dict) -> None:
        """Validate one field spec against its target column (a one-line error naming it)."""
        where = f"{self.origin}: fields.{col.name}"
        _check_map(where, col, spec)
        _check_options(where, col, spec)
        _check_unit(where, col, spec)

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
        made = {self.unpivot["name"], self.unpivot["value"]} if self.unpivot else set()
        cols = [s["column"] for s in self.fields.values() if "column" in s and s["column"] not in made]
        d = self.district
        cols += [d[k] for k in ("column", "x", "y", "lon", "lat", "point") if k in d]
        if self.keep_rows:
            cols.append(self.keep_rows["column"])
        return list(dict.fromkeys(cols))


def _check_map(where: str, col, spec: dict) -> None:
    """A field's value map: a mapping, to numbers for a number field, only on text or numbers."""
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


def _check_options(where: str, col, spec: dict) -> None:
    """unmapped, expr (numbers only, alone), coordinate and its point format, filename (times only)."""
    numeric = col.kind in ("double", "int", "bigint")
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


def _check_unit(where: str, col, spec: dict) -> None:
    """unit: convertible to the column's unit; a tonnage column refuses a column named like a rate."""
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


def _field(mp: Mapping, col, spec: dict | None, batch: Batch, header: list[str], checks: list) -> Field:
    """The staged field of one target column; extra rules it needs are appended to ``checks``."""
    if spec is None:
        return Field(col.name, None, col.kind)
    common = dict(required=col.required, future_ok=col.future_ok)
    if "value" in spec:
        return Field(col.name, None, col.kind, sql=f"TRY_CAST({batch.bind(str(spec['value']))} AS {SQL_TYPES[col.kind]})",
                     **common)
    if "filename" in spec:
        ts = _file_time(mp, col, spec, batch)
        return Field(col.name, None, col.kind, sql=f"CAST({batch.bind(ts)} AS {SQL_TYPES[col.kind]})", **common)
    factor = UNITS[col.unit][str(spec["unit"]).lower()] if "unit" in spec else 1.0
    cleaning = dict(thousands=spec.get("thousands"), decimal=spec.get("decimal"))
    if mp.measure is not None and col.name == "period" and mp.measure.grain != "month" and "column" in spec:
        # a year or fiscal year as the department names it ("FY2024", "2023-24") -> its first day
        return Field(col.name, qi(spec["column"]), "date", label=spec["column"], sql=mp.measure.period_sql(batch),
                     bad=mp.measure.bad_period(spec["column"]), **common)
    if "expr" in spec:
        return _expr_field(mp, col, spec, batch, header, factor, cleaning, common)
    column = spec["column"]
    # values outside a map: kept (default), NULL, or quarantined; a closed vocabulary quarantines
    unmapped = spec.get("unmapped", "quarantine" if col.vocabulary else "keep")
    sql, bad = _value_sql(col, spec, batch, factor, unmapped)
    if col.normalise:
        sql = col.normalise.replace("{x}", sql) if sql else col.normalise
    strict = col.strict
    if col.vocabulary and unmapped != "keep":
        sql = _vocabulary(col, column, sql, unmapped, batch, checks)
    elif "map" in spec:
        strict = unmapped == "quarantine" or (strict and col.normalise is not None) or col.kind in ("double", "int", "bigint")
        if unmapped == "null":
            strict = False
    return Field(col.name, qi(column), col.kind, label=column, formats=_formats(mp, col, spec), sql=sql, bad=bad,
                 strict=strict, naive_tz=bool(mp.timezone), **cleaning, **common)


def _expr_field(mp: Mapping, col, spec: dict, batch: Batch, header: list[str], factor: float, cleaning: dict,
                common: dict) -> Field:
    """A number computed from columns (``expr:``), its literals bound, converted by ``factor``."""
    def column_sql(name: str) -> str:
        return Field("_", qi(name), **cleaning).cleaned(batch.bind)
    compiled = compile_expr(spec["expr"], f"{mp.origin}: fields.{col.name}", batch.bind, column_sql, header)
    value = compiled.sql if factor == 1.0 else f"({compiled.sql} * CAST({batch.bind(factor)} AS DOUBLE))"
    return Field(col.name, any_present(compiled.columns, qi), col.kind, label=str(spec["expr"]),
                 sql=_as_kind(value, col.kind), bad=f"bad number: {spec['expr']}", strict=True, **common)


def _formats(mp: Mapping, col, spec: dict) -> list[str] | None:
    """The strptime formats of a time field: its own, else the mapping's timestamp/date format."""
    fmt = spec.get("formats") or spec.get("format")
    if fmt is None and col.kind == "timestamp":
        fmt = mp.ts_format
    if fmt is None and col.kind == "date":
        fmt = mp.date_format or mp.ts_format
    return [fmt] if isinstance(fmt, str) else list(fmt) if fmt else None


def _value_sql(col, spec: dict, batch: Batch, factor: float, unmapped: str) -> tuple[str | None, str | None]:
    """(SQL over the cleaned value {x} replacing the plain cast, its reason when it gives NULL) for
    a coordinate out of a point column, a value map, or a unit conversion; (None, None) otherwise."""
    column = spec["column"]
    numeric = col.kind in ("double", "int", "bigint")
    if "coordinate" in spec:   # lat or lon out of one point column
        part = point_part("{x}", spec.get("point_format", "lat,lon"), spec["coordinate"], batch.bind)
        return _as_kind(f"TRY_CAST({part} AS DOUBLE)", col.kind), None
    if "map" in spec and numeric:   # a text status that means a number
        v = _map_sql(batch, spec["map"], unmapped, numeric=True)
        if factor != 1.0:
            v = f"({v} * CAST({batch.bind(factor)} AS DOUBLE))"
        sql = _as_kind(v, col.kind)
        if unmapped == "null":
            mapped = " OR ".join(f"{{x}} = {batch.bind(str(k).strip())}" for k in spec["map"])
            sql = f"(CASE WHEN {mapped} THEN {sql} END)"
        return sql, f"bad value: {column}"
    if "map" in spec:   # (a closed vocabulary is checked after the map and normalisation, by _vocabulary)
        return _map_sql(batch, spec["map"], "keep" if col.vocabulary else unmapped), f"bad value: {column}"
    if factor != 1.0:
        base = Field("_", "x", col.kind if col.kind != "int" else "double").typed(batch.bind).replace("nullif(trim(x), '')", "{x}")
        return _as_kind(f"({base} * CAST({batch.bind(factor)} AS DOUBLE))", col.kind), None
    return None, None


def _vocabulary(col, column: str, sql: str | None, unmapped: str, batch: Batch, checks: list) -> str | None:
    """A closed vocabulary (channel: phone/online/app): a value outside it, after the map, is
    quarantined (the default: a rule appended to ``checks``) or, with unmapped: null, left empty."""
    vocab = ", ".join(batch.bind(v) for v in col.vocabulary)
    if unmapped == "null":
        inner = sql or "{x}"
        return f"(CASE WHEN ({inner}) IN ({vocab}) THEN ({inner}) END)"
    checks.append((f"{qi(col.name)} IS NOT NULL AND {qi(col.name)} NOT IN ({vocab})",
                   f"bad value: {column} (not {'/'.join(col.vocabulary)})"))
    return sql


def _district_point(d: dict, header: list[str], bind: Bind) -> tuple[list[Field], str | None, str | None]:
    """Staged fields of the district point: (fields, lon field, lat field)."""
    if "point" in d:
        fmt = d.get("point_format", "lat,lon")
        col = d["point"]
        return ([Field("_x", qi(col), "double", label=col, sql=_as_kind(f"TRY_CAST({point_part('{x}', fmt, 'lon', bind)} AS DOUBLE)", "double")),
                 Field("_y", qi(col), "double", label=col, sql=_as_kind(f"TRY_CAST({point_part('{x}', fmt, 'lat', bind)} AS DOUBLE)", "double"),
                       bad=f"bad coordinates: {col}")], "_x", "_y")
    if d.get("geometry") is True:
        return ([Field("_x", qi(GEOM_LON), "double", label="geometry"), Field("_y", qi(GEOM_LAT), "double", label="geometry")],
                "_x", "_y")
    xs, ys = (d.get("x"), d.get("y")) if "x" in d else (d.get("lon"), d.get("lat"))
    if xs and ys:
        return ([Field("_x", qi(xs), "double", label=xs, decimal=d.get("decimal")),
                 Field("_y", qi(ys), "double", label=ys, decimal=d.get("decimal"))], "_x", "_y")
    return [], None, None


# ------------------------------------------------------------------------------ geo files
GEOM_LON, GEOM_LAT = "__geometry_lon", "__geometry_lat"


def read_geo(batch: Batch, mp: Mapping) -> list[str]:
    """Attributes and a representative point of every feature of a GeoJSON / GeoPackage /
    Shapefile (read with geopandas/pyogrio) as the raw rows."""
    import geopandas as gpd
    import numpy as np


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
               for c, v in zip(attrs, row, strict=False)}
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
    if not (lon and lat):
        raise WarehouseStateError("whole_city: the warehouse has no whole-city district and the rows have no "
                                  "points to outline one: create it first (python -m data.ingest grid FILE "
                                  "--shape city) or give district lon/lat or point")
    ext = con.execute(POINT_EXTENT, {"lon": lon, "lat": lat}).fetchall()[0]
    if ext[0] is None:
        raise WarehouseStateError("whole_city: no row has a valid point to outline the city with")
    boundaries.write_cells(batch, boundaries.grid_cells(tuple(float(v) for v in ext), shape="city"),
                           count_rows=False)


def _unpivot(batch: Batch, mp: Mapping, header: list[str]) -> list[str]:
    wide = mp.unpivot
    if "pattern" in wide:
        cols = [c for c in header if re.fullmatch(str(wide["pattern"]), c)]
    else:
        missing = [c for c in wide["columns"] if c not in header]
        if missing:
            raise MappingError(f"{mp.origin}: unpivot.columns: {', '.join(repr(c) for c in missing)} not in the file")
        cols = [str(c) for c in wide["columns"]]
    if not cols:
        raise MappingError(f"{mp.origin}: unpivot.pattern {wide['pattern']!r} matches no column of the file "
                           f"({', '.join(header[:8])})")
    clash = [c for c in (wide["name"], wide["value"]) if c in header and c not in cols]
    if clash:
        raise MappingError(f"{mp.origin}: unpivot: {', '.join(clash)} is already a column; choose other names")
    batch.unpivot(cols, str(wide["name"]), str(wide["value"]))
    return batch.raw_columns


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
    if mp.unpivot:
        header = _unpivot(batch, mp, header)
    checks: list[tuple[str, str]] = []
    keep: list[Field] = []
    if mp.keep_rows:   # first: an excluded row is excluded whatever else is wrong with it
        col = str(mp.keep_rows["column"])
        values = ", ".join(batch.bind(str(v)) for v in mp.keep_rows["values"])
        keep.append(Field("__keep", qi(col), label=col))
        checks.append((f"__keep IS NULL OR __keep NOT IN ({values})",
                       f"excluded by the mapping: {col} not {' / '.join(str(v) for v in mp.keep_rows['values'])}"))
    fields = keep + [_field(mp, col, mp.fields.get(col.name), batch, header, checks) for col in mp.target.columns]
    d = mp.district
    district = Districting()
    if "column" in d:
        unmapped = d.get("unmapped", "keep")
        sql = _map_sql(batch, d["map"], unmapped) if isinstance(d.get("map"), dict) else None
        if d.get("layer"):   # the key of a district in a named layer: NAME:<key>
            sql = f"(CAST({batch.bind(str(d['layer']) + ':')} AS VARCHAR) || {sql or '{x}'})"
        fields.append(Field("district_key", qi(d["column"]), sql=sql, label=d["column"],
                            strict=unmapped == "quarantine", bad=f"unknown district: {d['column']} not in district.map"))
        district.key = "district_key"
    elif d.get("whole_city") is True and mp.measure is not None:
        pass   # a citywide reported figure: district 'city' (the whole city), no boundaries needed
    elif d.get("whole_city") is True:
        fields.append(Field("district_key", None, sql=f"CAST({batch.bind(WHOLE_CITY)} AS VARCHAR)"))
        district.key = "district_key"
    point_fields, lon, lat = _district_point(d, header, batch.bind)
    fields += point_fields
    if lon and lat:
        district.lon, district.lat, district.crs = lon, lat, mp.crs
    district.layer = d.get("layer")
    missing = [c for c in mp.dedup if c not in {f.name for f in fields} | {"district_id"}]
    if missing:
        raise MappingError(f"{mp.origin}: dedup: unknown field(s) {', '.join(missing)}")
    if d.get("whole_city") is True and mp.measure is None:
        # stage without the key first to outline the city from the points, then with it
        batch.stage([f for f in fields if f.name != "district_key"], ())
        ensure_whole_city(batch, lon, lat)
        batch.districts_reset()
    batch.stage(fields, [*checks, *mp.target.rules], district=district, dedup=mp.dedup or None,
                dedup_reason=("duplicate " + ", ".join(mp.dedup)) if mp.dedup else None)
    cols = {c.name: c.name for c in mp.target.columns}
    t = mp.target
    if mp.measure is not None:
        _insert_measure(batch, mp, citywide=d.get("whole_city") is True)
        return
    batch.insert(t.table, cols, upsert_key=t.upsert_key if mp.update_existing else (), time_expr=t.time,
                 replace_pk=t.primary_key)


def _insert_measure(batch: Batch, mp: Mapping, *, citywide: bool) -> None:
    """A reported measure: its definition (one per id; another source's id stops the load) and its
    figures as reported, per period."""
    me = mp.measure
    spec = mp.fields.get("value") or {}
    if me.unit == "%" and "unit" not in spec and "expr" not in spec:
        # 0.62 published as "0.62 %" would be a silent wrong number: a share needs unit: fraction
        n, top = batch.con.execute("SELECT count(*), max(abs(value)) FROM checked WHERE _reason IS NULL").fetchone()
        if n and n >= 2 and top is not None and 0 < top <= 1:
            raise MappingError(f"{mp.origin}: measure {me.id}: every value lies between 0 and 1 (largest {top:g}): "
                               "these look like fractions, not percentages; set fields.value.unit: fraction "
                               "(or give the values in %)")
    owner = batch.con.execute("SELECT source_id FROM reported_measure_defs WHERE measure_id = $m",
                              {"m": me.id}).fetchone()
    if owner and owner[0] != batch.source.source_id:
        raise MappingError(f"{mp.origin}: measure.id {me.id!r} is already reported by source {owner[0]!r}; "
                           "give this measure its own id")
    batch.con.execute(
        "INSERT OR REPLACE INTO reported_measure_defs (measure_id, source_id, label, unit, format, direction, grain, "
        "fiscal_year_start, method, description, public) VALUES ($id, $s, $label, $unit, $fmt, $dir, $grain, $fy, "
        "$method, $desc, $public)",
        {"id": me.id, "s": batch.source.source_id, "label": me.label, "unit": me.unit, "fmt": me.format,
         "dir": me.direction, "grain": me.grain, "fy": me.fiscal_year_start, "method": me.method,
         "desc": me.description, "public": me.public})
    cols = {"measure_id": f"CAST({batch.bind(me.id)} AS VARCHAR)", "period": "period",
            "period_end": me.end_sql("period"), "grain": f"CAST({batch.bind(me.grain)} AS VARCHAR)",
            "label": me.label_sql("period"), "value": "value"}
    if citywide:
        cols["district_id"] = "'city'"
    batch.insert("reported_measures", cols, upsert_key=("measure_id", "period", "district_id")
                 if mp.update_existing else (), time_expr="period")
