"""Snapshot feeds polled into a time series: the current state of every parking bay or car
park, read again and again.

    python -m data.ingest poll URL --mapping bays.yaml --dir var/polls/bays --every 300 [--count N]

Each poll fetches URL (http(s), or a local file path: a feed mirrored by another job), saves the
bytes under ``--dir`` with the poll time in the name (``--name``, a strftime pattern, default
``<mapping source id>_%Y-%m-%dT%H-%M-%S<suffix>``), and loads that file with the generic
adapter. The mapping takes the observation time from the name (``ts: {filename: ...}`` with the
same pattern), so every poll is one point of the series, even when the feed did not change (the
file name is part of what makes a load new). A poll that fails (network, a bad file) is
reported and the next one still runs; the exit code is 2 if any poll failed. SIGTERM / SIGINT
stop after the current poll.
"""
from __future__ import annotations

import shutil
import signal
import sys
import threading
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from data.ingest.errors import IngestError, InputFileError, first_line
from data.ingest.runner import DEFAULT_TZ, LoadResult

MAX_BYTES = 512 << 20   # a snapshot larger than this is not a snapshot


def fetch(source: str, target: Path, timeout: float = 60.0) -> None:
    """Copy a URL or a local file to ``target`` (written to a temp name, then renamed)."""
    tmp = target.with_name(target.name + ".part")
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=timeout) as response, open(tmp, "wb") as out:  # noqa: S310
                copied = 0
                while block := response.read(1 << 20):
                    copied += len(block)
                    if copied > MAX_BYTES:
                        raise InputFileError(f"{source}: more than {MAX_BYTES >> 20} MB")
                    out.write(block)
        else:
            path = Path(source)
            if not path.is_file():
                raise InputFileError(f"no such file: {source}")
            shutil.copyfile(path, tmp)
        tmp.replace(target)
    except OSError as exc:
        raise InputFileError(f"cannot fetch {source}: {first_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def poll(con, source: str, mapping, folder: Path, *, name: str | None = None, every: float = 300.0,
         count: int | None = None, tz: str = DEFAULT_TZ, clock=None, stop: threading.Event | None = None,
         out=None) -> list[LoadResult]:
    """Poll ``count`` times (None: until stopped); returns one LoadResult per poll."""
    from data.ingest import load

    out = out or sys.stdout
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(source.split("?")[0]).suffix or ".csv"
    pattern = name or f"{mapping.source.source_id}_%Y-%m-%dT%H-%M-%S{suffix}"
    zone = ZoneInfo(str(mapping.timezone or tz))
    stop = stop or threading.Event()
    results: list[LoadResult] = []
    n = 0
    while not stop.is_set() and (count is None or n < count):
        n += 1
        now = clock() if clock else datetime.now(zone).replace(tzinfo=None, microsecond=0)
        target = folder / now.strftime(pattern)
        try:
            fetch(source, target)
            result = load(con, "generic", target, mapping=mapping, tz=tz)[-1]
        except IngestError as exc:
            print(f"error: poll {n} at {now:%Y-%m-%d %H:%M:%S}: {exc}", file=sys.stderr)
            result = LoadResult(adapter="poll", source_id=mapping.source.source_id, file=str(target),
                                status="failed", message=str(exc))
        else:
            print(f"poll {n} at {now:%Y-%m-%d %H:%M:%S}: {result.status}, {result.rows_loaded:,} rows loaded, "
                  f"{result.rows_quarantined:,} quarantined", file=out, flush=True)
        results.append(result)
        if count is not None and n >= count:
            break
        stop.wait(max(0.0, every))
    return results


def main(args) -> int:
    """The CLI of ``python -m data.ingest poll`` (arguments parsed by data.ingest.__main__)."""
    from data import warehouse
    from data.ingest.generic import Mapping

    mapping = Mapping.load(args.mapping)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    con = warehouse.connect(args.db) if args.db else warehouse.connect()
    try:
        results = poll(con, args.url, mapping, args.dir, name=args.name, every=args.every, count=args.count,
                       tz=args.tz, stop=stop)
    finally:
        con.close()
    return 2 if any(r.status == "failed" for r in results) else 0
