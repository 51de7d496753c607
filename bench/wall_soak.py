"""Wall soak: the wall at a 1 s refresh for ≥ 2,000 refreshes in headless Chromium.

    python -m bench.wall_soak [--refreshes 2000] [--publish-every 120] [--view all]

A small demo city (data up to now, so tiles are fresh) is built in a temporary var dir and
served by gunicorn (2 workers). Every `--publish-every` refreshes a new snapshot is published
with one city value changed, so the soak covers data changes too (tile Patch + map redraw),
not only "nothing changed" refreshes. Reported:

- JS heap (after a forced GC) and DOM node count at start (after 20 warm-up refreshes) and end,
  with growth (target < 10 %);
- bytes per refresh response (body bytes seen by Chromium): the first load, then mean, p95
  and max of all later ones (target ≤ 50 KB), and of those after a publish;
- time of the refresh callback from request sent to first byte (loopback, so server time):
  p50, p95, max; and gunicorn's own p95 over every callback request (%(D)s);
- refreshes skipped by the client gate (a tick while the previous refresh still ran).
Results are printed as a table and written to bench/results/wall-soak-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.stats import percentile
from tests.live import ROOT, Gunicorn, launch_chromium, wall_token

RESULTS = ROOT / "bench" / "results"
CHANGE = ("UPDATE metric_values SET value = value * (0.9 + random() * 0.2) WHERE district_id = 'city' "
          "AND grain = 'day' AND metric_id = ? AND period = (SELECT max(period) FROM metric_values "
          "WHERE metric_id = ? AND grain = 'day')")
PUBLISH = f"""
import sys
from data import publish, warehouse
con = warehouse.connect(warehouse.path())
try:
    if len(sys.argv) > 1:
        con.execute({CHANGE!r}, [sys.argv[1], sys.argv[1]])
    publish.publish(con)
finally:
    con.close()
"""


def _measure(cdp) -> dict:
    cdp.send("HeapProfiler.collectGarbage")
    time.sleep(0.3)
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"heap_mb": metrics["JSHeapUsedSize"] / 1e6, "nodes": int(metrics["Nodes"]),
            "listeners": int(metrics.get("JSEventListeners", 0))}


def _access(log: Path) -> list[tuple[int, int, float]]:
    """(status, body bytes, server ms) of every callback request in gunicorn's access log."""
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "/_dash-update-component":
            out.append((int(parts[1]), int(parts[2]) if parts[2] != "-" else 0, int(parts[3]) / 1000))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=2000)
    parser.add_argument("--publish-every", type=int, default=120, help="0 = never publish during the soak")
    parser.add_argument("--view", default="all")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args(argv)

    var_dir = Path(tempfile.mkdtemp(prefix="cityops-soak-"))
    env = {**os.environ, "CITYOPS_VAR_DIR": str(var_dir), "CITYOPS_MODE": "ops", "CITYOPS_SNAPSHOT_POLL_S": "1"}
    print(f"building a small demo city in {var_dir} …", flush=True)
    subprocess.run([sys.executable, "-c", "from datetime import datetime; from data import demo, warehouse; "
                    "demo.build(warehouse.path(), seed=7, days=30, end=datetime.now(), scale=0.2, progress=False)"],
                   cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "-c", PUBLISH], cwd=ROOT, env=env, check=True)
    args.token = wall_token(var_dir, "soak-wall")  # a wall screen signs in with a device token
    log = var_dir / "access.log"
    server = Gunicorn("ops", env=env, args=("--access-logfile", str(log),
                                            "--access-logformat", "%(U)s %(s)s %(B)s %(D)s"))
    base = server.base
    try:
        server.start()
        result = _soak(base, env, log, args)
    finally:
        server.stop()
        shutil.rmtree(var_dir, ignore_errors=True)
    _report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"wall-soak-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"written to {out.relative_to(ROOT)}")
    return result


