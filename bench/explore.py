"""Explorer benchmark: server-side time of every explorer / district-profile callback and the
CSV export, through Flask (``POST /_dash-update-component`` as a signed-in admin, the way the
browser calls them), at several demo sizes.

    python -m bench.explore [--sizes 1M,10M] [--repeat 30]

cold = the query cache emptied before each call (DuckDB and the OS cache warm, every query
runs); warm = the same call again (query results cached per data version). The first call
after opening the snapshot is reported separately. Target: every interaction < 300 ms
server-side at 10M raw rows. Results are also written as JSON to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.__main__ import SIZES
from bench.stats import percentile

RESULTS = Path(__file__).resolve().parent / "results"
USER = ("bench-admin", "bench-password-1")


def _build(days: int, scale: float) -> int:
    var = tempfile.mkdtemp(prefix="cityops-bench-explore-")
    os.environ["CITYOPS_VAR_DIR"] = var
    os.environ["CITYOPS_SNAPSHOT_POLL_S"] = "3600"
    os.environ["CITYOPS_RATE_LIMITS"] = "false"
    from data import demo, publish, warehouse

    end = datetime.now().replace(minute=0, second=0, microsecond=0)
    summary = demo.build(warehouse.path(), seed=1, days=days, end=end, scale=scale, progress=False)
    con = warehouse.connect()
    try:
        publish.publish(con)
    finally:
        con.close()
    return int(summary["total_rows"])


def _client(app):
    from data import users

    if users.get(USER[0]) is None:
        users.add(USER[0], USER[1], "admin", "")
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": USER[0], "password": USER[1], "csrf_token": token})
    assert response.status_code == 302, response.status_code
    client.get("/login")
    client.environ_base["HTTP_X_CSRFTOKEN"] = client.get_cookie("_csrf_token").value
    return client


def _callback(client, deps, fragment, inputs, state=(), changed=0):
    dep = next(d for d in deps if fragment in d["output"])
    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]}
               for p in (dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]])]
    payload = {
        "output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs)],
        "state": [{"id": s["id"], "property": s["property"], "value": v} for s, v in zip(dep.get("state", []), state)],
        "changedPropIds": [f"{dep['inputs'][changed]['id']}.{dep['inputs'][changed]['property']}"],
    }
    body = json.dumps(payload)

    def call():
        response = client.post("/_dash-update-component", data=body, content_type="application/json")
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{fragment}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
        return response
    return call


def _timed(fn, n: int, before=None) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentile(samples, 50), percentile(samples, 95)


def run_size(label: str, repeat: int) -> dict:
    days, scale = SIZES[label]
    print(f"building ~{label} raw rows (days={days}, scale={scale}) ...", file=sys.stderr, flush=True)
    raw_rows = _build(days, scale)
    import app as app_module
    from data import repository, snapshot

    snapshot.reset()
    repository.clear_cache()
    client = _client(app_module.app)
    deps = client.get("/_dash-dependencies").get_json()
    districts = ["301", "302", "101"]
    views = lambda state: _callback(client, deps, "explore-kpis", [state, 0])  # noqa: E731
    sync_inputs = [None] * 11
    sync_inputs[8] = {"points": [{"location": "301"}]}
    cases = {
        "views: default (90d, day)": views({}),
        "views: 3 districts, per 1,000": views({"metric": "bike_trips", "districts": ",".join(districts),
                                                "scale": "per1k", "range": "30d"}),
        "views: last year, by week": views({"metric": "parking_occupancy_pct", "range": "year", "grain": "week"}),
        "views: 7d by hour": views({"metric": "traffic_volume", "range": "7d", "grain": "hour"}),
        "views: ratio, quarter": views({"metric": "sr_closed_within_sla_pct", "range": "quarter"}),
        "sync_url: map click": _callback(client, deps, "explore-url", sync_inputs, [{"metric": "bike_trips"}], changed=8),
        "district profile": _callback(client, deps, "district-kpis", ["301"]),
        "district records": _callback(client, deps, "district-records-grid", ["301", None]),
        "export CSV": lambda: client.get("/explore/export.csv?metric=bike_trips&range=90d&districts=301,302").get_data(),
    }
    t0 = time.perf_counter()
    cases["views: default (90d, day)"]()
    first_ms = (time.perf_counter() - t0) * 1000
    rows = []
    for name, fn in cases.items():
        c50, c95 = _timed(fn, repeat, before=repository.clear_cache)
        fn()
        w50, w95 = _timed(fn, repeat)
        rows.append({"callback": name, "cold_p50_ms": c50, "cold_p95_ms": c95, "warm_p50_ms": w50, "warm_p95_ms": w95})
    return {"size": label, "raw_rows": raw_rows, "first_call_ms": first_ms, "callbacks": rows}


def print_table(results: list[dict]) -> None:
    print()
    print(f"{'size':>5} {'raw rows':>12} {'callback':<32} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}")
    for r in results:
        for c in r["callbacks"]:
            print(f"{r['size']:>5} {r['raw_rows']:>12,} {c['callback']:<32} {c['cold_p50_ms']:>9.1f} "
                  f"{c['cold_p95_ms']:>9.1f} {c['warm_p50_ms']:>9.1f} {c['warm_p95_ms']:>9.1f}")
        print(f"{r['size']:>5} {'':>12} {'(first call after opening)':<32} {r['first_call_ms']:>9.1f}")
    print("ms, server-side (Flask test client, one process); target < 300 ms at 10M")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.explore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help=f"comma separated, from {', '.join(SIZES)}")
    parser.add_argument("--repeat", type=int, default=30, help="calls per callback and cache state")
    args = parser.parse_args(argv)
    results = []
    for label in [s.strip() for s in args.sizes.split(",")]:
        if len(results):  # one app per process: a new size runs in a child process
            import subprocess

            out = subprocess.run([sys.executable, "-m", "bench.explore", "--sizes", label, "--repeat",
                                  str(args.repeat), "--json-only"], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            continue
        results.append(run_size(label, args.repeat))
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"explore-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results written to {out}")


def _json_only() -> None:
    args = [a for a in sys.argv[1:] if a != "--json-only"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes")
    parser.add_argument("--repeat", type=int, default=30)
    ns = parser.parse_args(args)
    print(json.dumps(run_size(ns.sizes, ns.repeat), default=str))


if __name__ == "__main__":
    _json_only() if "--json-only" in sys.argv else main()
