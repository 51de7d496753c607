"""Rollup time per engine: the same demo city's full rollup recompute on DuckDB and on Spark.

    python -m bench.rollups --engine duckdb,spark --rows 1M

A demo city of about the given size is built once in a temporary var dir and copied, then the
whole history is recomputed (every metric and grain, as a first publish does) with each
engine. Printed per engine: rollup seconds, rows produced, and whether the rows equal
DuckDB's (every metric, grain, district and period; values to 1e-9 relative). Spark runs
``local[*]`` (setting ``spark_master``) on this machine: it pays a JVM start, a Parquet export
of the raw tables and about a second per job, so on one small machine it is slower than
DuckDB; it pays off only where the raw data no longer fits one machine (see the README's
*Beyond one machine*).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime

import numpy as np

from bench.__main__ import SIZES

ROWS = {"100k": (30, 0.05), **SIZES}


def _rollup(path, engine: str, now: datetime):
    from data import publish, warehouse
    os.environ["CITYOPS_ROLLUP_ENGINE"] = engine
    con = warehouse.connect(path)
    try:
        t0 = time.perf_counter()
        publish.update_rollups(con, now=now)
        seconds = time.perf_counter() - t0
        frame = (con.execute("SELECT * FROM metric_values").df()
                 .sort_values(["metric_id", "grain", "district_id", "period"]).reset_index(drop=True))
        raw = sum(con.table(t).aggregate("count(*)").fetchall()[0][0] for t in _raw_tables())
        return seconds, frame, raw
    finally:
        con.close()


def _raw_tables():
    from data.warehouse import RAW_TABLES
    return RAW_TABLES  # identifiers from code


def _same(a, b) -> bool:
    keys = ["metric_id", "grain", "district_id", "period"]
    if len(a) != len(b) or not (a[keys].astype(str).values == b[keys].astype(str).values).all():
        return False
    return all(np.allclose(a[c].astype(float), b[c].astype(float), rtol=1e-9, atol=1e-9, equal_nan=True)
               for c in ("value", "numerator", "denominator", "n"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rollups", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="duckdb,spark", help="comma separated: duckdb, spark")
    parser.add_argument("--rows", default="1M", choices=list(ROWS), help="size of the demo city")
    args = parser.parse_args(argv)
    var = tempfile.mkdtemp(prefix="cityops-rollups-")
    os.environ["CITYOPS_VAR_DIR"] = var
    from data import demo
    days, scale = ROWS[args.rows]
    now = datetime.now().replace(minute=0, second=0, microsecond=0)
    base = os.path.join(var, "base.duckdb")
    print(f"building ~{args.rows} raw rows (days={days}, scale={scale}) ...", file=sys.stderr, flush=True)
    demo.build(base, seed=1, days=days, end=now, scale=scale, progress=False)
    results = {}
    for engine in [e.strip() for e in args.engine.split(",") if e.strip()]:
        path = os.path.join(var, f"{engine}.duckdb")
        shutil.copy(base, path)
        print(f"rolling up with {engine} ...", file=sys.stderr, flush=True)
        results[engine] = _rollup(path, engine, now)
    reference = results.get("duckdb")
    print(f"\n{'engine':<8} {'raw rows':>12} {'rollup s':>9} {'rollup rows':>12}  equals duckdb")
    for engine, (seconds, frame, raw) in results.items():
        same = "—" if reference is None or engine == "duckdb" else ("yes" if _same(frame, reference[1]) else "NO")
        print(f"{engine:<8} {raw:>12,} {seconds:>9.1f} {len(frame):>12,}  {same}")
    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
