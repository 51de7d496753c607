"""The warehouse: the one read-write DuckDB file (``var/warehouse.duckdb``).

Only one process at a time opens it (the demo builder, an ingest run, or the live feed);
web workers never do: they read published snapshots (see ``data/snapshot.py``).

Opening it is the writer's start-up, so :func:`connect` also repairs what a killed writer left:
load batches still ``running`` (each records the pid and host of its process; the process that
began one no longer holds the warehouse, so it is gone) are marked ``failed`` with a message
saying so, and the files of an interrupted publish are removed (``releases.clean_orphans``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb

from data import settings

log = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schema.sql")

# Sources of the simulated demo city. Real adapters (data/ingest) register their own.
DEMO_SOURCES = {
    "demo_bikeshare": ("Bike-share trips (simulated)", "transport"),
    "demo_bike_status": ("Bike-share station status (simulated)", "transport"),
    "demo_transit": ("Transit ridership (simulated)", "transport"),
    "demo_traffic": ("Traffic counters (simulated)", "transport"),
    "demo_waste": ("Waste tonnage by stream (simulated)", "waste"),
    "demo_bins": ("Smart bin fill sensors (simulated)", "waste"),
    "demo_parking": ("Parking occupancy sensors (simulated)", "parking"),
    "demo_citations": ("Parking citations (simulated)", "parking"),
    "demo_311": ("311 service requests (simulated)", "satisfaction"),
    "demo_survey": ("Post-request satisfaction survey (simulated)", "satisfaction"),
}


@dataclass(frozen=True)
class FactTable:
    """A fact table as data/schema.sql declares it (``-- raw table, dated by <column>``)."""
    name: str
    time: str                 # the column that dates a row (its data time; loads mark rollups dirty from it)
    changed: str | None       # a later time the row is updated at (a request's closing), or None
    dated: bool               # a DATE column: the row covers its whole day (or its source's period)
    raw: bool                 # read by metrics and dated by publish; False: a batch table only


_DECLARATION = re.compile(
    r"^-- (?P<kind>raw|batch) table, dated by (?P<time>\w+)(?: and (?P<changed>\w+))?[ \t]*\n"
    r"CREATE TABLE IF NOT EXISTS (?P<name>\w+) \((?P<body>.*?)\n\);", re.M | re.S)


def _declared(schema: str) -> dict[str, FactTable]:
    """The fact tables of a schema text, in its order; each dating column must be one of the
    table's DATE or TIMESTAMP columns."""
    tables = {}
    for match in _DECLARATION.finditer(schema):
        kinds = dict(re.findall(r"\b(\w+)\s+(DATE|TIMESTAMP)\b", match["body"]))
        for column in filter(None, (match["time"], match["changed"])):
            if column not in kinds:
                raise ValueError(f"schema.sql: table {match['name']} is dated by {column}, not one of its "
                                 f"DATE or TIMESTAMP columns ({', '.join(kinds) or 'none'})")
        tables[match["name"]] = FactTable(match["name"], match["time"], match["changed"],
                                          dated=kinds[match["time"]] == "DATE", raw=match["kind"] == "raw")
    return tables


# Every fact table, declared once in schema.sql. RAW_TABLES: the ones metrics read and publish dates.
TABLES = _declared(SCHEMA.read_text(encoding="utf-8"))
RAW_TABLES = tuple(name for name, table in TABLES.items() if table.raw)


def _dating(table: FactTable) -> str:
    """One raw table's branch of UPDATE_TABLE_DATA_TIMES: its rows changed since $since, each
    with its data time and whether it is dated (covers a whole period)."""
    time, changed = table.time, table.changed
    data_time = f"greatest({time}, coalesce({changed}, {time}))" if changed else time
    since = "$since::DATE" if table.dated else "$since"
    where = f"{time} >= {since}" + (f" OR {changed} >= {since}" if changed else "")
    return (f"SELECT '{table.name}' AS table_name, source_id, {data_time}::TIMESTAMP AS data_time, "  # noqa: S608 - identifiers from schema.sql's declarations (\w+); every value is bound
            f"{str(table.dated).lower()} AS dated FROM {table.name} WHERE {where}")


# Newest data time per raw table and source, from the rows changed since $since (one statement
# built once from the declarations, bound parameter). A dated row (`dated`) covers its whole day,
# or its whole month for a monthly source (sources.grain): its data time is that period's end.
# first_time: the oldest row's time (a dated row: its day), so the public site can leave out a
# partial first period.
UPDATE_TABLE_DATA_TIMES = """
INSERT INTO table_data_times
SELECT x.table_name, x.source_id,
       (max(x.data_time) + CASE WHEN NOT bool_or(x.dated) THEN INTERVAL 0 DAY
                                WHEN any_value(s.grain) = 'month' THEN INTERVAL 1 MONTH
                                WHEN any_value(s.grain) = 'week' THEN INTERVAL 7 DAY
                                ELSE INTERVAL 1 DAY END)::TIMESTAMP,
       min(x.data_time)::TIMESTAMP
FROM (
    """ + "\n    UNION ALL ".join(_dating(table) for table in TABLES.values() if table.raw) + """
) x LEFT JOIN sources s USING (source_id)
GROUP BY x.table_name, x.source_id
ON CONFLICT (table_name, source_id) DO UPDATE SET data_time = greatest(table_data_times.data_time, excluded.data_time),
    first_time = least(table_data_times.first_time, excluded.first_time)
"""


