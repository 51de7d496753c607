"""Publish: rollups → a new immutable ops snapshot + a public snapshot → atomic pointer flip.

Steps (``publish(con)``, run by the one writer process):

1. **Rollups, incrementally.** ``rollup_dirty`` holds the earliest data time touched since
   the last publish. For every metric and grain, periods from that time (aligned to the
   grain) onwards are recomputed with the metric's SQL; earlier periods are untouched, so a
   publish costs what changed, not the whole history. Hourly rollups are kept for
   ``hourly_retention_days``.
2. **Ops snapshot** ``snapshots/ops-<version>.duckdb``: rollups, districts, metric metadata,
   sources and data times, load batches, quarantine summary, recent service requests.
3. **Public snapshot** ``public/public-<version>.duckdb``: public metrics at week and month
   grains, complete periods only (not the current one, nor a first one the data starts inside), with small counts suppressed by ``data.privacy`` (primary:
   n in [1, k-1]; complementary: no withheld cell recoverable from the city total → figures
   null, ``suppressed`` true), a 95 % CI for mean scores, districts and metadata. No row-level record, no coordinates, no free text.
4. **Flip** ``CURRENT.json`` (write temp + fsync + ``os.replace``), then delete snapshots
   superseded longer ago than ``snapshot_grace_s``.

Snapshots are written to ``*.tmp`` and renamed when complete; any failure removes the temp
files and leaves the previous version serving.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from data import registry, rollup_engines, settings
from data.warehouse import UPDATE_TABLE_DATA_TIMES

log = logging.getLogger(__name__)

POINTER = "CURRENT.json"
END_OF_TIME = datetime(2200, 1, 1)
PUBLIC_GRAINS = ("week", "month")
@dataclass(frozen=True)
class PublishResult:
    version: str
    ops_path: Path
    public_path: Path
    seconds: float
    rollup_seconds: float
    recomputed_from: datetime | None


class PublishError(RuntimeError):
    pass


def align(ts: datetime, grain: str) -> datetime:
    if grain == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grain {grain!r}")


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond:06d}"


# --------------------------------------------------------------------------- rollups
def _recompute(con: duckdb.DuckDBPyConnection, since: datetime, hourly_floor: datetime) -> None:
    """Every metric and grain from the period holding `since` on, on the configured rollup
    engine (DuckDB in the warehouse, or Spark: data/rollup_engines.py)."""
    with rollup_engines.engine(con) as engine:
        for metric in registry.metrics().values():
            starts = {}
            for grain in metric.grains:
                start = align(since, grain)
                if grain == "hour":
                    start = max(start, hourly_floor)
                con.execute("DELETE FROM metric_values WHERE metric_id = $m AND grain = $g AND period >= $s",
                            {"m": metric.id, "g": grain, "s": start})
                starts[grain] = start
            engine.insert(metric, starts, END_OF_TIME)


def update_rollups(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> datetime | None:
    """Recompute rollup periods touched since the last publish. Returns the dirty time."""
    now = now or datetime.now()
    since = con.execute("SELECT min(since) FROM rollup_dirty").fetchall()[0][0]
    hourly_floor = align(now - timedelta(days=int(settings.get("hourly_retention_days"))), "hour")
    con.execute("BEGIN TRANSACTION")
    try:
        if since is not None:
            _recompute(con, since, hourly_floor)
        # first publish (or a warehouse from before first_time was kept): date everything
        dated = con.execute("SELECT count(*) FILTER (WHERE first_time IS NOT NULL) = count(*) AND count(*) > 0 "
                            "FROM table_data_times").fetchall()[0][0]
        times_since = since if dated else datetime(1900, 1, 1)
        if times_since is not None:
            con.execute(UPDATE_TABLE_DATA_TIMES, {"since": times_since})
        if since is not None:
            con.execute("DELETE FROM rollup_dirty")
        con.execute("DELETE FROM metric_values WHERE grain = 'hour' AND period < $f", {"f": hourly_floor})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return since


# --------------------------------------------------------------------------- snapshots
# the shortest update interval a source of each grain can keep (a monthly source: a month)
SOURCE_PERIOD = {"hour": timedelta(0), "day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}


def due_every(metric: registry.Metric, source_grain: str) -> timedelta:
    """How often new data is due: the metric's cadence, but at least one period of its source."""
    return max(metric.cadence, SOURCE_PERIOD.get(source_grain, timedelta(0)))


