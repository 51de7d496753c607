"""Foundation benchmark: demo build, publish (full and incremental), rollup query latency.

    python -m bench [--sizes 1M,10M] [--queries 200]

For each size a demo city is built in a temporary var dir. The table shows,
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
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bench.stats import percentile

RESULTS = Path(__file__).resolve().parent / "results"


def _time_queries(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentile(samples, 50), percentile(samples, 95)


def run_size(days: int, scale: float, n_queries: int) -> dict:
    var = tempfile.mkdtemp(prefix="cityops-bench-")
    os.environ["CITYOPS_VAR_DIR"] = var
    os.environ["CITYOPS_SNAPSHOT_POLL_S"] = "3600"
    from data import demo, livefeed, publish, repository, snapshot, warehouse

    snapshot.reset()
    repository.clear_cache()
    end = datetime.now().replace(minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    summary = demo.build(warehouse.path(), seed=1, days=days, end=end, scale=scale, progress=False)
    build_s = time.perf_counter() - t0
    con = warehouse.connect()
    raw_rows = int(summary["total_rows"])
    full = publish.publish(con)
    livefeed.tick(con, datetime.now().replace(microsecond=0), np.random.default_rng(1))
    incremental = publish.publish(con)
    districts = [r[0] for r in con.execute("SELECT district_id FROM districts LIMIT 5").fetchall()]

    # baseline: the explorer's daily city parking-occupancy series, straight from the raw rows
    def raw_baseline():
        con.execute("SELECT date_trunc('day', ts) d, 100 * sum(occupied) / sum(capacity) FROM parking_occupancy "
                    "WHERE ts >= $s GROUP BY 1", {"s": end - timedelta(days=120)}).fetchall()

    baseline_p50, baseline_p95 = _time_queries(raw_baseline, max(10, n_queries // 10))
    con.close()
    snapshot.reset()

    queries = {
        "metric_series": lambda: repository.run("ops/metric_series", metric="parking_occupancy_pct", grain="day",
                                                districts=["city", *districts[:3]],
                                                start=end - timedelta(days=120), end=end + timedelta(days=1)),
        "facts_latest": lambda: repository.run("ops/facts_latest", grain="day", district=districts[0]),
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
        "raw_rows": raw_rows, "scale": scale, "days": days,
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


# (label, days, scale): measured to give about the labelled number of raw rows. The demo keeps
# at least one sensor of each kind per district, so small cities are made with fewer days.
SIZES = {"1M": (150, 0.1), "10M": (730, 1.45), "100M": (730, 15.0)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help=f"comma separated, from {', '.join(SIZES)}")
    parser.add_argument("--queries", type=int, default=200, help="repetitions per query")
    args = parser.parse_args(argv)
    results = []
    for label in args.sizes.split(","):
        days, scale = SIZES[label.strip()]
        print(f"building ~{label} raw rows (days={days}, scale={scale}) ...", file=sys.stderr, flush=True)
        results.append(run_size(days, scale, args.queries))
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"foundation-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
