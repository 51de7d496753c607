"""Progress of a load on stderr: one line per step longer than a second, and on a terminal a
live bar fed by DuckDB's ``query_progress()`` (the CLI's ``--quiet`` turns it off)."""
from __future__ import annotations

import contextlib
import sys
import threading
import time

import duckdb


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