def published_metrics(con) -> dict[str, registry.Metric]:
    """Every registry metric as this warehouse's data lets it be published:

    * **grains**: its declared grains, none finer than the finest source with data in its table
      (``sources.grain``). Monthly tonnage has no daily figure: a 'day' value would be a whole
      month's total on the 1st.
    * **source**: the source with the newest data in its table (the registry names the demo's).
    * **cadence**: at least one period of that finest source (monthly data is due monthly, so it
      is not called stale a day after it was loaded)."""
    rank = {g: i for i, g in enumerate(registry.GRAINS)}
    finest: dict[str, str] = {}
    newest: dict[str, str] = {}
    for table, source_id, grain in con.execute(
            "SELECT t.table_name, t.source_id, coalesce(s.grain, 'hour') FROM table_data_times t "
            "LEFT JOIN sources s USING (source_id) ORDER BY t.data_time").fetchall():
        grain = grain if grain in rank else "hour"
        if table not in finest or rank[grain] < rank[finest[table]]:
            finest[table] = grain
        newest[table] = source_id
    out = {}
    for m in registry.metrics().values():
        grain = finest.get(m.table, "hour")
        cadence = due_every(m, grain)
        out[m.id] = replace(
            m, grains=tuple(g for g in m.grains if rank[g] >= rank[grain]), source=newest.get(m.table, m.source),
            cadence=cadence, cadence_text=m.cadence_text if cadence == m.cadence else f"{cadence.days}d")
    return out


def _published_keys(metrics: dict[str, registry.Metric]) -> list[str]:
    return [f"{m.id}@{grain}" for m in metrics.values() for grain in m.grains]


def _metrics_frame(public_only: bool, metrics: dict[str, registry.Metric]):
    import pandas as pd

    rows = []
    for m in metrics.values():
        if public_only and not m.public:
            continue
        shown = [g for g in m.grains if not public_only or g in PUBLIC_GRAINS]
        rows.append({
            "metric_id": m.id, "domain": m.domain, "label": m.label, "unit": m.unit,
            "format": m.format, "direction": m.direction, "target": m.target,
            "warning": m.warning, "cadence": m.cadence_text,
            "cadence_s": int(m.cadence.total_seconds()), "aggregate": m.aggregate,
            "public": m.public, "per_capita": m.per_capita, "grains": ",".join(shown),
            "source": m.source, "description": m.description, "method": m.method,
            "known_issues": m.known_issues,
        })
    return pd.DataFrame(rows)


def _data_times_sql() -> str:
    """Per raw table and source: newest data time (kept by update_rollups), rows loaded."""
    return ("SELECT d.table_name, d.source_id, d.data_time, b.row_count FROM table_data_times d "
            "LEFT JOIN (SELECT source_id, sum(rows_loaded)::BIGINT AS row_count FROM load_batches "
            "WHERE status = 'ok' GROUP BY source_id) b USING (source_id)")


def _write_ops(con, path: Path, version: str, published_at: datetime, data_now: datetime,
               metrics: dict[str, registry.Metric]) -> None:
    records_from = data_now - timedelta(days=int(settings.get("records_days")))
    con.execute("ATTACH $path AS snap", {"path": str(path)})
    try:
        metrics_df = _metrics_frame(public_only=False, metrics=metrics)
        con.register("metrics_df", metrics_df)
        con.execute("CREATE TABLE snap.metrics AS SELECT * FROM metrics_df")
        con.unregister("metrics_df")
        con.execute("CREATE TABLE snap.metric_values AS SELECT * FROM metric_values "
                    "WHERE metric_id || '@' || grain IN (SELECT unnest($keys)) "
                    "ORDER BY metric_id, grain, period, district_id", {"keys": _published_keys(metrics)})
        con.execute("CREATE TABLE snap.districts AS SELECT * FROM districts ORDER BY district_id")
        con.execute("CREATE TABLE snap.sources AS SELECT * FROM sources")
        con.execute("CREATE TABLE snap.source_times AS " + _data_times_sql())
        con.execute("CREATE TABLE snap.incidents AS SELECT * FROM incidents ORDER BY starts_at")
        con.execute("CREATE TABLE snap.load_batches AS SELECT * FROM load_batches ORDER BY batch_id")
        con.execute(
            "CREATE TABLE snap.quarantine_summary AS SELECT source_id, file, reason, count(*) AS rows, "
            "min(line_no) AS first_line, any_value(raw) AS example FROM quarantine GROUP BY ALL"
        )
        con.execute(
            "CREATE TABLE snap.service_requests AS SELECT request_id, created_at, closed_at, due_at, "
            "district_id, category, channel, status, lat, lon, description, source_id "
            "FROM service_requests WHERE created_at >= $f OR closed_at IS NULL ORDER BY created_at",
            {"f": records_from},
        )
        # parking facilities with their latest reading (the records behind the parking metrics)
        con.execute(
            "CREATE TABLE snap.parking_facilities AS "
            "SELECT f.facility_id, f.name, f.district_id, f.kind, f.capacity, o.ts AS last_reading, o.occupied, "
            "round(100.0 * o.occupied / nullif(o.capacity, 0), 1) AS occupancy_pct "
            "FROM parking_facilities f LEFT JOIN ("
            "  SELECT facility_id, max(ts) AS ts, arg_max(occupied, ts) AS occupied, arg_max(capacity, ts) AS capacity "
            "  FROM parking_occupancy "
            "  WHERE ts >= (SELECT max(ts) FROM parking_occupancy) - INTERVAL 2 DAY GROUP BY facility_id"
            ") o USING (facility_id) ORDER BY f.district_id, f.facility_id"
        )
        con.execute(
            "CREATE TABLE snap.meta AS SELECT $v AS version, $p::TIMESTAMP AS published_at, 'ops' AS kind",
            {"v": version, "p": published_at},
        )
    finally:
        con.execute("DETACH snap")