def _soak(base: str, env: dict, log: Path, args) -> dict:
    from playwright.sync_api import sync_playwright

    from data import registry

    metric_ids = list(registry.load())
    errors: list[str] = []
    publishes: list[int] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        sizes_ms: list[tuple[int, float]] = []  # (response body bytes, ms from request sent to response start)

        def finished(request):
            if "_dash-update-component" in request.url and "..wall-tiles.children" in (request.post_data or ""):
                timing = request.timing
                sizes_ms.append((request.sizes()["responseBodySize"],
                                 timing["responseStart"] - timing["requestStart"]))

        page.on("requestfinished", finished)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(f"{base}/wall?view={args.view}&refresh=1&soak=1&token={args.token}")
        page.wait_for_selector("#wall-tiles .kpi-card", timeout=60_000)

        def done() -> int:  # refreshes the wall has made so far (its own counter)
            return page.evaluate("() => window.cityopsWall.refreshes")

        while done() < 20:
            time.sleep(0.5)
        start = _measure(cdp)
        start_refreshes, t0 = done(), time.monotonic()
        next_publish = start_refreshes + args.publish_every if args.publish_every else None
        last_print = 0
        while (n := done()) < start_refreshes + args.refreshes:
            if next_publish and n >= next_publish:
                subprocess.run([sys.executable, "-c", PUBLISH, metric_ids[len(publishes) % len(metric_ids)]],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                publishes.append(n)
                next_publish = n + args.publish_every
            if n - last_print >= 200:
                print(f"  {n - start_refreshes} refreshes, {time.monotonic() - t0:.0f} s", flush=True)
                last_print = n
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        end = _measure(cdp)
        skipped = page.evaluate("() => window.cityopsWall.skipped || 0")
        reloaded = page.evaluate("() => window.sessionStorage.getItem('cityops-wall-reload')")
        browser.close()
    access = _access(log)
    first, later = sizes_ms[0], sizes_ms[1:]
    sizes = [b for b, _ in later]
    big = sorted(sizes)[-len(publishes):] if publishes else []
    return {
        "refreshes": args.refreshes, "seconds": round(elapsed, 1), "view": args.view,
        "viewport": f"{args.width}x{args.height}", "publishes": len(publishes),
        "heap_mb_start": round(start["heap_mb"], 2), "heap_mb_end": round(end["heap_mb"], 2),
        "heap_growth_pct": round((end["heap_mb"] / start["heap_mb"] - 1) * 100, 1),
        "nodes_start": start["nodes"], "nodes_end": end["nodes"],
        "nodes_growth_pct": round((end["nodes"] / start["nodes"] - 1) * 100, 1),
        "listeners_start": start["listeners"], "listeners_end": end["listeners"],
        "first_load_bytes": first[0], "bytes_mean": round(statistics.mean(sizes)) if sizes else None,
        "bytes_p95": percentile(sizes, 95), "bytes_max": max(sizes) if sizes else None,
        "bytes_after_publish_mean": round(statistics.mean(big)) if big else None,
        "server_ms_p50": round(percentile([ms for *_, ms in later], 50), 1),
        "server_ms_p95": round(percentile([ms for *_, ms in later], 95), 1),
        "server_ms_max": round(max(ms for *_, ms in later), 1),
        "all_callbacks_server_ms_p95": round(percentile([ms for *_, ms in access], 95), 1),
        "http_errors": sum(1 for s, *_ in access if s >= 400), "skipped_ticks": skipped,
        "console_errors": errors[:10], "reloaded": reloaded, "publish_at": publishes,
        "large_refreshes": [(i, b) for i, b in enumerate(sizes) if b > 50_000][:20],
    }


def _report(r: dict) -> None:
    rows = [
        ("refreshes / seconds", f"{r['refreshes']} / {r['seconds']}", ""),
        ("publishes during the soak", r["publishes"], ""),
        ("JS heap MB start → end", f"{r['heap_mb_start']} → {r['heap_mb_end']}", f"{r['heap_growth_pct']:+} % (target < 10 %)"),
        ("DOM nodes start → end", f"{r['nodes_start']} → {r['nodes_end']}", f"{r['nodes_growth_pct']:+} % (target < 10 %)"),
        ("event listeners start → end", f"{r['listeners_start']} → {r['listeners_end']}", ""),
        ("first load bytes", r["first_load_bytes"], ""),
        ("bytes per refresh mean / p95 / max", f"{r['bytes_mean']} / {r['bytes_p95']} / {r['bytes_max']}",
         "target ≤ 50 KB"),
        ("bytes of a refresh after a publish (mean)", r["bytes_after_publish_mean"], ""),
        ("refresh ms p50 / p95 / max (request → first byte)",
         f"{r['server_ms_p50']} / {r['server_ms_p95']} / {r['server_ms_max']}", ""),
        ("server ms p95, every callback (gunicorn log)", r["all_callbacks_server_ms_p95"], ""),
        ("HTTP errors / skipped ticks", f"{r['http_errors']} / {r['skipped_ticks']}", ""),
        ("console errors", len(r["console_errors"]), ""),
        ("page reloaded itself", r["reloaded"] or "no", ""),
    ]
    width = max(len(str(a)) for a, *_ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value!s:<24} {note}")


if __name__ == "__main__":
    main()
