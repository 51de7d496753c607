"""The runner: one file is one load batch and one transaction::

    run_file(con, adapter_name, source, path, load_fn)

1. the file is hashed (sha256, one pass that also counts its lines);
2. **idempotency**: if the same bytes were already loaded for the same source with the same
   adapter options (e.g. the same YAML mapping), nothing is done (status ``unchanged``); if an
   earlier, different version of the same path was loaded (``replace_same_path``), its rows and
   quarantine entries are deleted first and its batch is marked ``replaced``; all inside the
   transaction, so a failed reload keeps the old rows;
3. ``load_fn(batch)`` parses, validates and inserts (see :class:`~data.ingest.batch.Batch`);
4. ``rows_read == rows_loaded + rows_quarantined`` is checked, the file is recorded in
   ``ingest_files``, ``mark_dirty`` is called with the earliest data time touched, the batch is
   finished ``ok`` and the transaction commits. Any error rolls the transaction back and marks
   the batch ``failed``; an :class:`~data.ingest.errors.IngestError` carries a one-line message
   for the CLI.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb

from data import faults, warehouse
from data.ingest.batch import Batch
from data.ingest.checks import check_quarantine_share
from data.ingest.errors import EmptyFileError, FormatError, IngestError, InvariantError
from data.ingest.files import check_path, file_info
from data.ingest.progress import Progress
from data.ingest.source import Source
from data.ingest.tables import DROP_WORK_TABLES, delete_batches, ensure_schema, loaded_nothing

DEFAULT_TZ = "America/New_York"   # city-local time for epoch / offset timestamps (option --tz)
SET_TIME_ZONE = "SET TimeZone = $tz"


@dataclass
class LoadResult:
    """What one file's load did: its status, the rows read, loaded and quarantined (by reason),
    the rows written per table and of earlier loads replaced (the CLI prints it)."""
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
        con.execute(SET_TIME_ZONE, {"tz": tz})
    except duckdb.Error:
        raise IngestError(f"unknown time zone {tz!r} (use an IANA name such as America/New_York)") from None
    try:
        return _run_batch(con, adapter, source, path, resolved, load_fn, info, fingerprint, result, t0,
                          force=force, replace_same_path=replace_same_path, progress=progress, tz=tz, now=now,
                          options=options)
    finally:
        con.execute(SET_TIME_ZONE, {"tz": old_tz})


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
                n_old, t_old = delete_batches(con, sorted(set(old)))
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


