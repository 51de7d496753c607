"""The release files on disk: the CURRENT pointer, ``snapshots/ops-<version>.duckdb`` and
``public/public-<version>.duckdb``, and the clean-up of what an interrupted publish leaves.

Kept apart from ``data.publish`` (which writes releases) so that the writer's start-up
(``warehouse.connect``) and the web workers (``data.snapshot``) can use it without the publish
machinery.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from data import faults, settings

log = logging.getLogger("data.publish")

POINTER = "CURRENT.json"
FOLDERS = {"ops": "snapshots", "public": "public"}
_RELEASE = re.compile(r"^(ops|public)-(?P<version>[0-9T]+(?:-[0-9]+)*)\.duckdb$")


def pointer_path() -> Path:
    return settings.var_dir() / POINTER


def read_pointer() -> dict | None:
    """The CURRENT pointer, or None if missing or unreadable (never raises)."""
    try:
        data = json.loads(pointer_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not {"version", "ops", "public"} <= set(data):
        return None
    return data


def releases(db: str) -> list[tuple[str, Path]]:
    """(version, path) of the complete release files of `db`, newest first."""
    folder = settings.var_dir() / FOLDERS[db]
    found = []
    try:
        for path in folder.iterdir():
            match = _RELEASE.match(path.name)
            if match and path.name.startswith(db + "-"):
                found.append((match.group("version"), path))
    except OSError:
        pass
    return sorted(found, reverse=True)


def _unlink(path: Path, removed: list[Path]) -> None:
    for item in (path, Path(str(path) + ".wal")):
        try:
            item.unlink()
            removed.append(item)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s: %s", item, faults.describe(exc))


def clean_orphans() -> list[Path]:
    """Remove what killed publishes left: temp files (``*.tmp``, ``*.tmp.wal``, the pointer's
    temp) and complete files of versions newer than the pointer (never flipped). Only the
    writer calls this (it holds the warehouse, so no publish is under way)."""
    removed: list[Path] = []
    var = settings.var_dir()
    pointer = read_pointer()
    for db, folder in FOLDERS.items():
        try:
            entries = list((var / folder).iterdir())
        except OSError:
            continue
        for path in entries:
            if path.name.endswith((".tmp", ".tmp.wal")) and path.is_file():
                _unlink(path, removed)
        if pointer is not None:
            for version, path in releases(db):
                if version > str(pointer["version"]):
                    _unlink(path, removed)
    for tmp in var.glob(POINTER + "*.tmp"):
        _unlink(tmp, removed)
    if removed:
        log.info("removed %d file(s) left by an interrupted publish", len(removed))
    return removed
