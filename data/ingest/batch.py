"""One file's load: read it into a work table, stage its rows, quarantine the bad ones, insert
the rest (:class:`Batch`; the runner in :mod:`data.ingest.runner` opens and commits it).

Rows are validated in bulk in DuckDB: a CSV is read with ``read_csv(all_varchar=true,
store_rejects=true)`` into a temp table ``raw`` (rows the CSV reader itself rejects — wrong
column count, bad encoding — are quarantined with DuckDB's line number), then one
``CREATE TABLE checked AS SELECT`` casts every field with ``TRY_CAST``/``try_strptime`` and
computes the first failing rule as ``_reason``. District assignment is by key (a join on
``districts``) or by a vectorised point-in-polygon (:mod:`data.ingest.geo`). Rows with a
reason go to ``quarantine`` (file, line, reason, district when known, and the source values
of the fields the rule judged as JSON, never the whole row); the others are inserted. No
per-row Python loop touches the data.

SQL here is composed from the code's own fragments and the staged fields' names (quoted by
:func:`~data.ingest.sql.qi`); every value — a delimiter, a format, a reason, a label — is a bound
parameter (:meth:`Batch.bind`).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd

from data.ingest import geo
from data.ingest.errors import EmptyFileError, FormatError, MissingColumnsError, first_line
from data.ingest.fields import KIND_WORD, Districting, Field
from data.ingest.files import missing_message, read_header, to_text, unique_names
from data.ingest.progress import Progress
from data.ingest.source import Source
from data.ingest.sql import qi
from data.ingest.tables import BATCH_TABLES, table_columns

FUTURE_SLACK = timedelta(days=1)  # "in the future" = later than now + 1 day (clock/time-zone skew)

# Line numbers of raw rows (static statements, the first row's rowid bound as $r0): by rowid
# when every row is one line, else by counting the newlines inside each row's values.
_LINES_BY_ROWID = "SELECT rowid AS _row, rowid - $r0 + 2 AS b FROM raw"
_LINES_COUNTED = (
    "SELECT _row, 2 + coalesce(sum(ext) OVER (ORDER BY _row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b "
    "FROM (SELECT rowid AS _row, 1 + length(concat_ws('', *COLUMNS(*))) "
    "- length(replace(concat_ws('', *COLUMNS(*)), chr(10), '')) AS ext FROM raw)"
)

# The CSV reader: every column VARCHAR in file order, the dialect bound; rows it rejects go to
# the ingest_rejects table.
READ_CSV = (
    "CREATE TEMP TABLE raw AS SELECT * FROM read_csv($path, header = true, auto_detect = false, "
    "delim = $delim, quote = $quote, escape = $quote, columns = $columns, encoding = $encoding, "
    "store_rejects = true, rejects_table = 'ingest_rejects', rejects_scan = 'ingest_reject_scans', "
    "max_line_size = 4194304, parallel = true)"
)


def _judged_as_cast(f: Field) -> bool:
    """Whether a source value that does not cast is a reason (a typed or custom strict field)."""
    return f.src is not None and f.strict and (f.kind != "varchar" or f.sql is not None)


class Batch:
    """Everything one file load needs; adapters call its methods in order:
    read_csv / raw_from_records → stage → insert (one or more); the runner then calls finish()
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
        self.bound: dict[str, Any] = {}     # every value in staged SQL, bound as $__lN
        self._bound_names: dict[tuple, str] = {}  # (type, value) -> its placeholder, bound once
        self.swapped_hint: str | None = None  # set by the point-in-polygon step (see _check_swapped)
        self._why_fields: dict[int, list[Field]] = {}  # rule number -> the fields it judged (quarantine)
        self._keep: list[Field] = []

    def bind(self, value) -> str:
        """A parameter placeholder for a value used in staged SQL (never inlined). The same
        scalar is bound once, so a label used by many rules is one parameter."""
        key = (type(value), value) if isinstance(value, (str, int, float, bool)) else None
        if key is not None and key in self._bound_names:
            return self._bound_names[key]
        name = f"__l{len(self.bound)}"
        self.bound[name] = value
        if key is not None:
            self._bound_names[key] = "$" + name
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
        enc = {"utf-8-sig": "utf-8", "utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}.get(
            encoding.lower(), encoding.lower())
        self.con.execute("DROP TABLE IF EXISTS raw")
        self.con.execute("DROP TABLE IF EXISTS ingest_rejects")
        self.con.execute("DROP TABLE IF EXISTS ingest_reject_scans")
        with self.progress.step("reading", self.con):
            try:
                self.con.execute(READ_CSV, {"path": str(self.path), "delim": delimiter, "quote": quote,
                                            "columns": {n: "VARCHAR" for n in names}, "encoding": enc})
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
            self._line_sql, self._line_join = f"raw.rowid - {self.bind(r0)} + 2", ""
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
            self._line_sql, self._line_join = f"raw.rowid - {self.bind(r0)} + 1", ""
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
        n_before = self.con.execute("SELECT count(*) FROM raw").fetchone()[0]
        self.con.execute("DROP TABLE IF EXISTS ingest_src_lines")
        self.run(f"CREATE TEMP TABLE ingest_src_lines AS SELECT raw.rowid AS _src, {self._line_sql} AS _line "
                 f"FROM raw {self._line_join}")
        # the columns by their bound names; only the two new columns' names are quoted in
        self.con.execute("CREATE TEMP TABLE ingest_wide AS UNPIVOT (SELECT rowid AS __src, * FROM raw) "
                         f"ON COLUMNS(lambda c: list_contains($cols, c)) INTO NAME {qi(name)} VALUE {qi(value)}",
                         {"cols": list(columns)})
        self.con.execute("DROP TABLE raw")
        keep = [c for c in self.raw_columns if c not in set(columns)] + [name, value]
        # UNPIVOT keeps the other columns in order, then name and value: the columns of `keep`
        self.con.execute("CREATE TEMP TABLE raw AS SELECT * FROM ingest_wide "
                         "WHERE nullif(trim(COLUMNS(lambda c: c = $value)), '') IS NOT NULL ORDER BY __src",
                         {"value": value})
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
    def stage(self, fields: Sequence[Field], checks: Sequence[tuple[str, str]] = (), *,
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
        by_name = {f.name: f for f in fields}
        conds = self._rules(fields, checks, district)
        self._why_fields = {i: judged for i, (_c, _r, judged) in enumerate(conds, start=1)}
        if dedup:
            self._why_fields[-1] = [by_name[k] for k in dedup if k in by_name]
        if district and district.lon and district.lat:
            self._why_fields[-2] = [by_name[k] for k in (district.lon, district.lat) if k in by_name]
        self._keep = [by_name[k] for k in keep if k in by_name]
        self.con.execute("SET VARIABLE ingest_future = $t", {"t": self.now + FUTURE_SLACK})
        self.con.execute("SET VARIABLE ingest_tz = $tz", {"tz": self.tz})
        self.con.execute("SET VARIABLE ingest_src_tz = $tz", {"tz": self.options.get("source_tz") or self.tz})
        self.con.execute("DROP TABLE IF EXISTS checked")
        sql = self._checked_sql(fields, conds, district.key if district else None)
        with self.progress.step("validating", self.con):
            try:
                self.run(sql)
            except duckdb.Error as exc:  # a cast that errors instead of returning NULL
                raise FormatError(f"cannot validate rows: {first_line(exc)}") from None
        if district and district.lon and district.lat:
            self._locate(district)
        if dedup:
            self._mark_duplicates(dedup, dedup_reason or ("duplicate " + ", ".join(dedup)))
        self._staged = True

    def _rules(self, fields: Sequence[Field], checks: Sequence[tuple[str, str]],
               district: Districting | None) -> list[tuple[str, str, list[Field]]]:
        """The rules of :meth:`stage` in the order they are tried: (SQL condition over the typed
        fields, reason, the fields it judges)."""
        conds: list[tuple[str, str, list[Field]]] = []
        for f in fields:
            if _judged_as_cast(f):
                conds.append((f"{qi(f.name)} IS NULL AND {qi('__s_' + f.name)} IS NOT NULL",
                              f.bad or f"bad {KIND_WORD.get(f.kind, f.kind)}: {f.display_name}", [f]))
        conds += [(f"{qi(f.name)} IS NULL", f"missing: {f.display_name}", [f]) for f in fields if f.required]
        for cond, reason in checks:  # the fields a rule names are the ones it judged
            named = [f for f in fields if re.search(r'(?<![\w"])"?' + re.escape(f.name) + r'"?(?![\w"])', cond)]
            conds.append((cond, reason, named))
        for f in fields:
            if f.is_time and f.check_range:
                conds.append((f"{qi(f.name)} < TIMESTAMP '1900-01-01'", "date out of range", [f]))
                if not f.future_ok:
                    conds.append((f"{qi(f.name)} > getvariable('ingest_future')", "date in the future", [f]))
        key = district.key if district else None
        if key:
            key_fields = [f for f in fields if f.name == key]
            if not (district.lon and district.lat):
                conds.append((f"{qi(key)} IS NULL", "missing district", key_fields))
            conds.append((f"{qi(key)} IS NOT NULL AND NOT __dok", "unknown district", key_fields))
        return conds

    def _checked_sql(self, fields: Sequence[Field], conds: list[tuple[str, str, list[Field]]],
                     key: str | None) -> str:
        """The ``CREATE TEMP TABLE checked`` statement: the typed fields (and, for a field judged
        by its cast, its cleaned source value), the district by key, the first rule that fails
        as its number ``_why`` and its reason ``_reason`` (the reasons are one bound list)."""
        inner = ["raw.rowid AS _row", f"{self._line_sql} AS _line"]
        outer_cols = ["_row", "_line"]
        for f in fields:
            inner.append(f"{f.typed(self.bind)} AS {qi(f.name)}")
            outer_cols.append(qi(f.name))
            if _judged_as_cast(f):
                inner.append(f"{f.cleaned(self.bind)} AS {qi('__s_' + f.name)}")
        middle = "s.*"
        if key:
            middle += f", (s.{qi(key)} IN (SELECT district_id FROM districts)) AS __dok"
            outer_cols.append(f"CASE WHEN __dok THEN {qi(key)} END AS district_id")
        else:
            outer_cols.append("CAST(NULL AS VARCHAR) AS district_id")
        if conds:
            outer_cols.append("CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _r, _f) in enumerate(conds, start=1))
                              + " END AS _why")
            case = f"({self.bind([r for _c, r, _f in conds])})[_why]"
        else:
            outer_cols.append("CAST(NULL AS INTEGER) AS _why")
            case = "CAST(NULL AS VARCHAR)"
        return (f"CREATE TEMP TABLE checked AS SELECT *, {case} AS _reason FROM (SELECT {', '.join(outer_cols)} "
                f"FROM (SELECT {middle} FROM (SELECT {', '.join(inner)} FROM raw {self._line_join}) s))")

    def _mark_duplicates(self, dedup: Sequence[str], reason: str) -> None:
        """Quarantine the rows whose ``dedup`` key repeats an earlier line's (rule -1)."""
        keys = ", ".join(qi(k) for k in dedup)
        self.con.execute(
            f"UPDATE checked SET _reason = $reason, _why = -1 FROM (SELECT _row AS r FROM (SELECT _row, row_number() "
            f"OVER (PARTITION BY {keys} ORDER BY _line) AS n FROM checked WHERE _reason IS NULL) WHERE n > 1) d "
            "WHERE checked._row = d.r", {"reason": reason})

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
        def obj(fields: list[Field]) -> str:
            chosen = {f.name: f for f in [*self._keep, *fields] if f.src is not None}
            pairs = [f"{self.bind(f.display_name)}, {f.cleaned(self.bind)}" for f in chosen.values()]
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


