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
   grains. Released cells are final (``public_release_cells``); a month and the weeks that end
   in it are released once its source's data covers it (``_coverage``: by the data, not the
   clock), after the release auditor (``data.privacy.audit_release``) has attacked it with
   HiGHS and withheld what it must (null figures, ``suppressed`` true). A month it cannot
   protect is held back and listed in ``public_release_log`` (shown on /data). Exempt metrics
   publish no record count; the data time is the end of the newest released period.
4. **Flip** ``CURRENT.json`` (write temp + fsync + ``os.replace``; it records each file's
   size, so a worker can tell a damaged file), then clean up (:func:`_cleanup`).
5. **Detect**: the alert rules of every metric with a policy run on the fresh rollups as of the
   data time and record alert episodes in the ops store (data/detect.py, data/episodes.py);
   pages only read those episodes.

Snapshots are written to ``*.tmp`` and renamed when complete; any failure removes the temp
files, leaves the previous version serving, and raises :class:`PublishError` whose message is
one plain line naming the stage and the cause (``data.faults.describe``: "No space left on
device", not the failed rollback after it), also kept for ``/data`` (``data.faults``).

**Nothing left behind.** A publish killed half-way leaves ``*.tmp`` / ``*.tmp.wal`` files or
complete files of a version that was never flipped; :func:`clean_orphans` removes them before
and after every publish and when the writer opens the warehouse (``warehouse.connect``: the
one writer holds its lock, so no other publish is running). Superseded releases are kept only
as long as a reader may need them: never one superseded less than ``snapshot_poll_s`` ago (a
worker may still serve it until its next poll), beyond that at most ``snapshot_keep`` of
them, and none older than ``snapshot_grace_s`` except the newest (the fallback when the
current release is damaged, see ``data.snapshot``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from data import facts, faults, registry, rollup_engines, settings, snapshot_store, warehouse
from data.publish_sql import create_table, sql
from data.releases import (  # noqa: F401  (the pointer and the release files; re-exported)
    FOLDERS,
    POINTER,
    _unlink,
    clean_orphans,
    pointer_path,
    read_pointer,
    releases,
)

log = logging.getLogger(__name__)

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


align = facts.align


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
                con.execute(sql("publish/delete_rollups"), {"m": metric.id, "g": grain, "s": start})
                starts[grain] = start
            engine.insert(metric, starts, END_OF_TIME)


def update_rollups(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> datetime | None:
    """Recompute rollup periods touched since the last publish. Returns the dirty time."""
    now = now or datetime.now()
    since = con.execute(sql("publish/dirty_since")).fetchall()[0][0]
    hourly_floor = align(now - timedelta(days=int(settings.get("hourly_retention_days"))), "hour")
    con.execute("BEGIN TRANSACTION")
    try:
        if since is not None:
            _recompute(con, since, hourly_floor)
        # first publish (or a warehouse from before first_time was kept): date everything
        dated = con.execute(sql("publish/tables_dated")).fetchall()[0][0]
        times_since = since if dated else datetime(1900, 1, 1)
        if times_since is not None:
            con.execute(warehouse.UPDATE_TABLE_DATA_TIMES, {"since": times_since})
        if since is not None:
            con.execute(sql("publish/clear_dirty"))
        con.execute(sql("publish/drop_old_hours"), {"f": hourly_floor})
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already rolled back:
            con.execute("ROLLBACK")               # the cause is the COMMIT's error, not this
        raise
    return since


# --------------------------------------------------------------------------- references
def update_references(con: duckdb.DuckDBPyConnection, metrics: dict[str, registry.Metric],
                      dirty_since: datetime | None) -> int:
    """The reference of every metric's latest period at every grain (data.facts): the window
    (``facts.reference_window``) and the metric's own SQL over it. Incremental: a window is
    recomputed only when it moved (new data) or data inside it changed (`dirty_since` before its
    end). Returns the number of windows recomputed."""
    through_by_table = dict(con.execute(sql("publish/table_through")).fetchall())
    latest = {(m, g): p for m, g, p in con.execute(sql("publish/latest_city_periods")).fetchall()}
    stored = {(r[0], r[1]): r[2:] for r in con.execute(sql("publish/stored_windows")).fetchall()}
    window_sql, values_sql = sql("publish/reference_window"), sql("publish/reference_values")
    recomputed = 0
    con.execute("BEGIN TRANSACTION")
    try:
        keep = set()
        for metric in metrics.values():
            through = through_by_table.get(metric.table)
            if through is None:
                continue
            for grain in metric.grains:
                keep.add((metric.id, grain))
                w = facts.reference_window(metric, grain, through, latest.get((metric.id, grain)))
                key = (w.period, w.through, w.kind, w.ref_period, w.ref_end)
                if stored.get((metric.id, grain)) == key and (dirty_since is None or dirty_since >= w.ref_end):
                    continue
                con.execute(sql("publish/delete_reference_values"), {"m": metric.id, "g": grain})
                con.execute(window_sql, {"metric_id": metric.id, "grain": grain, "period": w.period,
                                         "through": w.through, "kind": w.kind, "ref_period": w.ref_period,
                                         "ref_end": w.ref_end})
                # metric.sql comes from the registry files (code), never from input.
                con.execute(values_sql.replace("/*metric*/", metric.sql),
                            {"metric_id": metric.id, "grain": grain, "start": w.ref_period, "end": w.ref_end})
                recomputed += 1
        for metric_id, grain in set(stored) - keep:  # a metric or grain no longer published
            con.execute(sql("publish/delete_reference_window"), {"m": metric_id, "g": grain})
            con.execute(sql("publish/delete_reference_values"), {"m": metric_id, "g": grain})
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the cause is the error raised above, not this
            con.execute("ROLLBACK")
        raise
    return recomputed


# --------------------------------------------------------------------------- snapshots
# the shortest update interval a source of each grain can keep (a monthly source: a month)
SOURCE_PERIOD = {"hour": timedelta(0), "day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}


def due_every(metric: registry.Metric, source_grain: str) -> timedelta:
    """How often new data is due: the metric's cadence, but at least one period of its source."""
    return max(metric.cadence, SOURCE_PERIOD.get(source_grain, timedelta(0)))


def metrics_to_publish(con) -> dict[str, registry.Metric]:
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
    for table, source_id, grain in con.execute(sql("publish/table_source_grains")).fetchall():
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


def _write_ops(con, path: Path, version: str, published_at: datetime, data_now: datetime,
               metrics: dict[str, registry.Metric]) -> None:
    records_from = data_now - timedelta(days=int(settings.get("records_days")))
    con.execute("ATTACH $path AS snap", {"path": str(path)})
    try:
        metrics_df = _metrics_frame(public_only=False, metrics=metrics)
        con.register("metrics_df", metrics_df)
        create_table(con, "publish/ops_metrics")
        con.unregister("metrics_df")
        keys = {"keys": _published_keys(metrics)}
        create_table(con, "publish/ops_metric_values", keys)
        create_table(con, "publish/ops_reference_windows", keys)
        create_table(con, "publish/ops_reference_values", keys)
        create_table(con, "publish/ops_districts")
        create_table(con, "publish/ops_sources")
        create_table(con, "publish/ops_source_times")
        create_table(con, "publish/ops_incidents")
        create_table(con, "publish/ops_load_batches")
        create_table(con, "publish/ops_quarantine_summary")
        create_table(con, "publish/ops_service_requests", {"f": records_from})
        create_table(con, "publish/ops_parking_facilities")
        create_table(con, "publish/ops_meta", {"v": version, "p": published_at})
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
# the statement of the standard deviation, by the kind of interval a metric declares (`ci:` in
# its header). mean_score: the survey's 1-5 scores (a mean score of another table needs its own)
CI_SD_SQL = {"mean_score": _SCORE_SD_SQL}


def _ci_metrics() -> dict[str, registry.ConfidenceInterval]:
    """Metric id -> the confidence interval its header declares (``ci:``)."""
    return {m.id: m.ci for m in registry.metrics().values() if m.ci is not None}


def _coverage(con, data_now: datetime) -> dict[str, tuple]:
    """Per raw table, the span its data covers: from the first day with data to the end of the
    last day with data (never past the data clock). Completeness is judged by this span, not by
    the wall clock: data that ends on a Wednesday leaves that week partial, whenever it is loaded."""
    out = {}
    for table, first, last in con.execute(sql("publish/table_coverage")).fetchall():
        if last is None:
            continue
        end = last if last == align(last, "day") else align(last, "day") + timedelta(days=1)
        out[table] = (first, min(end, data_now))
    return out


def _candidate_cells(con, public_ids, data_now, metrics):
    """Week and month cells of the public metrics in *closed blocks*: the period lies inside its
    source's coverage, and so does the whole month its block belongs to (data.privacy blocks: a
    month with the weeks that end in it), so a block is audited and released once, complete."""
    import numpy as np
    import pandas as pd

    from data import privacy

    cells = con.execute(
        sql("publish/candidate_cells"),
        {"ids": public_ids, "grains": list(PUBLIC_GRAINS), "keys": _published_keys(metrics)},
    ).df()
    coverage = _coverage(con, data_now)
    table = cells["metric_id"].map({m.id: m.table for m in metrics.values()})
    first = pd.to_datetime(table.map(lambda t: coverage.get(t, (None, None))[0]))
    last = pd.to_datetime(table.map(lambda t: coverage.get(t, (None, None))[1]))
    period = pd.to_datetime(cells["period"])
    end = np.where(cells["grain"] == "week", period + pd.Timedelta(days=7), period + pd.offsets.MonthBegin(1))
    block_end = privacy.block_month(period, cells["grain"]) + pd.offsets.MonthBegin(1)
    keep = last.notna() & (period >= first.fillna(pd.Timestamp.min)) & (pd.to_datetime(end) <= last) & (block_end <= last)
    return cells[keep.to_numpy()].reset_index(drop=True)


def _with_ci(con, cells):
    """A 95 % confidence interval for mean scores, rounded outwards so that it does not pin a
    score histogram (data.privacy.protect_ci)."""
    import numpy as np
    import pandas as pd

    from data import privacy

    cells["ci_low"] = np.nan
    cells["ci_high"] = np.nan
    for metric_id, ci in _ci_metrics().items():
        sd_sql, lower, upper = CI_SD_SQL[ci.kind], ci.min, ci.max
        rows = cells["metric_id"] == metric_id
        if not rows.any():
            continue
        since = pd.Timestamp(cells.loc[rows, "period"].min()).to_pydatetime()
        sds = pd.concat([con.execute(sd_sql, {"grain": grain, "since": since}).df().assign(grain=grain)
                         for grain in PUBLIC_GRAINS])
        part = cells.loc[rows, ["grain", "district_id", "period", "value", "n"]].merge(
            sds, on=["grain", "district_id", "period"], how="left")
        low, high = privacy.mean_ci(part["value"], part["sd"], part["n"], lower, upper)
        low, high = privacy.protect_ci(part["value"], part["n"], low, high, lower, upper)
        cells.loc[rows, "ci_low"] = low
        cells.loc[rows, "ci_high"] = high
    return cells


def _release(con, k: int, version: str, data_now: datetime, metrics: dict[str, registry.Metric]):
    """The public cells of this publish: every cell released before, as it was released
    (releases are final), plus the closed blocks not released yet, attacked by the release
    auditor (data.privacy.audit_release) before they are added. Returns (cells, log row)."""
    import numpy as np
    import pandas as pd

    from data import audit_cache, privacy

    started = time.perf_counter()
    public = {m.id: m for m in registry.public_metrics() if m.id in metrics}
    key = ["metric_id", "grain", "period", "district_id"]
    released = con.execute(sql("publish/released_cells")).df()
    released["period"] = pd.to_datetime(released["period"])
    candidates = _candidate_cells(con, list(public), data_now, metrics)
    candidates["period"] = pd.to_datetime(candidates["period"])
    merged = candidates.merge(released[key + ["n"]], on=key, how="left", suffixes=("", "_released"), indicator=True)
    late = int(((merged["_merge"] == "both") & (merged["n"].astype(float) != merged["n_released"].astype(float))).sum())
    new = candidates[(merged["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
    log = {"new_cells": len(new), "new_withheld": 0, "blocks_audited": 0, "held_blocks": 0, "late_cells": late, "reason": ""}
    if new.empty:
        log["seconds"] = time.perf_counter() - started
        return released, log
    new = _with_ci(con, new)
    new["suppressed"] = False
    exempt = new["metric_id"].map(lambda m: not public[m].suppress).to_numpy(bool)
    audited = new[~exempt]
    # the released cells of the blocks that gain new cells take part as they were released
    # (and those of the block before, which a stock's chain links to the new one)
    blocks_new = set(zip(audited["metric_id"], privacy.block_month(audited["period"], audited["grain"]), strict=False))
    linked = blocks_new | {(m, b - pd.offsets.MonthBegin(1)) for m, b in blocks_new}
    old = released[[(m, b) in linked for m, b in zip(released["metric_id"],
                                                      privacy.block_month(released["period"], released["grain"]), strict=False)]]
    family_metrics = {m.id: m for m in public.values() if m.suppress}
    both = pd.concat([old.assign(_new=False), audited.assign(_new=True)], ignore_index=True)
    if len(both):  # how each straddling week splits between its two months (the auditor's floors)
        heads = con.execute(sql("publish/week_heads"), {"ids": sorted(family_metrics),
                                                  "since": both["period"].min().to_pydatetime()}).df()
        heads["period"] = pd.to_datetime(heads["period"])
        both = both.merge(heads.assign(grain="week"), on=key, how="left")
    qcells, links = privacy.quantity_cells(both, family_metrics)
    is_new = both["_new"].to_numpy(bool)
    q_new = np.zeros(len(qcells), bool)
    q_new[links["qid"].to_numpy()[is_new[links["row"].to_numpy()]]] = True
    q_old_withheld = np.zeros(len(qcells), bool)
    q_old_withheld[links["qid"].to_numpy()[(~is_new & both["suppressed"].to_numpy(bool))[links["row"].to_numpy()]]] = True
    primary = privacy.primary_quantities(qcells, k) & q_new
    # a mean score that leaves one histogram (all 5s, one 4 and the rest 5s, ...) is withheld
    scores = both["metric_id"].isin(list(_ci_metrics())).to_numpy(bool) & is_new
    pinned = np.zeros(len(both), bool)
    pinned[scores] = privacy.score_pinned(both.loc[scores, "value"], both.loc[scores, "n"])
    pinned_q = links["qid"].to_numpy()[pinned[links["row"].to_numpy()]]
    primary[pinned_q] = True
    frozen = ~q_new
    budget = float(settings.get("audit_seconds"))
    withheld, failures = privacy.audit_release(qcells, family_metrics, k=k, width=k - 1, primary=primary,
                                               start=primary | q_old_withheld, frozen=frozen,
                                               deadline=started + budget, store=audit_cache.Store(settings.var_dir() / "audit"))
    row_withheld = np.zeros(len(both), bool)
    np.logical_or.at(row_withheld, links["row"].to_numpy(), withheld[links["qid"].to_numpy()])
    both["suppressed"] = row_withheld
    held = set()
    for f in failures:  # a metric's month that cannot be protected (in time) is not released
        month = pd.Timestamp(f["block"] + "-01")
        for metric_id in f["metrics"]:
            held.add((metric_id, month))
    out_new = both[both["_new"]].drop(columns="_new")
    keep = [(m, b) not in held for m, b in zip(out_new["metric_id"], privacy.block_month(out_new["period"], out_new["grain"]), strict=False)]
    out_new = out_new[keep]
    out = pd.concat([out_new, new[exempt]], ignore_index=True)
    log.update(new_cells=len(out), new_withheld=int(out["suppressed"].sum()),
               blocks_audited=len({(m, b) for m, b in blocks_new}), held_blocks=len(held),
               reason="; ".join(sorted({f"{f['block']} {', '.join(f['metrics'])}: {f['reason']}" for f in failures}))[:2000])
    columns = ["metric_id", "grain", "district_id", "period", "value", "numerator", "denominator", "n",
               "suppressed", "ci_low", "ci_high"]
    store = out[columns].assign(release=version)
    con.register("release_df", store)
    con.execute(sql("publish/store_release_cells"))
    con.unregister("release_df")
    log["seconds"] = time.perf_counter() - started
    return pd.concat([released, out[columns]], ignore_index=True), log


def _published_figures(cells, metrics: dict[str, registry.Metric]):
    """What the public snapshot shows of the released cells: withheld figures null; metrics
    exempt from suppression (figures about no person) publish their figure, not the count of
    records behind it (n, and any column that counts the same records, is null)."""
    import numpy as np
    import pandas as pd

    out = cells.copy()
    out["n"] = pd.array(out["n"], dtype="Int64")
    for column in ("value", "numerator", "denominator", "ci_low", "ci_high"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    mask = out["suppressed"].to_numpy(bool)
    out.loc[mask, ["value", "numerator", "denominator", "ci_low", "ci_high"]] = np.nan
    out.loc[mask, "n"] = pd.NA
    for m in metrics.values():
        if m.public and not m.suppress:
            rows = (out["metric_id"] == m.id).to_numpy()
            for column in m.counted():
                if column in out.columns:
                    out.loc[rows, column] = pd.NA if column == "n" else np.nan
    return out


def _public_data_times(con, cells, metrics: dict[str, registry.Metric]):
    """Per source, the end of the newest released period: a time of the release, never the time
    of the newest record (which would disclose one request's or one trip's minute)."""
    import pandas as pd

    table = {m.id: m.table for m in metrics.values()}
    period = pd.to_datetime(cells["period"])
    ends = period.where(cells["grain"] != "week", period + pd.Timedelta(days=7))
    ends = ends.where(cells["grain"] != "month", period + pd.offsets.MonthBegin(1))
    newest = pd.DataFrame({"table_name": cells["metric_id"].map(table), "end": ends}).groupby("table_name")["end"].max()
    sources = con.execute(sql("publish/table_sources")).df()
    # (a dict: with no released period at all — a city whose only data is a part-week — mapping
    # through the empty datetime Series raised "Cannot cast DatetimeArray to dtype float64")
    sources["data_time"] = pd.to_datetime(sources["table_name"].map(newest.to_dict()))
    return sources.dropna(subset=["data_time"])


# Snapshot feeds (the state of every parking bay, car park, dock or bin at each poll: facilities,
# not people): how many readings a city's source has so far and when they were taken, so the
# public site can say "one reading so far, taken ..." instead of an empty overview (issue 15).


def _write_public(con, path: Path, version: str, published_at: datetime, data_now: datetime,
                  metrics: dict[str, registry.Metric]) -> None:
    k = int(settings.get("suppression_k"))
    con.execute("BEGIN TRANSACTION")
    try:
        released, log = _release(con, k, version, data_now, metrics)
        con.execute(sql("publish/log_release"),
                    {"v": version, "p": published_at, "c": log["new_cells"], "w": log["new_withheld"],
                     "b": log["blocks_audited"], "h": log["held_blocks"], "l": log["late_cells"],
                     "r": log["reason"], "s": log["seconds"]})
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the cause is the error raised above, not this
            con.execute("ROLLBACK")
        raise
    if log["reason"]:
        log_msg = "public release %s: %d blocks held back: %s"
        logging.getLogger(__name__).warning(log_msg, version, log["held_blocks"], log["reason"][:300])
    cells = _published_figures(released, metrics)
    times = _public_data_times(con, released, metrics)
    con.execute("ATTACH $path AS pub", {"path": str(path)})
    try:
        metrics_df = _metrics_frame(public_only=True, metrics=metrics)
        con.register("metrics_df", metrics_df)
        create_table(con, "publish/public_metrics")
        con.unregister("metrics_df")
        con.register("cells_df", cells)
        create_table(con, "publish/public_metric_values")
        con.unregister("cells_df")
        create_table(con, "publish/public_districts")
        create_table(con, "publish/public_sources")
        create_table(con, "publish/public_reported_measure_defs")
        create_table(con, "publish/public_reported_measures", {"now": data_now})
        con.register("times_df", times)
        create_table(con, "publish/public_source_times")
        con.unregister("times_df")
        create_table(con, "publish/public_source_readings")
        _write_public_annotations(con)
        create_table(con, "publish/public_meta", {"v": version, "p": published_at, "k": k})
    finally:
        con.execute("DETACH pub")


def _write_public_annotations(con) -> None:
    """pub.public_annotations: the officials' annotations an admin approved for the public site
    (data.annotations.public_approved; no author, no record), so a public trend says why it
    spiked. The public site reads them from its snapshot; it never opens the ops store. A busy
    or missing ops store publishes none rather than failing the release."""
    import pandas as pd

    from data import annotations, ops_store

    try:
        notes = annotations.public_approved()
    except (ops_store.Busy, OSError) as exc:
        logging.getLogger(__name__).warning("public annotations not published: %s", exc)
        notes = pd.DataFrame(columns=annotations.PUBLIC_COLUMNS)
    notes = notes.astype({"district_id": object, "domain": object, "kind": str, "title": str})
    con.register("notes_df", notes)
    create_table(con, "publish/public_annotations")
    con.unregister("notes_df")


def _write_release_log(con, ops_path: Path) -> None:
    """The release log (what the auditor released, held back and why) into the ops snapshot, for /data."""
    con.execute("ATTACH $path AS snap", {"path": str(ops_path)})
    try:
        create_table(con, "publish/ops_release_log")
    finally:
        con.execute("DETACH snap")


# --------------------------------------------------------------------------- pointer
def _flip(pointer: dict) -> None:
    target = pointer_path()
    tmp = target.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(pointer, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _cleanup(current: str, now: float) -> list[Path]:
    """Delete superseded releases no reader needs (see the module docstring)."""
    window = float(settings.get("snapshot_poll_s"))
    grace = float(settings.get("snapshot_grace_s"))
    keep = int(settings.get("snapshot_keep"))
    removed: list[Path] = []
    for db in FOLDERS:
        superseded = [(v, p) for v, p in releases(db) if v < current]  # newest first
        for rank, (_version, path) in enumerate(superseded):
            try:
                age = now - path.stat().st_mtime  # its mtime: when it was superseded
            except OSError:
                continue
            if age <= window:
                continue  # a worker may still serve it until its next poll
            if rank >= keep or (rank > 0 and age > grace):
                _unlink(path, removed)
    return removed


def publish(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> PublishResult:
    """Roll up what changed, write both snapshots, flip the pointer. See module docstring."""
    started = time.perf_counter()
    stage = "cleaning up"
    temps: list[Path] = []
    finals: list[Path] = []
    try:
        clean_orphans()
        stage = "rollups"
        data_now = now or datetime.now()  # the data clock: retention windows are relative to it
        recomputed_from = update_rollups(con, data_now)
        rollup_seconds = time.perf_counter() - started

        stage = "preparing the snapshots"
        published_at = datetime.now()
        version = new_version(published_at)
        current = read_pointer()
        if current and current["version"] >= version:  # versions only ever increase
            version = current["version"] + "-1"
        var = settings.var_dir()
        ops_path = var / "snapshots" / f"ops-{version}.duckdb"
        public_path = var / "public" / f"public-{version}.duckdb"
        temps = [ops_path.with_suffix(".tmp"), public_path.with_suffix(".tmp")]
        finals = [ops_path, public_path]
        for folder in (ops_path.parent, public_path.parent):
            folder.mkdir(parents=True, exist_ok=True)
        ops_path.parent.chmod(0o700)  # ops snapshots hold records: not for the public site's user
        metrics = metrics_to_publish(con)
        stage = "reference values"
        update_references(con, metrics, recomputed_from)
        stage = "writing the ops snapshot"
        _write_ops(con, temps[0], version, published_at, data_now, metrics)
        stage = "writing the public snapshot"
        _write_public(con, temps[1], version, published_at, data_now, metrics)
        stage = "writing the release log"
        _write_release_log(con, temps[0])
        stage = "syncing the snapshots"
        for tmp in temps:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(temps[0], ops_path)
        os.replace(temps[1], public_path)
        stage = "flipping the pointer"
        previous = read_pointer()
        if previous:  # the grace period of a superseded snapshot starts now (its mtime)
            for key in FOLDERS:
                try:
                    os.utime(var / previous[key])
                except OSError:
                    pass
        pointer = {
            "version": version,
            "ops": str(ops_path.relative_to(var)),
            "public": str(public_path.relative_to(var)),
            "published_at": published_at.isoformat(timespec="seconds"),
            "bytes": {"ops": ops_path.stat().st_size, "public": public_path.stat().st_size},
        }
        _flip(pointer)
    except BaseException as exc:
        removed: list[Path] = []
        for path in (*temps, *finals):
            _unlink(path, removed)
        if not isinstance(exc, Exception):
            raise
        message = f"publish failed ({stage}): {faults.describe(exc)}"
        log.error("%s", message)
        faults.record("publish", message)  # after the temp files are gone: room to write it
        raise PublishError(message) from exc
    try:  # several app hosts: the release goes to the shared store too (data/snapshot_store.py)
        snapshot_store.push(pointer)
    except OSError as exc:
        message = f"publish {version}: written here but not to the snapshot store ({faults.describe(exc)})"
        log.error("%s", message)
        faults.record("publish", message)
        raise PublishError(message) from exc
    _cleanup(version, time.time())
    clean_orphans()
    faults.record_publish_ok(version)
    _detect(con, data_now, version)
    seconds = time.perf_counter() - started
    log.info("published %s in %.2fs (rollups %.2fs)", version, seconds, rollup_seconds)
    return PublishResult(version, ops_path, public_path, seconds, rollup_seconds, recomputed_from)


def _detect(con, data_now: datetime, version: str) -> None:
    """Step 5: the alert detector on the fresh rollups, recording episodes in the ops store
    (data/detect.py). A failure is logged and never undoes the publish."""
    try:
        from data import detect

        summary = detect.run(con, data_now, version=version)
        log.info("alert detection for %s: %s", version, summary)
    except Exception:
        log.exception("alert detection failed for %s", version)
    from data import release_alert  # a good release is current again: resolve the fallback alert

    release_alert.check()


def main() -> None:  # python -m data.publish
    from data import warehouse

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not warehouse.path().exists():
        raise SystemExit("no warehouse: run `python -m data.demo` first")
    try:
        con = warehouse.connect()
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse is locked by another process
        raise SystemExit(f"publish failed (opening the warehouse): {faults.describe(exc)}") from None
    try:
        result = publish(con)
    except PublishError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        con.close()
    print(f"published version {result.version} in {result.seconds:.2f}s "
          f"(rollups {result.rollup_seconds:.2f}s, recomputed from {result.recomputed_from})")
    from data import notify  # the alert events the detection just wrote: webhooks and e-mail
    print(f"notifications: {notify.run()}")


if __name__ == "__main__":
    main()
