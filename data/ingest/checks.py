"""The load-level check after a file's rows are staged: a load that refuses every row, or more
than the allowed share, is not a load.

It fails (exit 2, rolled back, nothing recorded, so loading the file again after fixing the
cause loads it) with the top reasons and, when the cause is likely, a hint ("set
timestamp_format", "load boundaries first", "lon and lat look swapped").
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

from data.ingest.errors import QuarantineShareError

if TYPE_CHECKING:
    from data.ingest.batch import Batch

# Share limit: option max_quarantined_share (CLI --max-quarantined-share, mapping key
# max_quarantined_share), default below.
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

# Up to $n distinct non-empty source values of the raw column named $label in the rows
# quarantined for $r (the column chosen by its bound name, never spliced in).
_SAMPLE_VALUES = (
    "SELECT DISTINCT COLUMNS(lambda c: c = $label) FROM raw "
    "WHERE rowid IN (SELECT _row FROM checked WHERE _reason = $r) AND COLUMNS(lambda c: c = $label) IS NOT NULL "
    "LIMIT $n"
)


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
        rows = batch.con.execute(_SAMPLE_VALUES, {"label": label, "r": reason, "n": int(limit)}).fetchall()
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