# Standard deviations for the confidence interval of mean scores, per public grain, by
# district and for the city (the same records and buckets as the metric's own SQL).
_SCORE_SD_SQL = """
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period, stddev_samp(score) AS sd
FROM (SELECT district_id, date_trunc($grain, responded_at) AS period, score
      FROM satisfaction_responses WHERE score BETWEEN 1 AND 5 AND responded_at >= $since) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
"""
# metric id -> (SQL of the standard deviation, lowest and highest possible score)
CI_METRICS = {"satisfaction_score": (_SCORE_SD_SQL, 1.0, 5.0)}


def _public_cells(con, k: int, public_ids: list[str], data_now: datetime, metrics: dict[str, registry.Metric]):
    """The public metric values: fixed grains, complete periods, suppressed (data.privacy),
    with a 95 % confidence interval for mean scores."""
    import numpy as np
    import pandas as pd

    from data import privacy

    cells = con.execute(
        """
        SELECT metric_id, grain, district_id, period, value, numerator, denominator, n
        FROM metric_values
        WHERE metric_id IN (SELECT unnest($ids)) AND grain IN (SELECT unnest($grains))
          AND metric_id || '@' || grain IN (SELECT unnest($keys))
          -- complete periods only: a growing current week could be differenced over time
          AND CASE grain WHEN 'week' THEN period + INTERVAL 7 DAY ELSE period + INTERVAL 1 MONTH END <= $now
        ORDER BY metric_id, grain, period, district_id
        """,
        {"ids": public_ids, "grains": list(PUBLIC_GRAINS), "now": data_now, "keys": _published_keys(metrics)},
    ).df()
    # nor the first period when the data starts after its first day (a false dip at the start of
    # a trend); data from the first hours of a period's first day counts as covering it
    firsts = dict(con.execute("SELECT table_name, date_trunc('day', min(first_time)) FROM table_data_times "
                              "GROUP BY 1").fetchall())
    starts = cells["metric_id"].map({m.id: firsts.get(m.table) for m in metrics.values()})
    cells = cells[starts.isna() | (cells["period"] >= pd.to_datetime(starts))].reset_index(drop=True)
    cells["ci_low"] = np.nan
    cells["ci_high"] = np.nan
    for metric_id, (sd_sql, lower, upper) in CI_METRICS.items():
        rows = cells["metric_id"] == metric_id
        if not rows.any():
            continue
        since = cells.loc[rows, "period"].min().to_pydatetime()
        sds = pd.concat([
            con.execute(sd_sql, {"grain": grain, "since": since}).df().assign(grain=grain)
            for grain in PUBLIC_GRAINS
        ])
        part = cells.loc[rows, ["grain", "district_id", "period", "value", "n"]].merge(
            sds, on=["grain", "district_id", "period"], how="left")
        low, high = privacy.mean_ci(part["value"], part["sd"], part["n"], lower, upper)
        cells.loc[rows, "ci_low"] = low
        cells.loc[rows, "ci_high"] = high
    # counts and sums add up over time (a month = its weeks when both start on a Monday the
    # 1st); a level (an end-of-period stock) does not
    additive = {m.id for m in registry.public_metrics() if m.aggregate != "level"}
    # figures about no person (tonnes weighed, declared `suppress: false`) are published whole
    open_ids = {m.id for m in registry.public_metrics() if not m.suppress}
    exempt = cells["metric_id"].isin(open_ids)
    if not exempt.any():
        return privacy.suppress(cells, k, time_additive=additive)
    return pd.concat([privacy.suppress(cells[~exempt], k, time_additive=additive),
                      privacy.suppress(cells[exempt], 1)], ignore_index=True)  # k = 1: no count is small


