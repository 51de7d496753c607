"""Foundation benchmark: demo build, publish (full and incremental), rollup query latency.

    python -m bench [--rows 1e6,1e7] [--queries 200] [--days 730]

For each target raw-row count a demo city is built in a temporary var dir. The table shows,
per size: build time, full publish, incremental publish after one live-feed tick, and p50/p95
of the page queries through the repository (cold = first run after opening the snapshot,
warm = DuckDB warm, cache bypassed), next to the baseline of the same answer computed from
the raw rows (what a dashboard without rollups would run). Results are also written as JSON
to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _time_queries(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return _pct(samples, 50), _pct(samples, 95)


def run_size(target_rows: float, days: int, n_queries: int, rows_at_scale_1: float) -> dict:
    var = tempfile.mkdtemp(prefix="cityops-bench-")
    os.environ["CITYOPS_VAR_DIR"] = var
    os.environ["CITYOPS_SNAPSHOT_POLL_S"] = "3600"
    from data import demo, livefeed, publish, repository, snapshot, warehouse

    snapshot.reset()
    repository.clear_cache()
    scale = max(0.01, target_rows / rows_at_scale_1)
    end = datetime.now().replace(minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    summary = demo.build(warehouse.path(), seed=1, days=days, end=end, scale=scale, progress=False)
    build_s = time.perf_counter() - t0
    con = warehouse.connect()
    raw_rows = sum(v for k, v in summary["rows"].items() if k not in ("districts", "sources", "incidents"))
    full = publish.publish(con)
    livefeed.tick(con, datetime.now().replace(microsecond=0), random.Random(1))
    incremental = publish.publish(con)
    districts = [r[0] for r in con.execute("SELECT district_id FROM districts LIMIT 5").fetchall()]

    # baseline: the explorer's daily city series for bike trips, straight from the raw rows
    def raw_baseline():
        con.execute("SELECT date_trunc('day', started_at) d, count(*) FROM bike_trips "
                    "WHERE started_at >= $s GROUP BY 1", {"s": end - timedelta(days=120)}).fetchall()

    baseline_p50, baseline_p95 = _time_queries(raw_baseline, max(10, n_queries // 10))
    con.close()
    snapshot.reset()

    queries = {
        "metric_series": lambda: repository.run("ops/metric_series", metric="bike_trips", grain="day",
                                                districts=["city", *districts[:3]],
                                                start=end - timedelta(days=120), end=end + timedelta(days=1)),
        "latest_values": lambda: repository.run("ops/latest_values", grain="day", district=districts[0]),
        "metric_map": lambda: repository.run("ops/metric_map", metric="parking_occupancy_pct", grain="day"),
        "latest_by_district": lambda: repository.run("ops/latest_by_district", grain="day"),
    }
    t0 = time.perf_counter()
    queries["metric_series"]()
    cold_ms = (time.perf_counter() - t0) * 1000
    rows = []
    for name, fn in queries.items():
        def uncached(fn=fn):
            repository.clear_cache()
            fn()
        p50, p95 = _time_queries(uncached, n_queries)
        c50, c95 = _time_queries(fn, n_queries)
        rows.append({"query": name, "p50_ms": p50, "p95_ms": p95, "cached_p50_ms": c50, "cached_p95_ms": c95})
    snapshot.reset()
    return {
        "target_rows": target_rows, "raw_rows": raw_rows, "scale": scale, "days": days,
        "build_s": build_s, "publish_full_s": full.seconds, "publish_incremental_s": incremental.seconds,
        "first_query_ms": cold_ms, "raw_baseline_p50_ms": baseline_p50, "raw_baseline_p95_ms": baseline_p95,
        "queries": rows, "snapshot_mb": full.ops_path.stat().st_size / 1e6 if full.ops_path.exists() else None,
    }


def print_table(results: list[dict]) -> None:
    print()
    print(f"{'raw rows':>12} {'build s':>8} {'publish s':>10} {'incr. publish s':>16} {'first query ms':>15} "
          f"{'raw baseline p50/p95 ms':>24}")
    for r in results:
        print(f"{r['raw_rows']:>12,} {r['build_s']:>8.1f} {r['publish_full_s']:>10.2f} "
              f"{r['publish_incremental_s']:>16.2f} {r['first_query_ms']:>15.1f} "
              f"{r['raw_baseline_p50_ms']:>11.1f} / {r['raw_baseline_p95_ms']:<10.1f}")
    print()
    print(f"{'raw rows':>12} {'query':<20} {'p50 ms':>8} {'p95 ms':>8} {'cached p50':>11} {'cached p95':>11}")
    for r in results:
        for q in r["queries"]:
            print(f"{r['raw_rows']:>12,} {q['query']:<20} {q['p50_ms']:>8.2f} {q['p95_ms']:>8.2f} "
                  f"{q['cached_p50_ms']:>11.3f} {q['cached_p95_ms']:>11.3f}")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1e6,1e7", help="raw-row targets, comma separated")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--queries", type=int, default=200, help="repetitions per query")
    parser.add_argument("--rows-at-scale-1", type=float, default=None,
                        help="raw rows the demo makes at --scale 1 (measured if omitted)")
    args = parser.parse_args(argv)
    rows_at_1 = args.rows_at_scale_1
    if rows_at_1 is None:
        from data import demo

        with tempfile.TemporaryDirectory() as tmp:
            s = demo.build(Path(tmp) / "w.duckdb", seed=1, days=args.days, end=datetime(2026, 1, 1),
                           scale=0.05, progress=False)
            raw = sum(v for k, v in s["rows"].items() if k not in ("districts", "sources", "incidents"))
            rows_at_1 = raw / 0.05
    results = []
    for target in [float(x) for x in args.rows.split(",")]:
        print(f"building ~{target:,.0f} raw rows ...", file=sys.stderr, flush=True)
        results.append(run_size(target, args.days, args.queries, rows_at_1))
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"foundation-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main()
