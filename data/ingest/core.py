"""Shared machinery of the ingest adapters: files, batches, staging, validation, quarantine.

One file is one load batch and one transaction::

    run_file(con, adapter_name, source, path, load_fn)

1. the file is hashed (sha256, one pass that also counts its lines);
2. **idempotency**: if the same bytes were already loaded for the same source with the same
   adapter options (e.g. the same YAML mapping), nothing is done (status ``unchanged``); if an earlier, different version of the same path was loaded
   (``replace_same_path``), its rows and quarantine entries are deleted first and its batch is
   marked ``replaced``; all inside the transaction, so a failed reload keeps the old rows;
3. ``load_fn(batch)`` parses, validates and inserts (see :class:`Batch`);
4. ``rows_read == rows_loaded + rows_quarantined`` is checked, the file is recorded in
   ``ingest_files``, ``mark_dirty`` is called with the earliest data time touched, the batch is
   finished ``ok`` and the transaction commits. Any error rolls the transaction back and marks
   the batch ``failed``; an :class:`IngestError` carries a one-line message for the CLI.

Rows are validated in bulk in DuckDB: a CSV is read with ``read_csv(all_varchar=true,
store_rejects=true)`` into a temp table ``raw`` (rows the CSV reader itself rejects — wrong
column count, bad encoding — are quarantined with DuckDB's line number), then one
``CREATE TABLE checked AS SELECT`` casts every field with ``TRY_CAST``/``try_strptime`` and
computes the first failing rule as ``_reason``. District assignment is by key (a join on
``districts``) or by a vectorised point-in-polygon (:mod:`data.ingest.geo`). Rows with a
reason go to ``quarantine`` (file, line, reason, district when known, and the source values
of the fields the rule judged as JSON, never the whole row); the others are
inserted. No per-row Python loop touches the data.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd

from data import faults, warehouse

DEFAULT_TZ = "America/New_York"   # city-local time for epoch / offset timestamps (option --tz)
EARLIEST = datetime(1900, 1, 1)   # older dates are typos ("date out of range")
FUTURE_SLACK = timedelta(days=1)  # "in the future" = later than now + 1 day (clock/time-zone skew)

# Tables only the ingest core uses (the citywide fact tables live in data/schema.sql).
EXTRA_DDL = """
CREATE TABLE IF NOT EXISTS ingest_files (        -- one row per file loaded (its batch is 'ok')
    source_id VARCHAR NOT NULL, path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,                      -- content sha256 [+ ':' + hash of the adapter options]
    bytes BIGINT NOT NULL, batch_id BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS parking_violation_codes (  -- DOF code -> fine ($)
    code VARCHAR PRIMARY KEY, definition VARCHAR,
    fine_manhattan_96_below DOUBLE, fine_elsewhere DOUBLE,
    source_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS precinct_districts (       -- police precinct -> district (representative point)
    precinct VARCHAR PRIMARY KEY, district_id VARCHAR NOT NULL,
    manhattan_96_below BOOLEAN NOT NULL,
    source_id VARCHAR NOT NULL
);
"""

# Fact tables whose rows carry batch_id, with their data-time column (for mark_dirty), and the
# statements that find and delete a batch's rows in all of them: from schema.sql's declarations.
BATCH_TABLES = {name: table.time for name, table in warehouse.TABLES.items()}
BATCH_MIN_TIME = warehouse.BATCH_MIN_TIME
DELETE_BATCH_ROWS = warehouse.DELETE_BATCH_ROWS


# ------------------------------------------------------------------------------ errors

# The temporary tables of one load, dropped once it has committed.
DROP_WORK_TABLES = ("DROP TABLE IF EXISTS raw; DROP TABLE IF EXISTS checked; DROP TABLE IF EXISTS ingest_lines; "
                    "DROP TABLE IF EXISTS ingest_rej; DROP TABLE IF EXISTS ingest_rejects; "
                    "DROP TABLE IF EXISTS ingest_reject_scans")
# Line numbers of raw rows (static statements, the first row's rowid bound as $r0): by rowid
# when every row is one line, else by counting the newlines inside each row's values.
_LINES_BY_ROWID = "SELECT rowid AS _row, rowid - $r0 + 2 AS b FROM raw"
_LINES_COUNTED = (
    "SELECT _row, 2 + coalesce(sum(ext) OVER (ORDER BY _row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b "
    "FROM (SELECT rowid AS _row, 1 + length(concat_ws('', *COLUMNS(*))) "
    "- length(replace(concat_ws('', *COLUMNS(*)), chr(10), '')) AS ext FROM raw)"
)

class IngestError(Exception):
    """A file or an invocation that cannot be loaded at all. ``str()`` is one line; the CLI
    prints it without a traceback and exits with code 2."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class InputFileError(IngestError):
    """The file is missing, unreadable or not a regular file."""


class EmptyFileError(InputFileError):
    """The file has no bytes, or no data row."""


class FormatError(IngestError):
    """The file is not in the expected format (CSV dialect, JSON, GeoJSON, GBFS ...)."""


class MissingColumnsError(FormatError):
    """Required columns are absent (renamed, wrong delimiter, wrong file)."""


class MappingError(IngestError):
    """A YAML mapping for the generic adapter is invalid."""


class WarehouseStateError(IngestError):
    """The warehouse lacks something this load depends on (e.g. no districts loaded yet)."""


class InvariantError(IngestError):
    """Internal accounting error: rows read != rows loaded + rows quarantined."""


# ------------------------------------------------------------------------------ small helpers
def qi(name: str) -> str:
    """Quote an SQL identifier (column names come from file headers)."""
    return '"' + str(name).replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(EXTRA_DDL)


@dataclass(frozen=True)
class Source:
    source_id: str
    name: str
    domain: str
    licence: str
    description: str
    # the finest period its figures describe: 'hour' for timestamped records, 'day' for daily
    # totals, 'month' for monthly ones. Metrics on its table publish no finer grain.
    grain: str = "hour"
    publisher: str | None = None   # who publishes it (a department, a city): named on the public site

    def register(self, con) -> None:
        con.execute(
            "INSERT OR REPLACE INTO sources (source_id, name, domain, simulated, licence, description, grain, "
            "publisher) VALUES ($id, $name, $domain, false, $licence, $desc, $grain, $publisher)",
            {"id": self.source_id, "name": self.name, "domain": self.domain,
             "licence": self.licence, "desc": self.description, "grain": self.grain, "publisher": self.publisher},
        )

    def with_overrides(self, **kw) -> "Source":
        values = {k: v for k, v in kw.items() if v}
        return Source(**{**self.__dict__, **values})


@dataclass
class LoadResult:
    adapter: str
    source_id: str
    file: str
    status: str = "ok"                    # ok / unchanged / failed
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)   # table -> rows written
    replaced: int = 0                      # rows of earlier loads replaced (same key / same path)
    seconds: float = 0.0
    message: str = ""


# ------------------------------------------------------------------------------ progress
class Progress:
    """Plain stderr progress: one line per step; on a terminal a live bar fed by DuckDB's
    ``query_progress()`` (polled from a thread while the statement runs)."""

    def __init__(self, enabled: bool = False, stream=None, min_seconds: float = 1.0):
        self.enabled = enabled
        self.min_seconds = min_seconds   # steps shorter than this are not reported
        self.stream = stream or sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = ""

    def file(self, label: str) -> None:
        self.label = label

    def bar(self, what: str, pct: float) -> None:
        """A one-line bar on a terminal (overwritten by the next step's line)."""
        if self.tty:
            print(f"\r  {self.label}: {what:<12} [{'#' * int(pct / 5):<20}] {pct:5.1f}%", end="",
                  file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"  {self.label}: {text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, what: str, con: duckdb.DuckDBPyConnection | None = None):
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        stop = threading.Event()
        thread = None
        if self.tty and con is not None:
            def poll():
                while not stop.wait(0.25):
                    try:
                        pct = con.query_progress()
                    except Exception:  # noqa: BLE001 - progress is best effort
                        pct = -1
                    if pct is None or pct < 0:
                        continue
                    self.bar(what, pct)
            thread = threading.Thread(target=poll, daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join()
                print("\r" + " " * 79 + "\r", end="", file=self.stream)
            elapsed = time.perf_counter() - t0
            if elapsed >= self.min_seconds:
                print(f"  {self.label}: {what:<12} {elapsed:6.2f}s", file=self.stream, flush=True)


# ------------------------------------------------------------------------------ field specs
@dataclass
class F:
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

    def cleaned(self) -> str:
        x = f"nullif(trim({self.src}), '')"
        if self.thousands:
            x = f"replace({x}, {ql(self.thousands)}, '')"
        if self.decimal:
            x = f"replace({x}, {ql(self.decimal)}, '.')"
        return x

    def typed(self) -> str:
        x = self.cleaned() if self.src is not None else "NULL"
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
                return timestamp_sql(x, self.formats, self.naive_tz)
            if self.formats:
                fmts = "[" + ", ".join(ql(f) for f in self.formats) + "]"
                expr = f"try_strptime({x}, {fmts})"
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
    def nice(self) -> str:
        if self.label:
            return self.label
        return self.src.strip('"') if self.src else self.name

    @property
    def is_time(self) -> bool:
        return self.kind in ("timestamp", "date", "epoch", "tstz")


# A time of day followed by a UTC offset or Z ("2025-03-14T13:20:00Z", "... 13:20+01:00").
OFFSET_RE = r'\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|[+-]\d\d(:?\d\d)?)$'


def timestamp_sql(x: str, formats: Sequence[str] | None, naive_tz: bool = False) -> str:
    """A text value as a naive city-time TIMESTAMP. A value with a UTC offset or Z is converted
    to city time (``ingest_tz``); a naive value is city time already, or, with ``naive_tz``, in
    the zone ``ingest_src_tz`` and converted. (A plain cast to TIMESTAMP drops the offset:
    "13:20Z" would be stored as 13:20 city time.)"""
    city = "getvariable('ingest_tz')"
    if formats:
        fmts = "[" + ", ".join(ql(f) for f in formats) + "]"
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
    return f"(CASE WHEN regexp_matches({x}, {ql(OFFSET_RE)}) THEN {offset} ELSE {naive} END)"


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


# ------------------------------------------------------------------------------ the batch
class Batch:
    """Everything one file load needs; adapters call its methods in order:
    read_csv / raw_from_records → stage → insert (one or more); the core then calls finish()
    (quarantine of the staged rows with a reason) and checks the counts."""

    def __init__(self, con, *, source: Source, path: Path, batch_id: int, progress: Progress,
                 now: datetime, tz: str, file_info: dict, options: dict | None = None):
        self.con = con
        self.source = source
        self.path = path
        self.file = str(Path(path).resolve())
        self.batch_id = batch_id
        self.progress = progress
        self.now = now
        self.tz = tz
        self.file_info = file_info
        self.options = options or {}
        self.rows_read = 0
        self.rows_loaded = 0
        self.reasons: Counter[str] = Counter()
        self.written: Counter[str] = Counter()
        self.replaced = 0
        self.min_time: datetime | None = None
        self.raw_columns: list[str] = []
        self._line_sql = "raw.rowid + 2"
        self._line_join = ""
        self._row0 = 0
        self._staged = False
        self._district_index = None
        self._district_layer: str | None = None
        self.bound: dict[str, Any] = {}     # literals of mapping transforms, bound as $__lN
        self.swapped_hint: str | None = None  # set by the point-in-polygon step (see _check_swapped)
        self._why_fields: dict[int, list[F]] = {}  # rule number -> the fields it judged (quarantine)
        self._keep: list[F] = []

    def bind(self, value) -> str:
        """A parameter placeholder for a literal used in staged SQL (never inlined)."""
        name = f"__l{len(self.bound)}"
        self.bound[name] = value
        return "$" + name

    # ---------------------------------------------------------------- accounting
    @property
    def rows_quarantined(self) -> int:
        return sum(self.reasons.values())

    def add_time(self, ts) -> None:
        if ts is None or (isinstance(ts, float) and ts != ts):
            return
        if not isinstance(ts, datetime):  # a date
            ts = datetime(ts.year, ts.month, ts.day)
        if self.min_time is None or ts < self.min_time:
            self.min_time = ts

    def params(self, sql: str, extra: dict | None = None) -> dict:
        """The batch parameters ($b batch, $s source, $f file) that `sql` uses."""
        p = {"b": self.batch_id, "s": self.source.source_id, "f": self.file, **self.bound}
        p.update(extra or {})
        used = set(re.findall(r"\$(\w+)", sql))
        return {k: v for k, v in p.items() if k in used}

    def run(self, sql: str, extra: dict | None = None):
        return self.con.execute(sql, self.params(sql, extra))

    # ---------------------------------------------------------------- reading
    def read_csv(self, required: Iterable[str], *, delimiter: str = ",", quote: str = '"',
                 encoding: str = "utf-8", any_of: Sequence[Sequence[str]] = ()) -> list[str]:
        """Read the file into temp table ``raw`` (all VARCHAR, file order = rowid) and
        quarantine the rows the CSV reader rejects. Returns the header."""
        header = read_header(self.path, delimiter, quote, encoding)
        missing = [c for c in required if c not in header]
        for group in any_of:
            if not any(c in header for c in group):
                missing.append(" or ".join(group))
        if missing:
            raise MissingColumnsError(missing_message(missing, header, delimiter))
        names = unique_names(header)
        self.raw_columns = names
        columns = "{" + ", ".join(f"{ql(n)}: 'VARCHAR'" for n in names) + "}"
        enc = {"utf-8-sig": "utf-8", "utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}.get(
            encoding.lower(), encoding.lower())
        self.con.execute("DROP TABLE IF EXISTS raw")
        self.con.execute("DROP TABLE IF EXISTS ingest_rejects")
        self.con.execute("DROP TABLE IF EXISTS ingest_reject_scans")
        sql = (
            "CREATE TEMP TABLE raw AS SELECT * FROM read_csv($path, header = true, auto_detect = false, "
            f"delim = {ql(delimiter)}, quote = {ql(quote)}, escape = {ql(quote)}, columns = {columns}, "
            f"encoding = {ql(enc)}, store_rejects = true, rejects_table = 'ingest_rejects', "
            "rejects_scan = 'ingest_reject_scans', max_line_size = 4194304, parallel = true)"
        )
        with self.progress.step("reading", self.con):
            try:
                self.con.execute(sql, {"path": str(self.path)})
            except duckdb.Error as exc:
                raise FormatError(f"cannot read as CSV: {first_line(exc)}") from None
        n_raw, self._row0 = self.con.execute("SELECT count(*), coalesce(min(rowid), 0) FROM raw").fetchone()
        rejects = self.con.execute(
            "SELECT line, arg_min(error_type::VARCHAR, column_idx), arg_min(csv_line, column_idx), "
            "arg_min(error_message, column_idx) FROM ingest_rejects GROUP BY line ORDER BY line"  # one per line
        ).fetchall()
        if n_raw == 0 and not rejects:
            raise EmptyFileError("no data rows (only a header)")
        self.rows_read += n_raw + len(rejects)
        if rejects:
            frame = pd.DataFrame({
                "line": [int(r[0]) for r in rejects],
                "reason": ["malformed row: " + str(r[1]).lower() for r in rejects],
                # the reader's message only: the line itself may hold anything (names, phone numbers)
                "raw": [json.dumps({"error": first_line(r[3])}, ensure_ascii=False) for r in rejects],
            })
            self.quarantine_frame(frame)
        self._map_lines(n_raw, rejects)
        return names

    def _map_lines(self, n_raw: int, rejects: list) -> None:
        """Physical line number of each raw row (header = line 1). Fast path: rowid + 2."""
        reject_lines = sum(1 + (r[2] or "").count("\n") for r in rejects)
        r0 = int(self._row0)
        if self.file_info.get("lines") == 1 + n_raw + reject_lines and not rejects:
            self._line_sql, self._line_join = f"raw.rowid - {r0} + 2", ""
            return
        self.con.execute("DROP TABLE IF EXISTS ingest_lines")
        self.con.execute("DROP TABLE IF EXISTS ingest_rej")
        # one row per raw row with the line it starts on (b), before counting rejected lines
        counted = self.file_info.get("lines") != 1 + n_raw + reject_lines  # quoted values span lines
        base, params = (_LINES_COUNTED, {}) if counted else (_LINES_BY_ROWID, {"r0": r0})
        if rejects:
            self.con.execute("CREATE TEMP TABLE ingest_rej (line BIGINT, ext BIGINT)")
            self.con.executemany("INSERT INTO ingest_rej VALUES (?, ?)",
                                 [(int(r[0]), 1 + (r[2] or "").count("\n")) for r in rejects])
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE ingest_rej AS SELECT p, max(cum) AS cum FROM ("
                " SELECT line - coalesce(sum(ext) OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS p,"
                " sum(ext) OVER (ORDER BY line) AS cum FROM ingest_rej) GROUP BY p")
            self.con.execute("CREATE TEMP TABLE ingest_lines AS SELECT g._row, g.b + coalesce(r.cum, 0) AS _line "
                             "FROM (" + base + ") g ASOF LEFT JOIN ingest_rej r ON g.b >= r.p", params)
        else:
            self.con.execute("CREATE TEMP TABLE ingest_lines AS SELECT _row, b AS _line FROM (" + base + ")", params)
        self._line_sql = "il._line"
        self._line_join = "JOIN ingest_lines il ON il._row = raw.rowid"

    def raw_from_records(self, records: list[dict], columns: Sequence[str] | None = None,
                         lines: Sequence[int] | None = None) -> list[str]:
        """Raw rows from parsed JSON records: every value as a string (nested values as
        JSON). ``lines`` gives each record's number (default: 1-based position)."""
        if columns is None:
            seen: dict[str, None] = {}
            for rec in records[:100000]:
                for k in rec:
                    seen.setdefault(str(k), None)
            columns = list(seen)
        if not records:
            raise EmptyFileError("no records")
        data = {c: [to_text(rec.get(c)) for rec in records] for c in columns}
        frame = pd.DataFrame(data, columns=list(columns), dtype=object)
        self.con.execute("DROP TABLE IF EXISTS raw")
        self.con.register("ingest_records", frame)
        try:
            # every column as text, names kept (static: the columns come from the records)
            self.con.execute("CREATE TEMP TABLE raw AS SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ingest_records")
        finally:
            self.con.unregister("ingest_records")
        self.raw_columns = list(columns)
        self.rows_read += len(records)
        r0 = int(self.con.execute("SELECT coalesce(min(rowid), 0) FROM raw").fetchone()[0])
        if lines is None:
            self._line_sql, self._line_join = f"raw.rowid - {r0} + 1", ""
        else:
            self.con.execute("DROP TABLE IF EXISTS ingest_lines")
            self.con.register("ingest_line_frame", pd.DataFrame({"_row": range(r0, r0 + len(lines)),
                                                                 "_line": list(lines)}))
            self.con.execute("CREATE TEMP TABLE ingest_lines AS SELECT * FROM ingest_line_frame")
            self.con.unregister("ingest_line_frame")
            self._line_sql = "il._line"
            self._line_join = "JOIN ingest_lines il ON il._row = raw.rowid"
        return list(columns)

    def unpivot(self, columns: Sequence[str], name: str, value: str) -> int:
        """Wide to long (issue 15): every non-empty cell of ``columns`` becomes one raw row with the
        header in ``name`` and the cell in ``value``, keeping the other columns and the source
        line number. Empty cells are not rows (not reported, like an empty tonnage). Returns the
        number of rows."""
        cols = ", ".join(qi(c) for c in columns)
        n_before = self.con.execute("SELECT count(*) FROM raw").fetchone()[0]
        self.con.execute("DROP TABLE IF EXISTS ingest_src_lines")
        self.con.execute(f"CREATE TEMP TABLE ingest_src_lines AS SELECT raw.rowid AS _src, {self._line_sql} AS _line "
                         f"FROM raw {self._line_join}")
        self.con.execute(f"CREATE TEMP TABLE ingest_wide AS UNPIVOT (SELECT rowid AS __src, * FROM raw) ON {cols} "
                         f"INTO NAME {qi(name)} VALUE {qi(value)}")
        self.con.execute("DROP TABLE raw")
        keep = [c for c in self.raw_columns if c not in set(columns)] + [name, value]
        self.con.execute(f"CREATE TEMP TABLE raw AS SELECT __src, {', '.join(qi(c) for c in keep)} FROM ingest_wide "
                         f"WHERE nullif(trim({qi(value)}), '') IS NOT NULL ORDER BY __src")
        self.con.execute("DROP TABLE ingest_wide")
        self.con.execute("DROP TABLE IF EXISTS ingest_lines")
        self.con.execute("CREATE TEMP TABLE ingest_lines AS SELECT raw.rowid AS _row, l._line FROM raw "
                         "JOIN ingest_src_lines l ON l._src = raw.__src")
        self.con.execute("ALTER TABLE raw DROP COLUMN __src")
        self.con.execute("DROP TABLE ingest_src_lines")
        n_after = self.con.execute("SELECT count(*) FROM raw").fetchone()[0]
        self.rows_read += int(n_after) - int(n_before)
        self.raw_columns = keep
        self._line_sql, self._line_join = "il._line", "JOIN ingest_lines il ON il._row = raw.rowid"
        return int(n_after)

    # ---------------------------------------------------------------- staging
    def stage(self, fields: Sequence[F], checks: Sequence[tuple[str, str]] = (), *,  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
              district: Districting | None = None, dedup: Sequence[str] | None = None,
              dedup_reason: str | None = None, keep: Sequence[str] = ()) -> None:
        """Create temp table ``checked``: ``_row, _line, <fields>, district_id, _why, _reason``.

        Reasons, first match wins: a source value that does not cast; a missing required
        value; ``checks`` (SQL conditions over the typed fields, true = bad); dates out of
        range / in the future; the district (unknown key, missing or bad coordinates, outside
        boundaries); duplicates of ``dedup`` within the file (the first occurrence is kept).

        A quarantined row keeps only the source values of the fields its rule judged (and of
        ``keep``, identifying fields an adapter reads back), never the whole raw row: the
        file and line point at the rest."""
        inner = ["raw.rowid AS _row", f"{self._line_sql} AS _line"]
        outer_cols = ["_row", "_line"]
        by_name = {f.name: f for f in fields}
        conds: list[tuple[str, str, list[F]]] = []
        for f in fields:
            inner.append(f"{f.typed()} AS {qi(f.name)}")
            outer_cols.append(qi(f.name))
            if f.src is not None and f.strict and (f.kind != "varchar" or f.sql is not None):
                inner.append(f"{f.cleaned()} AS {qi('__s_' + f.name)}")
                conds.append((f"{qi(f.name)} IS NULL AND {qi('__s_' + f.name)} IS NOT NULL",
                              f.bad or f"bad {KIND_WORD.get(f.kind, f.kind)}: {f.nice}", [f]))
        for f in fields:
            if f.required:
                conds.append((f"{qi(f.name)} IS NULL", f"missing: {f.nice}", [f]))
        for cond, reason in checks:  # the fields a rule names are the ones it judged
            named = [f for f in fields if re.search(r'(?<![\w"])"?' + re.escape(f.name) + r'"?(?![\w"])', cond)]
            conds.append((cond, reason, named))
        for f in fields:
            if f.is_time and f.check_range:
                conds.append((f"{qi(f.name)} < TIMESTAMP '1900-01-01'", "date out of range", [f]))
                if not f.future_ok:
                    conds.append((f"{qi(f.name)} > getvariable('ingest_future')", "date in the future", [f]))
        key = district.key if district else None
        middle = "s.*"
        if key:
            middle += f", (s.{qi(key)} IN (SELECT district_id FROM districts)) AS __dok"
            outer_cols.append(f"CASE WHEN __dok THEN {qi(key)} END AS district_id")
            key_fields = [by_name[key]] if key in by_name else []
            if not (district.lon and district.lat):
                conds.append((f"{qi(key)} IS NULL", "missing district", key_fields))
            conds.append((f"{qi(key)} IS NOT NULL AND NOT __dok", "unknown district", key_fields))
        else:
            outer_cols.append("CAST(NULL AS VARCHAR) AS district_id")
        self._why_fields = {i: judged for i, (_c, _r, judged) in enumerate(conds, start=1)}
        if dedup:
            self._why_fields[-1] = [by_name[k] for k in dedup if k in by_name]
        if district and district.lon and district.lat:
            self._why_fields[-2] = [by_name[k] for k in (district.lon, district.lat) if k in by_name]
        self._keep = [by_name[k] for k in keep if k in by_name]
        if conds:
            outer_cols.append("CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _r, _f) in enumerate(conds, start=1))
                              + " END AS _why")
            case = "[" + ", ".join(ql(r) for _c, r, _f in conds) + "][_why]"
        else:
            outer_cols.append("CAST(NULL AS INTEGER) AS _why")
            case = "CAST(NULL AS VARCHAR)"
        self.con.execute("SET VARIABLE ingest_future = $t", {"t": self.now + FUTURE_SLACK})
        self.con.execute("SET VARIABLE ingest_tz = $tz", {"tz": self.tz})
        self.con.execute("SET VARIABLE ingest_src_tz = $tz", {"tz": self.options.get("source_tz") or self.tz})
        self.con.execute("DROP TABLE IF EXISTS checked")
        sql = (f"CREATE TEMP TABLE checked AS SELECT *, {case} AS _reason FROM (SELECT {', '.join(outer_cols)} "
               f"FROM (SELECT {middle} FROM (SELECT {', '.join(inner)} FROM raw {self._line_join}) s))")
        with self.progress.step("validating", self.con):
            try:
                used = set(re.findall(r"\$(__l\d+)", sql))
                self.con.execute(sql, {k: v for k, v in self.bound.items() if k in used})
            except duckdb.Error as exc:  # a cast that errors instead of returning NULL
                raise FormatError(f"cannot validate rows: {first_line(exc)}") from None
        if district and district.lon and district.lat:
            self._locate(district)
        if dedup:
            keys = ", ".join(qi(k) for k in dedup)
            reason = dedup_reason or ("duplicate " + ", ".join(dedup))
            self.con.execute(
                f"UPDATE checked SET _reason = {ql(reason)}, _why = -1 FROM (SELECT _row AS r FROM (SELECT _row, row_number() "
                f"OVER (PARTITION BY {keys} ORDER BY _line) AS n FROM checked WHERE _reason IS NULL) WHERE n > 1) d "
                f"WHERE checked._row = d.r")
        self._staged = True

    def _locate(self, d: Districting) -> None:
        """Point-in-polygon for the rows still without a district (vectorised, shapely)."""
        # rows without a district, and rows placed by key that also carry a point: an
        # impossible point ("bad coordinates") is quarantined even when the key placed the row
        cur = self.con.execute(
            f"SELECT _row, coalesce(CAST({qi(d.lon)} AS DOUBLE), 'NaN'::DOUBLE) AS x, "
            f"coalesce(CAST({qi(d.lat)} AS DOUBLE), 'NaN'::DOUBLE) AS y, district_id IS NOT NULL AS keyed "
            f"FROM checked WHERE _reason IS NULL AND (district_id IS NULL OR ({qi(d.lon)} IS NOT NULL "
            f"AND {qi(d.lat)} IS NOT NULL))")
        arrays = cur.fetchnumpy()
        if len(arrays["_row"]) == 0:
            return
        index = self.districts(d.layer)
        with self.progress.step("districts"):
            found, why = index.locate_codes(arrays["x"], arrays["y"], crs=d.crs)
        keyed = np.asarray(arrays["keyed"], dtype=bool)
        if keyed.any():   # the key decides the district; only an impossible point is a reason
            found = np.where(keyed, -1, found)
            why = np.where(keyed & (why != 2), 0, why).astype(np.int8)
        self._check_swapped(index, arrays["x"], arrays["y"], why, d.crs)
        # numbers back to DuckDB (a Python string per row would cost more than the geometry)
        frame = pd.DataFrame({"_row": arrays["_row"], "_d": found, "_why": why})
        names = pd.DataFrame({"_d": range(len(index.ids)), "district_id": index.ids.astype(str)})
        reasons = pd.DataFrame({"_why": range(1, len(index.REASONS)), "reason": index.REASONS[1:]})
        self.con.register("ingest_pip", frame)
        self.con.register("ingest_pip_ids", names)
        self.con.register("ingest_pip_reasons", reasons)
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE checked AS SELECT c.* REPLACE ("
                "coalesce(c.district_id, i.district_id) AS district_id, coalesce(c._reason, r.reason) AS _reason, "
                "CASE WHEN c._reason IS NULL AND r.reason IS NOT NULL THEN -2 ELSE c._why END AS _why) "
                "FROM checked c LEFT JOIN ingest_pip p ON p._row = c._row "
                "LEFT JOIN ingest_pip_ids i ON i._d = p._d LEFT JOIN ingest_pip_reasons r ON r._why = p._why")
        finally:
            for name in ("ingest_pip", "ingest_pip_ids", "ingest_pip_reasons"):
                self.con.unregister(name)

    def _check_swapped(self, index, x, y, why, crs) -> None:
        """When most points are outside every district (or impossible), try a sample with x and y
        exchanged: if most of those fall inside, the mapping has lon and lat the wrong way round
        (kept for the failure's hint)."""
        bad = np.nonzero((why == 3) | (why == 2))[0]
        if len(bad) * 2 < len(why) or not len(bad):
            return
        sample = bad[:: max(1, len(bad) // 500)][:500]
        found, _ = index.locate_codes(y[sample], x[sample], crs=crs)
        if (found >= 0).sum() * 2 > len(sample):
            self.swapped_hint = f"{(found >= 0).sum()} of {len(sample)} sampled points fall inside a district with x and y exchanged"

    def districts_reset(self) -> None:
        """Forget the district index (districts were written during this load)."""
        self._district_index = None

    def districts(self, layer: str | None = None):
        from data.ingest import geo

        if self._district_index is None or self._district_layer != layer:
            self._district_index = geo.DistrictIndex.from_warehouse(self.con, layer)
            self._district_layer = layer
        return self._district_index

    # ---------------------------------------------------------------- writing
    def count_ok(self) -> int:
        return self.con.execute("SELECT count(*) FROM checked WHERE _reason IS NULL").fetchone()[0]

    def insert(self, table: str, columns: dict[str, str], *, where: str = "", upsert_key: Sequence[str] = (),
               time_expr: str | None = None, source: str = "checked", replace_pk: bool = False) -> int:
        """Insert the valid staged rows into ``table``. ``columns``: target column → SQL over
        ``checked`` (district_id, source_id and batch_id are added when the table has them).
        ``upsert_key``: rows of the same source already in the table with the same key (from
        earlier files) are deleted first and counted as replaced."""
        tcols = table_columns(self.con, table)
        cols = dict(columns)
        if "district_id" in tcols and "district_id" not in cols:
            cols["district_id"] = "district_id"
        if "source_id" in tcols:
            cols["source_id"] = "$s"
        if "batch_id" in tcols:
            cols["batch_id"] = "$b"
        cond = "_reason IS NULL" + (f" AND ({where})" if where else "")
        select = f"SELECT {', '.join(f'{e} AS {qi(c)}' for c, e in cols.items())} FROM {source} WHERE {cond}"
        if upsert_key:
            tt = BATCH_TABLES.get(table)
            on = " AND ".join(f"t.{qi(k)} IS NOT DISTINCT FROM n.{qi(k)}" for k in upsert_key)
            newkeys = f"(SELECT DISTINCT {', '.join(qi(k) for k in upsert_key)} FROM ({select}))"
            if tt:
                old = self.run(
                    f"SELECT min(t.{qi(tt)}) FROM {table} t SEMI JOIN {newkeys} n ON {on} WHERE t.source_id = $s"
                ).fetchone()[0]
                self.add_time(old)
            n_del = self.run(f"DELETE FROM {table} t USING {newkeys} n WHERE {on} AND t.source_id = $s").fetchone()[0]
            self.replaced += int(n_del or 0)
        verb = "INSERT OR REPLACE" if replace_pk else "INSERT"
        with self.progress.step(f"-> {table}", self.con):
            n = self.run(f"{verb} INTO {table} ({', '.join(qi(c) for c in cols)}) {select}").fetchone()[0]
        self.written[table] += int(n)
        if time_expr and n:
            self.add_time(self.run(f"SELECT min({time_expr}) FROM {source} WHERE {cond}").fetchone()[0])
        return int(n)

    def finish(self) -> None:
        """Quarantine the staged rows that have a reason and count the loaded ones."""
        if not self._staged:
            return
        self.run("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw, district_id) "
                 f"SELECT $b, $s, $f, c.__line, c.__reason, CAST({self._judged_json()} AS VARCHAR), c.__district "
                 "FROM raw JOIN (SELECT _row AS __row, _line AS __line, _reason AS __reason, _why AS __why, "
                 "district_id AS __district FROM checked WHERE _reason IS NOT NULL) c ON raw.rowid = c.__row")
        for reason, n in self.con.execute(
                "SELECT _reason, count(*) FROM checked WHERE _reason IS NOT NULL GROUP BY 1").fetchall():
            self.reasons[reason] += int(n)
        self.rows_loaded += self.count_ok()
        self._staged = False

    def _judged_json(self) -> str:
        """SQL over ``raw`` and the rule number ``c.__why``: a JSON object of the source values of
        the fields the rule judged (plus ``keep``), keyed by their source column names."""
        def obj(fields: list[F]) -> str:
            chosen = {f.name: f for f in [*self._keep, *fields] if f.src is not None}
            pairs = [f"{ql(f.nice)}, {f.cleaned()}" for f in chosen.values()]
            return f"json_object({', '.join(pairs)})" if pairs else "json_object()"
        whens = [f"WHEN c.__why = {i} THEN {obj(fields)}" for i, fields in self._why_fields.items()]
        return f"CASE {' '.join(whens)} ELSE {obj([])} END" if whens else obj([])

    def quarantine_frame(self, frame: pd.DataFrame) -> None:
        """Quarantine rows given as a frame with columns line, reason, raw (JSON text)."""
        if frame.empty:
            return
        self.con.register("ingest_q", frame)
        try:
            self.run("INSERT INTO quarantine (batch_id, source_id, file, line_no, reason, raw) "
                     "SELECT $b, $s, $f, CAST(line AS BIGINT), reason, raw FROM ingest_q")
        finally:
            self.con.unregister("ingest_q")
        for reason, n in frame["reason"].value_counts().items():
            self.reasons[str(reason)] += int(n)


# ------------------------------------------------------------------------------ file-level helpers
def read_json(path: Path):
    """Parse a JSON file with one-line errors (not UTF-8, empty, invalid or truncated)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(f"cannot read: {first_line(exc)}") from None
    if not text.strip():
        raise EmptyFileError("file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise FormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None

def first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def unique_names(header: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(header):
        name = name if name != "" else f"column{i}"
        base, k = name, 1
        while name in out:
            k += 1
            name = f"{base}_{k}"
        out.append(name)
    return out


def read_header(path: Path, delimiter: str, quote: str, encoding: str) -> list[str]:
    import csv

    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else encoding
    try:
        with open(path, encoding=enc, errors="replace", newline="") as fh:
            first = fh.readline(1 << 20)
    except (OSError, LookupError) as exc:
        raise InputFileError(f"cannot read: {first_line(exc)}") from None
    if not first.strip():
        raise EmptyFileError("file is empty (no header line)")
    row = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter, quotechar=quote))
    return [c.strip() for c in row]


def missing_message(missing: list[str], header: list[str], delimiter: str) -> str:
    def show(c: str) -> str:
        c = "".join(ch if ch.isprintable() else "?" for ch in c)
        return repr(c if len(c) <= 40 else c[:37] + "...")

    shown = ", ".join(show(c) for c in header[:8]) + (" ..." if len(header) > 8 else "")
    msg = f"missing column(s) {', '.join(repr(m) for m in missing)}; found {len(header)} column(s): {shown}"
    if len(header) <= 1 and header:
        for d in (";", "\t", "|", ","):
            if d != delimiter and d in header[0]:
                msg += f" (wrong delimiter? expected {delimiter!r}, the header contains {d!r})"
                break
    return msg


def file_info(path: Path, progress: "Progress | None" = None) -> dict:
    """sha256, size and physical line count in one pass."""
    h = hashlib.sha256()
    lines = 0
    size = 0
    last = b""
    total = max(1, path.stat().st_size)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 23)
            if not block:
                break
            h.update(block)
            lines += block.count(b"\n")
            size += len(block)
            last = block[-1:]
            if progress is not None and total > (64 << 20):
                progress.bar("hashing", 100.0 * size / total)
    if size and last != b"\n":
        lines += 1
    return {"sha256": h.hexdigest(), "bytes": size, "lines": lines}


def table_columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table}).fetchall()]


def check_path(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"no such file: {path}")
    if not path.is_file():
        raise InputFileError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"not readable: {path}")
    return path


def _delete_batches(con, batch_ids: list[int]) -> tuple[int, datetime | None]:
    """Delete the fact rows and quarantine entries of earlier batches; return (rows, min time)."""
    total = 0
    earliest = con.execute(BATCH_MIN_TIME, {"ids": batch_ids}).fetchone()[0]
    for statement in DELETE_BATCH_ROWS:
        total += int(con.execute(statement, {"ids": batch_ids}).fetchone()[0] or 0)
    con.execute("DELETE FROM quarantine WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    con.execute("DELETE FROM ingest_files WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    con.execute("UPDATE load_batches SET status = 'replaced' WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    return total, earliest


LoadFn = Callable[[Batch], None]


def run_file(con: duckdb.DuckDBPyConnection, adapter: str, source: Source, path: Path | str, load_fn: LoadFn, *,
             force: bool = False, replace_same_path: bool = True, progress: Progress | None = None,
             tz: str = DEFAULT_TZ, now: datetime | None = None, options: dict | None = None,
             options_key: str = "") -> LoadResult:
    """Load one file as one batch in one transaction (see the module docstring)."""
    progress = progress or Progress(False)
    path = check_path(Path(path))
    resolved = str(path.resolve())
    ensure_schema(con)
    t0 = time.perf_counter()
    progress.file(f"{adapter} {path.name}")
    info = file_info(path, progress)
    if progress.tty and info["bytes"] > (64 << 20):
        print("\r" + " " * 79 + "\r", end="", file=progress.stream)
    fingerprint = info["sha256"] + (":" + options_key if options_key else "")
    result = LoadResult(adapter=adapter, source_id=source.source_id, file=resolved)
    if not force and info["bytes"]:
        same = con.execute("SELECT path, batch_id FROM ingest_files WHERE source_id = $s AND sha256 = $h",
                           {"s": source.source_id, "h": fingerprint}).fetchone()
        if same and loaded_nothing(con, int(same[1])):
            same = None   # a load that loaded nothing (e.g. before its boundaries): load it again
        if same:
            source.register(con)  # its description or grain may have changed with the code
            result.status = "unchanged"
            result.batch_id = int(same[1])
            result.message = f"already loaded (batch {same[1]}, {Path(same[0]).name}): nothing to do"
            result.seconds = time.perf_counter() - t0
            progress.note(result.message)
            return result
    old_tz = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    try:   # naive timestamps cast to TIMESTAMPTZ are read as city time
        con.execute(f"SET TimeZone = {ql(tz)}")
    except duckdb.Error:
        raise IngestError(f"unknown time zone {tz!r} (use an IANA name such as America/New_York)") from None
    try:
        return _run_batch(con, adapter, source, path, resolved, load_fn, info, fingerprint, result, t0,
                          force=force, replace_same_path=replace_same_path, progress=progress, tz=tz, now=now,
                          options=options)
    finally:
        con.execute(f"SET TimeZone = {ql(old_tz)}")


def _run_batch(con, adapter, source, path, resolved, load_fn, info, fingerprint, result, t0, *, force,
               replace_same_path, progress, tz, now, options) -> LoadResult:
    batch_id = warehouse.begin_batch(con, source.source_id, resolved)
    result.batch_id = batch_id
    batch = Batch(con, source=source, path=path, batch_id=batch_id, progress=progress,
                  now=now or datetime.now(), tz=tz, file_info=info, options=options)
    try:
        if info["bytes"] == 0:
            raise EmptyFileError("file is empty (0 bytes)")
        con.execute("BEGIN TRANSACTION")
        try:
            source.register(con)
            old: list[int] = []
            if replace_same_path:
                old += [r[0] for r in con.execute("SELECT batch_id FROM ingest_files WHERE source_id = $s AND path = $p",
                                                  {"s": source.source_id, "p": resolved}).fetchall()]
            if force:
                old += [r[0] for r in con.execute("SELECT batch_id FROM ingest_files WHERE source_id = $s AND sha256 = $h",
                                                  {"s": source.source_id, "h": fingerprint}).fetchall()]
            if old:
                n_old, t_old = _delete_batches(con, sorted(set(old)))
                batch.replaced += n_old
                batch.add_time(t_old)
            load_fn(batch)
            batch.finish()
            if batch.rows_read != batch.rows_loaded + batch.rows_quarantined:
                raise InvariantError(f"rows read {batch.rows_read} != loaded {batch.rows_loaded} + "
                                     f"quarantined {batch.rows_quarantined}")
            check_quarantine_share(batch)   # most rows refused: fail, do not publish what is left
            con.execute("INSERT INTO ingest_files VALUES ($s, $p, $h, $n, $b, $t)",
                        {"s": source.source_id, "p": resolved, "h": fingerprint, "n": info["bytes"],
                         "b": batch_id, "t": datetime.now()})
            if batch.min_time is not None:
                warehouse.mark_dirty(con, batch.min_time)
            warehouse.finish_batch(con, batch_id, rows_read=batch.rows_read, rows_loaded=batch.rows_loaded,
                                   rows_quarantined=batch.rows_quarantined, status="ok")
            con.execute(DROP_WORK_TABLES)
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # never hide the cause behind a failed rollback
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    except BaseException as exc:
        cause = faults.describe(exc)  # one plain line: "No space left on device", not the rollback
        with contextlib.suppress(Exception):
            warehouse.finish_batch(con, batch_id, rows_read=0, rows_loaded=0, rows_quarantined=0, status="failed",
                                   message=cause)
        if isinstance(exc, Exception):
            faults.record("ingest", f"{path.name}: {cause}", batch_id=batch_id, source_id=source.source_id)
        if isinstance(exc, IngestError):
            raise type(exc)(f"{path.name}: {exc}") from None
        if isinstance(exc, (duckdb.Error, OSError)):
            raise FormatError(f"{path.name}: {cause}") from None
        raise
    result.rows_read, result.rows_loaded = batch.rows_read, batch.rows_loaded
    result.rows_quarantined = batch.rows_quarantined
    result.reasons = dict(batch.reasons.most_common())
    result.written = dict(batch.written)
    result.replaced = batch.replaced
    result.seconds = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------------------ load-level checks
# A load that refuses every row, or most of them, is not a load: it fails (exit 2, rolled back,
# nothing recorded, so re-running after fixing the cause loads the file) with the top reasons
# and, when the cause is likely, a hint. Share limit: option max_quarantined_share (CLI
# --max-quarantined-share, mapping key max_quarantined_share), default below.
DEFAULT_MAX_QUARANTINED_SHARE = 0.5

# m/d/yy H:MM (US spreadsheet exports), d.m.yyyy, ... : what a date that did not parse looks like
_DATE_SHAPES = (
    (r"^\d{1,2}/\d{1,2}/\d{2}\s+\d{1,2}:\d\d$", "%m/%d/%y %H:%M"),
    (r"^\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d\d$", "%m/%d/%Y %H:%M"),
    (r"^\d{1,2}/\d{1,2}/\d{2}\s+\d{1,2}:\d\d:\d\d$", "%m/%d/%y %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d\d:\d\d$", "%m/%d/%Y %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d\d(:\d\d)?\s*[AaPp][Mm]$", "%m/%d/%Y %I:%M:%S %p"),
    (r"^\d{1,2}/\d{1,2}/\d{2,4}$", "%m/%d/%Y"),
    (r"^\d{1,2}\.\d{1,2}\.\d{4}(\s+\d{1,2}:\d\d)?$", "%d.%m.%Y %H:%M"),
)


class QuarantineShareError(IngestError):
    """Every row, or more than the allowed share, was quarantined: the load is refused."""


def loaded_nothing(con, batch_id: int) -> bool:
    row = con.execute("SELECT rows_loaded, rows_quarantined FROM load_batches WHERE batch_id = $b",
                      {"b": batch_id}).fetchone()
    return bool(row) and (row[0] or 0) == 0 and (row[1] or 0) > 0


def _share_limit(batch: "Batch") -> float:
    value = batch.options.get("max_quarantined_share")
    mapping = batch.options.get("mapping")
    if value is None and mapping is not None:
        value = getattr(mapping, "max_quarantined_share", None)
    return DEFAULT_MAX_QUARANTINED_SHARE if value is None else float(value)


def _sample_values(batch: "Batch", reason: str, label: str, limit: int = 5) -> list[str]:
    """Source values of `label` in rows quarantined for `reason` (from the work tables)."""
    if label not in batch.raw_columns:
        return []
    try:
        rows = batch.con.execute(
            f"SELECT DISTINCT r.{qi(label)} FROM checked c JOIN raw r ON r.rowid = c._row "
            f"WHERE c._reason = $r AND r.{qi(label)} IS NOT NULL LIMIT {int(limit)}", {"r": reason}).fetchall()
    except duckdb.Error:
        return []
    return [str(r[0]) for r in rows]


def _hint(batch: "Batch", reason: str) -> str:
    """A likely cause of the top reason, or ''."""
    con = batch.con
    if reason.startswith(("bad date: ", "bad timestamp: ")) or reason == "date out of range":
        # "3/14/25 1:20" read as ISO gives the year 25 ("date out of range") or nothing
        labels = [reason.split(": ", 1)[1]] if ": " in reason else batch.raw_columns[:50]
        for label in labels:
            for value in _sample_values(batch, reason, label):
                for pattern, fmt in _DATE_SHAPES:
                    if re.match(pattern, value.strip()):
                        return (f"{label} looks like {value!r}: set timestamp_format (or fields.<field>.format) "
                                f"to \"{fmt}\" in the mapping")
    if reason in ("unknown district", "missing district", "outside boundaries", "missing coordinates"):
        n = con.execute("SELECT count(*) FROM districts").fetchone()[0]
        if n == 0:
            return ("the warehouse has no districts: load boundaries first (python -m data.ingest boundaries "
                    "FILE --key PROPERTY, or python -m data.ingest grid --bbox ...), then load this file again")
        if reason == "unknown district":
            ids = [r[0] for r in con.execute("SELECT district_id FROM districts ORDER BY 1 LIMIT 3").fetchall()]
            return (f"district ids are like {', '.join(repr(i) for i in ids)}: map the file's keys to them "
                    "(district.map) or load the matching boundaries")
        if reason in ("outside boundaries", "bad coordinates") and batch.swapped_hint:
            return f"lon and lat look swapped ({batch.swapped_hint}): exchange them in the mapping (district lon/lat, x/y or point_format)"
        if reason == "outside boundaries":
            return "check district.crs and that lon/lat (x/y) are not swapped"
    if reason == "bad coordinates":
        return "are the coordinates projected? give district.crs (e.g. EPSG:2263)"
    return ""


def check_quarantine_share(batch: "Batch") -> None:
    read, bad = batch.rows_read, batch.rows_quarantined
    if not read or not bad:
        return
    limit = _share_limit(batch)
    if bad < read and bad <= limit * read:
        return
    top = batch.reasons.most_common(3)
    reasons = "; ".join(f"{reason} ({n:,})" for reason, n in top)
    what = "every row" if bad == read else f"{bad:,} of {read:,} rows ({100 * bad / read:.0f} %, more than {100 * limit:.0f} %)"
    hint = _hint(batch, top[0][0]) if top and top[0][1] * 2 >= bad else ""   # a cause of most of them
    raise QuarantineShareError(f"{what} quarantined, nothing loaded: {reasons}" + (f". Hint: {hint}" if hint else "")
                               + ". Fix the cause and load the file again (--max-quarantined-share to allow more)")


def clear_failed(con, *, source_id: str | None = None, batch_ids: list[int] | None = None,
                 file: str | None = None) -> int:
    """Mark failed load batches 'cleared' (``python -m data.ingest clear-failed``): a failed batch
    loaded nothing (its transaction was rolled back); once its cause is fixed it need not read as
    a current failure. Only ``failed`` batches change; the row stays for the history."""
    rows = con.execute("SELECT batch_id, source_id, file FROM load_batches WHERE status = 'failed'").fetchall()
    ids = [b for b, s, f in rows
           if (source_id is None or s == source_id) and (not batch_ids or b in batch_ids)
           and (file is None or f == file or (f and Path(f).name == Path(file).name))]
    if ids:
        con.execute("UPDATE load_batches SET status = 'cleared' WHERE list_contains($ids, batch_id) "
                    "AND status = 'failed'", {"ids": ids})
    return len(ids)