def _write_public(con, path: Path, version: str, published_at: datetime, data_now: datetime,
                  metrics: dict[str, registry.Metric]) -> None:
    k = int(settings.get("suppression_k"))
    public_ids = [m.id for m in registry.public_metrics()]
    cells = _public_cells(con, k, public_ids, data_now, metrics)
    con.execute("ATTACH $path AS pub", {"path": str(path)})
    try:
        metrics_df = _metrics_frame(public_only=True, metrics=metrics)
        con.register("metrics_df", metrics_df)
        con.execute("CREATE TABLE pub.metrics AS SELECT * FROM metrics_df")
        con.unregister("metrics_df")
        # Primary + complementary suppression (data.privacy): a withheld cell has null figures
        # and suppressed = true, so pages can say "fewer than k" and downloads flag it.
        con.register("cells_df", cells)
        con.execute(
            "CREATE TABLE pub.metric_values AS SELECT metric_id, grain, district_id, period::TIMESTAMP AS period, "
            "value::DOUBLE AS value, numerator::DOUBLE AS numerator, denominator::DOUBLE AS denominator, "
            "n::BIGINT AS n, suppressed::BOOLEAN AS suppressed, ci_low::DOUBLE AS ci_low, "
            "ci_high::DOUBLE AS ci_high FROM cells_df ORDER BY metric_id, grain, period, district_id"
        )
        con.unregister("cells_df")
        con.execute(
            "CREATE TABLE pub.districts AS SELECT district_id, name, borough, population, area_km2, "
            "geometry, is_joint_area FROM districts ORDER BY district_id"
        )
        con.execute("CREATE TABLE pub.sources AS SELECT source_id, name, domain, simulated, licence, "
                    "description FROM sources")
        con.execute("CREATE TABLE pub.source_times AS SELECT table_name, source_id, data_time FROM ("
                    + _data_times_sql() + ")")
        con.execute(
            "CREATE TABLE pub.meta AS SELECT $v AS version, $p::TIMESTAMP AS published_at, "
            "'public' AS kind, $k::INTEGER AS suppression_k",
            {"v": version, "p": published_at, "k": k},
        )
    finally:
        con.execute("DETACH pub")


# --------------------------------------------------------------------------- pointer
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


def _flip(pointer: dict) -> None:
    target = pointer_path()
    tmp = target.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(pointer, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _cleanup(keep: set[Path], now: float) -> None:
    grace = float(settings.get("snapshot_grace_s"))
    for folder in (settings.var_dir() / "snapshots", settings.var_dir() / "public"):
        for path in folder.glob("*.duckdb*"):
            if path in keep:
                continue
            try:
                if now - path.stat().st_mtime > grace:
                    path.unlink()
            except OSError:
                pass


def publish(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> PublishResult:
    """Roll up what changed, write both snapshots, flip the pointer. See module docstring."""
    started = time.perf_counter()
    data_now = now or datetime.now()  # the data clock: retention windows are relative to it
    recomputed_from = update_rollups(con, data_now)
    rollup_seconds = time.perf_counter() - started

    published_at = datetime.now()
    version = new_version(published_at)
    current = read_pointer()
    if current and current["version"] >= version:  # versions only ever increase
        version = current["version"] + "-1"
    var = settings.var_dir()
    ops_path = var / "snapshots" / f"ops-{version}.duckdb"
    public_path = var / "public" / f"public-{version}.duckdb"
    temps = [ops_path.with_suffix(".tmp"), public_path.with_suffix(".tmp")]
    for folder in (ops_path.parent, public_path.parent):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        metrics = published_metrics(con)
        _write_ops(con, temps[0], version, published_at, data_now, metrics)
        _write_public(con, temps[1], version, published_at, data_now, metrics)
        for tmp in temps:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(temps[0], ops_path)
        os.replace(temps[1], public_path)
        previous = read_pointer()
        _flip({
            "version": version,
            "ops": str(ops_path.relative_to(var)),
            "public": str(public_path.relative_to(var)),
            "published_at": published_at.isoformat(timespec="seconds"),
        })
    except BaseException:
        for path in (*temps, ops_path, public_path):
            path.unlink(missing_ok=True)
            Path(str(path) + ".wal").unlink(missing_ok=True)
        raise
    if previous:  # the grace period of a superseded snapshot starts now (its mtime)
        for rel in (previous["ops"], previous["public"]):
            try:
                os.utime(var / rel)
            except OSError:
                pass
    _cleanup({ops_path, public_path}, time.time())
    seconds = time.perf_counter() - started
    log.info("published %s in %.2fs (rollups %.2fs)", version, seconds, rollup_seconds)
    return PublishResult(version, ops_path, public_path, seconds, rollup_seconds, recomputed_from)


def main() -> None:  # python -m data.publish
    from data import warehouse

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not warehouse.path().exists():
        raise SystemExit("no warehouse: run `python -m data.demo` first")
    con = warehouse.connect()
    try:
        result = publish(con)
    finally:
        con.close()
    print(f"published version {result.version} in {result.seconds:.2f}s "
          f"(rollups {result.rollup_seconds:.2f}s, recomputed from {result.recomputed_from})")


if __name__ == "__main__":
    main()
