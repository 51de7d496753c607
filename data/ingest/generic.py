"""Generic CSV adapter driven by a small YAML mapping: a city loads its own parking, waste,
service-request (or any other fact table of :mod:`data.ingest.targets`) data with no code.

See ``data/ingest/README.md`` for the mapping reference and ``data/samples/mappings/`` for
worked examples. Everything is validated in bulk in DuckDB like the city adapters: casts,
required fields, the target's range rules, dates, district (key or point-in-polygon after
reprojection from the given CRS), duplicates.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from data.ingest.core import Batch, Districting, F, MappingError, Source, ql, qi
from data.ingest.geo import parse_crs
from data.ingest.targets import TARGETS, Target
from data.registry import GRAINS

DOMAINS = {"transport", "waste", "parking", "satisfaction", "geography"}
FIELD_KEYS = {"column", "format", "formats", "decimal", "thousands", "map", "value"}
SQL_TYPES = {"varchar": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
             "timestamp": "TIMESTAMP", "date": "DATE"}


class Mapping:
    def __init__(self, doc: dict, origin: str = "mapping"):
        self.origin = origin
        if not isinstance(doc, dict):
            raise MappingError(f"{origin}: expected a YAML mapping at the top level")
        self.doc = doc
        unknown = set(doc) - {"source", "target", "csv", "timestamp_format", "date_format", "fields",
                              "district", "dedup", "update_existing", "timezone"}
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
            if not isinstance(spec, dict) or not (set(spec) & {"column", "value"}) or set(spec) - FIELD_KEYS:
                raise MappingError(f"{origin}: fields.{name}: a column name, or {{column: ..., format: ..., "
                                   f"decimal: ..., thousands: ..., map: {{...}}}} or {{value: ...}}")
            self.fields[name] = spec
        d = doc.get("district")
        if not isinstance(d, dict) or not ({"column"} <= set(d) or {"x", "y"} <= set(d) or {"lon", "lat"} <= set(d)):
            raise MappingError(f"{origin}: district needs column (a district id) and/or x/y (or lon/lat) with crs")
        self.district = d
        self.crs = d.get("crs")
        parse_crs(self.crs)  # validates
        dd = doc.get("dedup")
        self.dedup = list(dd) if isinstance(dd, list) else list(self.target.dedup)
        self.update_existing = bool(doc.get("update_existing", True))

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

    def columns_used(self) -> list[str]:
        cols = [s["column"] for s in self.fields.values() if "column" in s]
        d = self.district
        cols += [d[k] for k in ("column", "x", "y", "lon", "lat") if k in d]
        return list(dict.fromkeys(cols))


def _map_sql(mapping: dict) -> str:
    whens = " ".join(f"WHEN {ql(str(k))} THEN {ql(str(v))}" for k, v in mapping.items())
    return f"(CASE {{x}} {whens} ELSE {{x}} END)"


def _field(mp: Mapping, col, spec: dict | None) -> F:
    if spec is None:
        return F(col.name, None, col.kind)
    if "value" in spec:
        return F(col.name, None, col.kind, required=col.required,
                 sql=f"TRY_CAST({ql(str(spec['value']))} AS {SQL_TYPES[col.kind]})")
    column = spec["column"]
    fmt = spec.get("formats") or spec.get("format")
    if fmt is None and col.kind == "timestamp":
        fmt = mp.ts_format
    if fmt is None and col.kind == "date":
        fmt = mp.date_format or mp.ts_format
    formats = [fmt] if isinstance(fmt, str) else list(fmt) if fmt else None
    sql = None
    if "map" in spec:
        if not isinstance(spec["map"], dict):
            raise MappingError(f"{mp.origin}: fields.{col.name}.map must be a mapping value -> value")
        if col.kind != "varchar":
            raise MappingError(f"{mp.origin}: fields.{col.name}: map is for text fields only")
        sql = _map_sql(spec["map"])
    if col.normalise:
        sql = col.normalise.replace("{x}", sql) if sql else col.normalise
    return F(col.name, qi(column), col.kind, required=col.required, label=column, formats=formats, sql=sql,
             thousands=spec.get("thousands"), decimal=spec.get("decimal"), future_ok=col.future_ok,
             strict=col.strict)


def load(batch: Batch) -> None:
    mp: Mapping = batch.options["mapping"]
    batch.read_csv(mp.columns_used(), delimiter=mp.delimiter, quote=mp.quote, encoding=mp.encoding)
    fields = [_field(mp, col, mp.fields.get(col.name)) for col in mp.target.columns]
    d = mp.district
    district = Districting()
    if "column" in d:
        sql = _map_sql(d["map"]) if isinstance(d.get("map"), dict) else None
        fields.append(F("district_key", qi(d["column"]), sql=sql, label=d["column"]))
        district.key = "district_key"
    xs, ys = (d.get("x"), d.get("y")) if "x" in d else (d.get("lon"), d.get("lat"))
    if xs and ys:
        fields += [F("_x", qi(xs), "double", label=xs, decimal=d.get("decimal")),
                   F("_y", qi(ys), "double", label=ys, decimal=d.get("decimal"))]
        district.lon, district.lat, district.crs = "_x", "_y", mp.crs
    missing = [c for c in mp.dedup if c not in {f.name for f in fields} | {"district_id"}]
    if missing:
        raise MappingError(f"{mp.origin}: dedup: unknown field(s) {', '.join(missing)}")
    batch.stage(fields, mp.target.rules, district=district, dedup=mp.dedup or None,
                dedup_reason=("duplicate " + ", ".join(mp.dedup)) if mp.dedup else None)
    cols = {c.name: c.name for c in mp.target.columns}
    t = mp.target
    batch.insert(t.table, cols, upsert_key=t.upsert_key if mp.update_existing else (), time_expr=t.time,
                 replace_pk=t.primary_key)
