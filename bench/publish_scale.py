"""Publish time against the number of districts (issue 16: "publish at 300 districts within 2× of
71 districts"; issue 13: the release auditor at 71 and 300 districts, incremental publish).

    python -m bench.publish_scale [--districts 71,200,300] [--days 120] [--scale 0.5] [--fast]

For each N a demo city is built in a temporary var dir on a generated square grid of N districts
over New York's extent (each cell takes the borough of the nearest real community district and
an equal share of the real population, so the demo's generators run unchanged and the same
citywide volume is spread over N districts: more districts, more small counts). Three publishes
follow: the first (every closed month audited), the same data again (nothing changed; ``again*``:
once more with the auditor's in-memory answers dropped, as a new ``python -m data.publish``
process would start), and one more day of live-feed data that closes the next month (the daily
publish that audits a month).

Per publish it prints the total seconds, the rollups, the release step (``publish._release``:
candidate cells, quantities, auditor, storing the release) and within it the release auditor
(``privacy.audit_release``), the public cells and how many are withheld; then the ratio
t(largest N) / t(smallest N) of the first publish and of the auditor.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

END = datetime(2026, 10, 31)  # data through 30 October: October's block closes with one more day
LON, LAT = (-74.05, -73.70), (40.54, 40.92)


def grid_districts(n: int, real: pd.DataFrame) -> pd.DataFrame:
    """`n` square cells over New York's extent as a frame like ``demo.load_boundaries()``: ids
    ``G0001``.., the borough of the nearest real (non-joint) district, population split evenly."""
    active = real[~real["is_joint_area"].astype(bool)].reset_index(drop=True)
    centres = np.array([_centre(json.loads(g)) for g in active["geometry"]])
    ncol = math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    dlon, dlat = (LON[1] - LON[0]) / ncol, (LAT[1] - LAT[0]) / nrow
    km2 = (dlon * 111.32 * math.cos(math.radians(40.7))) * (dlat * 110.57)
    population = int(active["population"].fillna(0).sum())
    rows = []
    for i in range(n):
        r, c = divmod(i, ncol)
        x0, y0 = LON[0] + c * dlon, LAT[0] + r * dlat
        near = int(np.argmin(((centres - [x0 + dlon / 2, y0 + dlat / 2]) ** 2).sum(axis=1)))
        ring = [[x0, y0], [x0 + dlon, y0], [x0 + dlon, y0 + dlat], [x0, y0 + dlat], [x0, y0]]
        rows.append({"district_id": f"G{i + 1:04d}", "name": f"Cell {i + 1}", "borough": active["borough"][near],
                     "population": population // n, "area_km2": round(km2, 3),
                     "geometry": json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":")),
                     "is_joint_area": False, "label": f"Cell {i + 1}"})
    frame = pd.DataFrame(rows)
    frame["population"] = frame["population"].astype("Int64")
    return frame


def _centre(geometry: dict) -> tuple[float, float]:
    """The mean of a (multi)polygon's vertices: close enough to pick the nearest district."""
    rings = geometry["coordinates"] if geometry["type"] == "Polygon" else [r for p in geometry["coordinates"] for r in p]
    points = np.array([pt for ring in rings for pt in ring], float)
    return float(points[:, 0].mean()), float(points[:, 1].mean())


