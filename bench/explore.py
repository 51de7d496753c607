"""Explorer benchmark: server-side time of every explorer / district-profile callback and the
CSV export, through Flask (``POST /_dash-update-component`` as a signed-in admin, the way the
browser calls them), at several demo sizes.

    python -m bench.explore [--sizes 1M,10M] [--repeat 30]

cold = every cache of the worker emptied before each call (query results and built views;
DuckDB and the OS cache warm, every query runs); warm = the same call again (query results
and built views cached per data version). The first call
after opening the snapshot is reported separately. Target: every interaction < 300 ms
server-side at 10M raw rows. Results are also written as JSON to bench/results/.

In the same process and on the same demo city it also runs, for the explorer views whose
metric it covers:

* **the peer** (``bench/peer.py``): the usual pandas + Plotly Express Dash app holding the raw
  rows in the worker, called through its own Flask test client the same way;
* **the bare SQL**: the queries one cold views call runs (recorded from ``repository``), run
  again straight on a DuckDB cursor of the same snapshot (``fetchall``, no cache, no pandas);
* **bytes per filter change**: what the browser receives when a district is added (the URL
  callback, the page router's re-render and the views), plain and gzipped, and once per
  outline version the outlines themselves;

and prints the ratios the issue asks for: CityOps cold vs the peer (goal ≥ 10x), vs the
bare SQL (≤ 3x), bytes per filter change (≤ 30 KB), and the growth from the smallest to the
largest size measured (≤ 1.2x).
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
        "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs, strict=False)],
        "state": [{"id": s["id"], "property": s["property"], "value": v} for s, v in zip(dep.get("state", []), state, strict=False)],
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

    def views(state: dict):  # the explorer's main callback for one view state
        return _callback(client, deps, "explore-kpis", [state, 0])

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
    from callbacks.ops import explore as explore_callbacks

    def cold():  # every cache of the worker emptied: query results and built views
        repository.clear_cache()
        explore_callbacks.clear_cache()
    for name, fn in cases.items():
        c50, c95 = _timed(fn, repeat, before=cold)
        fn()
        w50, w95 = _timed(fn, repeat)
        rows.append({"callback": name, "cold_p50_ms": c50, "cold_p95_ms": c95, "warm_p50_ms": w50, "warm_p95_ms": w95})
    states = {"views: default (90d, day)": {},
              "views: 3 districts, per 1,000": {"metric": "bike_trips", "districts": ",".join(districts),
                                                "scale": "per1k", "range": "30d"},
              "views: last year, by week": {"metric": "parking_occupancy_pct", "range": "year", "grain": "week"},
              "views: 7d by hour": {"metric": "traffic_volume", "range": "7d", "grain": "hour"}}
    compare = _compare(client, deps, states, {r["callback"]: r for r in rows}, repeat)
    change = _filter_change_bytes(client, deps)
    return {"size": label, "raw_rows": raw_rows, "first_call_ms": first_ms, "callbacks": rows,
            "compare": compare, "filter_change": change}


def _views_sql(fn) -> list[tuple[str, dict]]:
    """The (SQL, params) of every query one call of `fn` runs with the query cache empty."""
    from callbacks.ops import explore as explore_callbacks
    from data import repository

    recorded = []
    original = repository.execute

    def recording(cur, text, params, timeout_s):
        recorded.append((text, params))
        return original(cur, text, params, timeout_s)
    repository.clear_cache()
    explore_callbacks.clear_cache()
    repository.execute = recording
    try:
        fn()
    finally:
        repository.execute = original
    return recorded


def _compare(client, deps, states: dict, measured: dict, repeat: int) -> list[dict]:
    """The same views through the peer and as bare SQL, next to CityOps' cold p50."""
    import duckdb

    from bench import peer as peer_module
    from callbacks import common
    from data import access, explore, snapshot, warehouse

    con = duckdb.connect(str(warehouse.path()), read_only=True)  # the raw rows the peer holds
    t0 = time.perf_counter()
    peer = peer_module.Peer(con)
    load_s = time.perf_counter() - t0
    con.close()
    peer_client = peer_module.app(peer).server.test_client()
    peer_deps = peer_client.get("/_dash-dependencies").get_json()
    out = []
    for name, raw in states.items():
        with access.system():
            state = explore.parse(raw)
            table = explore.district_table(state, common.districts())
        params = peer_module.state_of(state)
        call = _callback(peer_client, peer_deps, "peer-kpis", [params])
        peer50, _p95 = _timed(call, max(5, repeat // 2))
        views = _callback(client, deps, "explore-kpis", [raw, 0])
        queries = _views_sql(views)
        opened = snapshot.current("ops")

        def bare(queries=queries, opened=opened):
            for text, bound in queries:
                cur = opened.con.cursor()
                try:
                    cur.execute(text, bound).fetchall()
                finally:
                    cur.close()
        bare50, _b95 = _timed(bare, repeat)
        cold = measured[name]["cold_p50_ms"]
        out.append({"view": name, "metric": state.metric.id, "cityops_cold_p50_ms": cold,
                    "cityops_warm_p50_ms": measured[name]["warm_p50_ms"], "peer_p50_ms": peer50,
                    "bare_sql_p50_ms": bare50, "queries": len(queries),
                    "peer_vs_cityops": peer50 / cold, "cityops_vs_bare_sql": cold / bare50,
                    "peer_max_rel_diff": peer_module.check(peer, state, table), "peer_load_s": load_s})
    return out


def _filter_change_bytes(client, deps) -> dict:
    """Bytes a browser receives when one district is added to the default view: the URL
    callback, the page router's re-render and the views (plain and gzip), and the outlines
    (fetched once per outline version, then from the browser cache)."""
    sync_inputs = [None] * 11
    sync_inputs[6] = ["301"]
    state = {"metric": "bike_trips"}
    responses = []
    sync = _callback(client, deps, "explore-url", sync_inputs, [state], changed=6)
    router_dep = next(d for d in deps if "_pages_content" in d["output"])
    values = {"pathname": "/explore", "search": "?metric=bike_trips&districts=301"}
    router = _callback(client, deps, "_pages_content", [values.get(i["property"]) for i in router_dep["inputs"]])
    views = _callback(client, deps, "explore-kpis", [{"metric": "bike_trips", "districts": "301"}, 0])
    import gzip as _gzip

    for name, fn in (("url", sync), ("router", router), ("views", views)):
        body = fn().get_data()
        responses.append({"response": name, "bytes": len(body), "gzip_bytes": len(_gzip.compress(body, 5))})
        # (signed-in responses: callbacks are gzipped unless they hold the CSRF token)
    views_response = views()
    url = json.loads(views_response.get_data())["response"]["explore-map-values"]["data"]["geometry"]
    outlines = client.get(url, headers={"Accept-Encoding": "gzip"})
    return {"responses": responses, "total_bytes": sum(r["bytes"] for r in responses),
            "total_gzip_bytes": sum(r["gzip_bytes"] for r in responses),
            "outlines_bytes_once": len(outlines.get_data()), "outlines_encoding": outlines.headers.get("Content-Encoding")}


def print_table(results: list[dict]) -> None:
    print()
    print(f"{'size':>5} {'raw rows':>12} {'callback':<32} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}")
    for r in results:
        for c in r["callbacks"]:
            print(f"{r['size']:>5} {r['raw_rows']:>12,} {c['callback']:<32} {c['cold_p50_ms']:>9.1f} "
                  f"{c['cold_p95_ms']:>9.1f} {c['warm_p50_ms']:>9.1f} {c['warm_p95_ms']:>9.1f}")
        print(f"{r['size']:>5} {'':>12} {'(first call after opening)':<32} {r['first_call_ms']:>9.1f}")
    print("ms, server-side (Flask test client, one process); target < 300 ms at 10M")
    print()
    print(f"{'size':>5} {'view':<32} {'CityOps cold':>12} {'peer':>8} {'bare SQL':>9} {'queries':>8} "
          f"{'peer/CityOps':>13} {'CityOps/SQL':>12} {'peer diff':>10}")
    for r in results:
        for c in r.get("compare", []):
            print(f"{r['size']:>5} {c['view']:<32} {c['cityops_cold_p50_ms']:>12.1f} {c['peer_p50_ms']:>8.1f} "
                  f"{c['bare_sql_p50_ms']:>9.1f} {c['queries']:>8} {c['peer_vs_cityops']:>12.1f}x "
                  f"{c['cityops_vs_bare_sql']:>11.1f}x {c['peer_max_rel_diff']:>10.1e}")
        if r.get("compare"):
            print(f"{r['size']:>5} (peer: raw rows loaded into pandas in {r['compare'][0]['peer_load_s']:.1f} s)")
    print("p50 ms; goals: peer/CityOps >= 10x at 10M cold, CityOps/SQL <= 3x; "
          "peer diff = largest relative difference of the district values (same numbers: ~0)")
    print()
    for r in results:
        fc = r.get("filter_change")
        if fc:
            parts = ", ".join(f"{x['response']} {x['bytes'] / 1024:.1f} KB ({x['gzip_bytes'] / 1024:.1f} gz)"
                              for x in fc["responses"])
            print(f"{r['size']:>5} bytes per filter change: {fc['total_bytes'] / 1024:.1f} KB plain, "
                  f"{fc['total_gzip_bytes'] / 1024:.1f} KB gzip = {parts}; outlines once per version: "
                  f"{fc['outlines_bytes_once'] / 1024:.1f} KB ({fc['outlines_encoding'] or 'plain'})")
    if len(results) > 1:
        first, last = results[0], results[-1]

        def mean_cold(r):
            views = [c["cold_p50_ms"] for c in r["callbacks"] if c["callback"].startswith("views")]
            return sum(views) / len(views)
        print(f"views cold p50, {last['size']}/{first['size']}: {mean_cold(last) / mean_cold(first):.2f}x "
              f"(goal <= 1.2x)")


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
