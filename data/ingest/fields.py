"""The field compiler: a declared field of the staged rows (:class:`Field`) as DuckDB SQL over the
raw all-VARCHAR columns, and how rows get their district (:class:`Districting`).

Adapters declare fields; :meth:`data.ingest.batch.Batch.stage` compiles them into one
``CREATE TABLE checked AS SELECT``. Every value a field carries (a thousands or decimal mark,
strptime formats) goes into the SQL as a bound parameter through the ``bind`` callable the
batch passes (it returns a ``$name`` placeholder); only SQL the code itself wrote is inlined.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

Bind = Callable[[Any], str]   # a value -> the placeholder of a bound parameter ("$__l3")


@dataclass
class Field:
    """One typed field of the staged rows.

    ``src`` is an SQL expression over the raw (all-VARCHAR) columns, usually ``qi(column)``;
    ``kind`` decides the cast (varchar, int, bigint, double, timestamp, date, epoch, tstz,
    bool); a value present in the source but not castable gives the reason
    ``bad <kind>: <label>``; a required field that is empty gives ``missing: <label>``.
    ``sql`` replaces the cast with a custom expression (``{x}`` = the cleaned source value).
    """

    name: str
    src: str | None = None
    kind: str = "varchar"
    required: bool = False
    label: str | None = None
    formats: Sequence[str] | None = None     # strptime formats for timestamp/date
    sql: str | None = None
    thousands: str | None = None             # e.g. "," in "1,227"
    decimal: str | None = None               # e.g. "," in "12,5"
    bad: str | None = None                   # reason when the value does not parse (default 'bad <kind>: <label>')
    strict: bool = True                      # False: an unrecognised value becomes NULL, no quarantine
    future_ok: bool = False                  # due dates may lie in the future
    check_range: bool = True                 # dates: not before 1900, not in the future
    naive_tz: bool = False                   # timestamps: naive values are in the source's zone
                                             # (SET VARIABLE ingest_src_tz), not city time

    def cleaned(self, bind: Bind) -> str:
        """SQL: the source value trimmed, empty as NULL, without its thousands mark and with a
        decimal point (the marks are bound)."""
        x = f"nullif(trim({self.src}), '')"
        if self.thousands:
            x = f"replace({x}, {bind(self.thousands)}, '')"
        if self.decimal:
            x = f"replace({x}, {bind(self.decimal)}, '.')"
        return x

    def typed(self, bind: Bind) -> str:
        """SQL: the cleaned value cast to the field's kind, NULL when it does not cast."""
        x = self.cleaned(bind) if self.src is not None else "NULL"
        if self.sql is not None:
            return self.sql.replace("{x}", x)
        k = self.kind
        if k == "varchar":
            return x
        if k == "double":
            return f"(CASE WHEN isfinite(TRY_CAST({x} AS DOUBLE)) THEN TRY_CAST({x} AS DOUBLE) END)"
        if k in ("int", "bigint"):
            limit = 2**31 if k == "int" else 2**53
            typ = "INTEGER" if k == "int" else "BIGINT"
            d = f"TRY_CAST({x} AS DOUBLE)"
            return f"(CASE WHEN {d} = round({d}) AND abs({d}) < {limit} THEN CAST({d} AS {typ}) END)"
        if k in ("timestamp", "date"):
            if k == "timestamp":
                return timestamp_sql(x, self.formats, bind, self.naive_tz)
            if self.formats:
                expr = f"try_strptime({x}, {bind(list(self.formats))})"
            else:
                expr = f"TRY_CAST({x} AS TIMESTAMP)"
            return f"CAST({expr} AS DATE)"
        if k == "epoch":   # POSIX seconds -> city local time
            return f"CAST(timezone(getvariable('ingest_tz'), to_timestamp(TRY_CAST({x} AS DOUBLE))) AS TIMESTAMP)"
        if k == "tstz":    # ISO 8601 with or without offset -> city local time
            return f"CAST(timezone(getvariable('ingest_tz'), TRY_CAST({x} AS TIMESTAMPTZ)) AS TIMESTAMP)"
        if k == "bool":
            return f"TRY_CAST({x} AS BOOLEAN)"
        raise ValueError(f"unknown field kind {k!r}")

    @property
    def display_name(self) -> str:
        """The name a reason and a quarantined row's JSON give the field: its label, else its
        source column, else its own name."""
        if self.label:
            return self.label
        return self.src.strip('"') if self.src else self.name

    @property
    def is_time(self) -> bool:
        return self.kind in ("timestamp", "date", "epoch", "tstz")


# A time of day followed by a UTC offset or Z ("2025-03-14T13:20:00Z", "... 13:20+01:00"): the
# test of a value {x}, a constant of the code (no input reaches it).
OFFSET_TEST = r"regexp_matches({x}, '\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|[+-]\d\d(:?\d\d)?)$')"


def timestamp_sql(x: str, formats: Sequence[str] | None, bind: Bind, naive_tz: bool = False) -> str:
    """A text value as a naive city-time TIMESTAMP. A value with a UTC offset or Z is converted
    to city time (``ingest_tz``); a naive value is city time already, or, with ``naive_tz``, in
    the zone ``ingest_src_tz`` and converted. (A plain cast to TIMESTAMP drops the offset:
    "13:20Z" would be stored as 13:20 city time.) The formats are bound."""
    city = "getvariable('ingest_tz')"
    if formats:
        fmts = bind(list(formats))
        if any("%z" in f or "%Z" in f for f in formats):   # strptime gives TIMESTAMPTZ
            return f"CAST(timezone({city}, try_strptime({x}, {fmts})) AS TIMESTAMP)"
        naive = f"try_strptime({x}, {fmts})"
        offset = None
    else:
        naive = f"TRY_CAST({x} AS TIMESTAMP)"
        offset = f"CAST(timezone({city}, TRY_CAST({x} AS TIMESTAMPTZ)) AS TIMESTAMP)"
    if naive_tz:
        naive = f"CAST(timezone({city}, timezone(getvariable('ingest_src_tz'), {naive})) AS TIMESTAMP)"
    if offset is None:
        return naive
    return f"(CASE WHEN {OFFSET_TEST.replace('{x}', x)} THEN {offset} ELSE {naive} END)"


KIND_WORD = {"double": "number", "int": "integer", "bigint": "integer", "timestamp": "date",
             "date": "date", "epoch": "timestamp", "tstz": "date", "bool": "boolean",
             "varchar": "value"}


@dataclass
class Districting:
    """How rows get their district: ``key`` (a staged field holding the district id) and/or a
    point (``lon``/``lat`` staged fields in ``crs``), used for rows whose key is NULL."""

    key: str | None = None
    lon: str | None = None
    lat: str | None = None
    crs: str | None = None
    layer: str | None = None   # the boundary layer (boundaries --layer NAME); None: the base layer

