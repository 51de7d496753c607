"""The warehouse tables a load keeps beside the fact tables, and the statements over them.

``ingest_files`` (which bytes were loaded, for idempotency), the reference tables the ingest
adds (violation codes, the precinct map), the fact tables whose rows carry a ``batch_id``, and
the static statements that find, delete, replace or clear the rows of earlier batches. Every
statement is a constant with bound ``$params``.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from data import warehouse

# Tables only the ingest uses (the citywide fact tables live in data/schema.sql).
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

# The temporary tables of one load, dropped once it has committed.
DROP_WORK_TABLES = ("DROP TABLE IF EXISTS raw; DROP TABLE IF EXISTS checked; DROP TABLE IF EXISTS ingest_lines; "
                    "DROP TABLE IF EXISTS ingest_rej; DROP TABLE IF EXISTS ingest_rejects; "
                    "DROP TABLE IF EXISTS ingest_reject_scans")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables of EXTRA_DDL when missing (every load calls it)."""
    con.execute(EXTRA_DDL)


def table_columns(con, table: str) -> list[str]:
    """The columns of a warehouse table, in order (an insert fills the ones it has)."""
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table}).fetchall()]


def delete_batches(con, batch_ids: list[int]) -> tuple[int, datetime | None]:
    """Delete the fact rows and quarantine entries of earlier batches; return (rows, min time)."""
    total = 0
    earliest = con.execute(BATCH_MIN_TIME, {"ids": batch_ids}).fetchone()[0]
    for statement in DELETE_BATCH_ROWS:
        total += int(con.execute(statement, {"ids": batch_ids}).fetchone()[0] or 0)
    con.execute("DELETE FROM quarantine WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    con.execute("DELETE FROM ingest_files WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    con.execute("UPDATE load_batches SET status = 'replaced' WHERE list_contains($ids, batch_id)", {"ids": batch_ids})
    return total, earliest


def loaded_nothing(con, batch_id: int) -> bool:
    """Whether a recorded batch quarantined every row (it is loaded again, not ``unchanged``)."""
    row = con.execute("SELECT rows_loaded, rows_quarantined FROM load_batches WHERE batch_id = $b",
                      {"b": batch_id}).fetchone()
    return bool(row) and (row[0] or 0) == 0 and (row[1] or 0) > 0


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
