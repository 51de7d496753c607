"""Helpers on the input file itself, before any SQL: its hash and line count, its header, its
JSON, and the one-line messages for a file that is missing, unreadable or not as expected."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from data.ingest.errors import EmptyFileError, FormatError, InputFileError, first_line

if TYPE_CHECKING:
    from data.ingest.progress import Progress


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



def check_path(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"no such file: {path}")
    if not path.is_file():
        raise InputFileError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"not readable: {path}")
    return path