def _batch_min(table: FactTable) -> str:
    cast = "::TIMESTAMP" if table.dated else ""
    return f"SELECT min({table.time}){cast} AS t FROM {table.name} WHERE list_contains($ids, batch_id)"  # noqa: S608 - identifiers from schema.sql's declarations (\w+); every value is bound


# The rows of some load batches ($ids) in every fact table: their earliest time (to recompute
# rollups from), and their deletion (data/ingest replaces a batch). Built once, like the above.
BATCH_MIN_TIME = "SELECT min(t) FROM (\n    " + "\n    UNION ALL ".join(map(_batch_min, TABLES.values())) + "\n)"  # noqa: S608 - the branches above
DELETE_BATCH_ROWS = tuple(f"DELETE FROM {t.name} WHERE list_contains($ids, batch_id)" for t in TABLES.values())  # noqa: S608 - identifiers from schema.sql's declarations (\w+); every value is bound


def path() -> Path:
    return settings.var_dir() / "warehouse.duckdb"


def connect(db_path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-write and make sure the schema exists."""
    target = Path(db_path) if db_path else path()
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    con.execute("SET enable_progress_bar = false")  # a long publish printed it into the service log
    with contextlib.suppress(OSError):  # raw records: the owner (the ops service user) only
        target.chmod(0o600)
    init_schema(con)
    try:
        fail_abandoned_batches(con)
    except duckdb.Error as exc:  # e.g. a full disk: opening must still work, to say so
        log.error("could not mark abandoned load batches: %s", str(exc).splitlines()[0] if str(exc) else exc)
    if target.resolve() == path().resolve():  # the var dir's writer: no publish is under way
        from data import releases
        releases.clean_orphans()
    return con


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    legacy = con.execute(  # a quarantine from before district_id kept whole raw rows (personal data)
        "SELECT count(*) FILTER (WHERE table_name = 'quarantine') > 0 AND count(*) FILTER "
        "(WHERE table_name = 'quarantine' AND column_name = 'district_id') = 0 FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database()").fetchone()[0]
    con.execute(SCHEMA.read_text(encoding="utf-8"))
    if legacy:  # keep file, line and reason; the file holds the rest
        con.execute("UPDATE quarantine SET raw = '{}'")


def fail_abandoned_batches(con: duckdb.DuckDBPyConnection) -> int:
    """Mark ``failed`` every batch still ``running`` that this process did not begin: the
    process that began it no longer holds the warehouse (one writer at a time), so it was
    killed or crashed half-way (its transaction rolled back, so it loaded nothing)."""
    rows = con.execute("SELECT batch_id, pid, host FROM load_batches WHERE status = 'running' "
                       "AND (pid IS NULL OR pid <> $pid OR host IS DISTINCT FROM $host)",
                       {"pid": os.getpid(), "host": socket.gethostname()}).fetchall()
    for batch_id, pid, host in rows:
        who = f"process {pid} on {host}" if pid is not None else "an earlier process"
        message = f"abandoned: {who} ended before finishing this batch (killed or crashed); nothing was loaded"
        con.execute("UPDATE load_batches SET status = 'failed', finished_at = $t, message = $m, "
                    "rows_loaded = coalesce(rows_loaded, 0) WHERE batch_id = $b AND status = 'running'",
                    {"t": datetime.now(), "m": message, "b": batch_id})
        log.warning("load batch %s: %s", batch_id, message)
    return len(rows)


def register_demo_sources(con: duckdb.DuckDBPyConnection) -> None:
    for source_id, (name, domain) in DEMO_SOURCES.items():
        con.execute(
            "INSERT OR REPLACE INTO sources (source_id, name, domain, simulated, licence, description, grain) "
            "VALUES ($id, $name, $domain, true, $licence, $desc, 'hour')",
            {"id": source_id, "name": name, "domain": domain, "licence": "CC0 (generated data)",
             "desc": "Simulated by the CityOps demo city generator (data/demo/)."},
        )


def begin_batch(con: duckdb.DuckDBPyConnection, source_id: str, file: str | None = None) -> int:
    batch_id = con.execute("SELECT nextval('batch_seq')").fetchall()[0][0]
    con.execute(
        "INSERT INTO load_batches (batch_id, source_id, file, started_at, status, pid, host) "
        "VALUES ($b, $s, $f, $t, 'running', $pid, $host)",
        {"b": batch_id, "s": source_id, "f": file, "t": datetime.now(), "pid": os.getpid(),
         "host": socket.gethostname()},
    )
    return int(batch_id)


def finish_batch(con, batch_id: int, *, rows_read: int, rows_loaded: int,
                 rows_quarantined: int = 0, status: str = "ok", message: str | None = None) -> None:
    con.execute(
        "UPDATE load_batches SET finished_at = $t, rows_read = $r, rows_loaded = $l, "
        "rows_quarantined = $q, status = $st, message = $m WHERE batch_id = $b",
        {"t": datetime.now(), "r": rows_read, "l": rows_loaded, "q": rows_quarantined,
         "st": status, "m": message, "b": batch_id},
    )


def mark_dirty(con: duckdb.DuckDBPyConnection, since: datetime) -> None:
    """Record that data at or after `since` changed: the next publish recomputes from there."""
    con.execute("INSERT INTO rollup_dirty VALUES ($s)", {"s": since})


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # never hide the cause behind a failed rollback
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