class Timers:
    """Seconds spent in named module functions, by wrapping them for the run (benchmark only)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def wrapped(self, targets: dict[str, tuple[object, str]]):
        originals = {}
        for label, (module, name) in targets.items():
            original = getattr(module, name)
            originals[label] = (module, name, original)
            setattr(module, name, self._timed(label, original))
        try:
            yield self
        finally:
            for module, name, original in originals.values():
                setattr(module, name, original)

    def _timed(self, label, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
        return timed

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def _snapshot_counts(path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        cells, withheld = con.execute("SELECT count(*), count(*) FILTER (WHERE suppressed) FROM metric_values").fetchone()
    finally:
        con.close()
    return int(cells), int(withheld)


def run_city(n: int, days: int, scale: float, keep: bool) -> list[dict]:
    """Build a city of `n` grid districts and publish it three times; one row per publish."""
    var = tempfile.mkdtemp(prefix=f"cityops-pubscale-{n}-")
    os.environ["CITYOPS_VAR_DIR"] = var
    from data import demo, livefeed, privacy, publish, snapshot, warehouse
    from data.demo import loader

    snapshot.reset()
    privacy._BLOCKS.clear()
    privacy._FAILED.clear()
    real = demo.load_boundaries()
    original = loader.load_boundaries
    loader.load_boundaries = lambda *a, **k: grid_districts(n, real)
    try:
        started = time.perf_counter()
        demo.build(warehouse.path(), seed=7, days=days, end=END, scale=scale, progress=False)
        build_s = time.perf_counter() - started
    finally:
        loader.load_boundaries = original
    timers = Timers()
    targets = {"release": (publish, "_release"), "audit": (privacy, "audit_release")}
    rows = []
    con = warehouse.connect(warehouse.path())
    try:
        with timers.wrapped(targets):
            for label, now, more in (("first", END, False), ("again", END, False), ("again*", END, False),
                                     ("+1 day", END + timedelta(days=1), True)):
                if label.endswith("*"):  # as a new process would: nothing kept in memory
                    privacy._BLOCKS.clear()
                    privacy._FAILED.clear()
                if more:
                    livefeed.backfill(con, now, np.random.default_rng(1))
                result = publish.publish(con, now=now)
                spent = timers.take()
                cells, withheld = _snapshot_counts(result.public_path)
                rows.append({"districts": n, "publish": label, "seconds": result.seconds,
                             "rollups": result.rollup_seconds, "release": spent.get("release", 0.0),
                             "audit": spent.get("audit", 0.0), "cells": cells, "withheld": withheld,
                             "build": build_s, "public_path": str(result.public_path)})
                print("  " + report(rows[-1:]).splitlines()[1], file=sys.stderr, flush=True)  # as it goes
    finally:
        con.close()
        snapshot.reset()
        if not keep:
            shutil.rmtree(var, ignore_errors=True)
    return rows


def report(rows: list[dict]) -> str:
    lines = [f"{'districts':>9} {'publish':>8} {'total s':>8} {'rollups s':>9} {'release s':>9} "
             f"{'audit s':>8} {'cells':>8} {'withheld':>8}"]
    for r in rows:
        lines.append(f"{r['districts']:>9} {r['publish']:>8} {r['seconds']:>8.2f} {r['rollups']:>9.2f} "
                     f"{r['release']:>9.2f} {r['audit']:>8.2f} {r['cells']:>8,} {r['withheld']:>8,}")
    first = [r for r in rows if r["publish"] == "first"]
    if len(first) >= 2:
        lo, hi = first[0], first[-1]
        lines.append(f"t({hi['districts']})/t({lo['districts']}), first publish: total {hi['seconds'] / lo['seconds']:.2f}x, "
                     f"release {hi['release'] / max(lo['release'], 1e-9):.2f}x, "
                     f"audit {hi['audit'] / max(lo['audit'], 1e-9):.2f}x (goal: total within 2x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.publish_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--districts", default="71,200,300", help="comma-separated district counts")
    parser.add_argument("--days", type=int, default=120, help="days of history of each city")
    parser.add_argument("--scale", type=float, default=0.5, help="demo scale (entities and event volume)")
    parser.add_argument("--fast", action="store_true", help="a quick run: 60 days at scale 0.2")
    parser.add_argument("--keep", action="store_true", help="keep the var dirs (their paths are printed)")
    args = parser.parse_args(argv)
    days, scale = (60, 0.2) if args.fast else (args.days, args.scale)
    sizes = [int(s) for s in args.districts.split(",") if s.strip()]
    print(f"publish scale: districts {sizes}, {days} days, scale {scale:g}, end {END:%Y-%m-%d}", flush=True)
    rows = []
    for n in sizes:
        print(f"building and publishing {n} districts ...", file=sys.stderr, flush=True)
        rows.extend(run_city(n, days, scale, args.keep))
        if args.keep:
            print(f"  {n}: {rows[-1]['public_path']}", file=sys.stderr, flush=True)
    print(report(rows), flush=True)


if __name__ == "__main__":
    main()
