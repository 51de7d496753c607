"""Public-site benchmark: first view in headless Chromium, and a loopback load test.

    python -m bench.public_load [--days 120] [--scale 0.2] [--workers 2] [--clients 50,200]
                                [--seconds 10] [--threads 1] [--var DIR]

A demo city is built and published in a temporary var dir (or ``--var`` points at an existing
published one), then the public site is started as production starts it
(``CITYOPS_MODE=public gunicorn -w <workers> app:server``) on a free loopback port.

1. **First view**: headless Chromium opens ``/`` and ``/metric/sr_opened`` with an empty cache;
   the time until the KPI cards / the map summary are on screen, and the bytes transferred
   (encoded, from the DevTools protocol).
2. **Load**: N concurrent clients (asyncio, one connection per request) loop over the
   requests a visit makes (page HTML, ``/_dash-layout``, the overview and metric callbacks)
   plus the API and a CSV download, for ``--seconds``; requests/s, p50, p95, max, errors
   (anything but 200/304, or a failed connection) and kB received per request, per level.
   Clients send ``Accept-Encoding: gzip, deflate, br`` as browsers do (``--encoding identity``
   for uncompressed responses).

3. **Metric page vs static**: at the largest client count, the requests of one metric page
   (page, layout, page router callback, metric callback) against the same workers serving a
   static file: requests/s, p95 and their ratio (goals: >= 1,000 req/s, >= 0.8 of static,
   p95 <= 200 ms). The public responses come from the release cache (``data/web/public_cache``).

Prints a table and writes JSON to bench/results/.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta

from bench.stats import percentile
from tests.live import ROOT, Gunicorn, launch_chromium

RESULTS = ROOT / "bench" / "results"


def _prepare(var: str | None, days: int, scale: float) -> str:
    if var:
        return var
    var = tempfile.mkdtemp(prefix="cityops-public-bench-")
    env = {**os.environ, "CITYOPS_VAR_DIR": var}
    end = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:00")
    code = ("from datetime import datetime; from data import demo, publish, warehouse; "
            f"demo.build(warehouse.path(), seed=1, days={days}, end=datetime.fromisoformat('{end}'), "
            f"scale={scale}, progress=False); con = warehouse.connect(); publish.publish(con); con.close()")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return var


def _start(var: str, workers: int, threads: int) -> Gunicorn:
    extra = ("--backlog", "2048") + (("--threads", str(threads)) if threads > 1 else ())
    try:
        return Gunicorn("public", env={"CITYOPS_VAR_DIR": var}, workers=workers, args=extra).start(attempts=300)
    except RuntimeError:
        raise SystemExit("the public site did not start") from None


# --------------------------------------------------------------------------- first view
def first_view(base: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for path, selector in (("/", "#public-kpis .kpi-card"), ("/metric/sr_opened", "#public-metric-map-text:not(:empty)")):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            sizes: dict[str, float] = {}
            cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))  # noqa: B023 - the closure is called within the same iteration
            t0 = time.perf_counter()
            page.goto(base + path)
            page.wait_for_selector(selector, timeout=60_000)
            shown = time.perf_counter() - t0
            page.wait_for_load_state("networkidle")
            rows.append({"page": path, "first_view_s": round(shown, 3), "requests": len(sizes),
                         "transferred_kb": round(sum(sizes.values()) / 1024, 1)})
            context.close()
        browser.close()
    return rows


# --------------------------------------------------------------------------- load
def _requests(base: str) -> list[tuple[str, str, bytes | None]]:
    """(method, path, body) of a visit: page shell, layout, the two page callbacks, API, CSV."""
    deps = json.loads(urllib.request.urlopen(base + "/_dash-dependencies").read())

    def post(fragment: str, inputs: list, state: list | None = None) -> tuple[str, str, bytes]:
        dep = next(d for d in deps if fragment in d["output"])
        parts = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
        outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]
        body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs, strict=False)],
                "state": [{"id": st["id"], "property": st["property"], "value": v}
                          for st, v in zip(dep.get("state", []), state or [], strict=False)], "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"]}
        return "POST", "/_dash-update-component", json.dumps(body).encode()

    return [("GET", "/", None), ("GET", "/_dash-layout", None), post("public-kpis", ["/"], ["en"]),
            post("public-metric-series", [{"metric": "sr_opened", "lang": "en"}]),
            ("GET", "/api/v1/metrics/bike_trips/values?grain=month&district=city", None),
            ("GET", "/download/sr_opened.csv", None)]


def _metric_page(base: str) -> list[tuple[str, str, bytes | None]]:
    """What a browser asks for to show one metric page (besides the static bundles): the page,
    the layout, the page router's callback and the metric callback."""
    deps = json.loads(urllib.request.urlopen(base + "/_dash-dependencies").read())
    router = next(d for d in deps if "_pages_content" in d["output"])
    values = {"pathname": "/metric/sr_opened", "search": ""}
    parts = router["output"].strip(".").split("...") if router["output"].startswith("..") else [router["output"]]
    body = {"output": router["output"],
            "outputs": [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts],
            "inputs": [{"id": i["id"], "property": i["property"], "value": values.get(i["property"])}
                       for i in router["inputs"]], "state": [], "changedPropIds": []}
    visit = _requests(base)
    return [("GET", "/metric/sr_opened", None), ("GET", "/_dash-layout", None),
            ("POST", "/_dash-update-component", json.dumps(body).encode()), visit[3]]


STATIC = [("GET", "/assets/public.css", None)]


async def _one(host: str, port: int, method: str, path: str, body: bytes | None,
               encoding: str = "identity") -> tuple[int, int]:
    """(status, bytes received) of one request on its own connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept-Encoding: {encoding}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        await writer.drain()
        status_line = await reader.readline()
        rest = await reader.read()  # to EOF (Connection: close)
        return int(status_line.split()[1]), len(status_line) + len(rest)
    finally:
        writer.close()


async def _level(base: str, clients: int, seconds: float, mix, encoding: str = "identity") -> dict:
    host, port = base.split("//")[1].split(":")
    port = int(port)
    latencies: list[float] = []
    errors = 0
    received = 0
    deadline = time.perf_counter() + seconds

    async def client(i: int):
        nonlocal errors, received
        k = i
        while time.perf_counter() < deadline:
            method, path, body = mix[k % len(mix)]
            k += 1
            t0 = time.perf_counter()
            try:
                status, size = await asyncio.wait_for(_one(host, port, method, path, body, encoding), timeout=30)
                received += size
                if status not in (200, 304):
                    errors += 1
            except (OSError, asyncio.TimeoutError, ValueError, IndexError):
                errors += 1
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None, "errors": errors,
            "kb_per_request": round(received / 1024 / max(len(latencies), 1), 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn --threads (1 = sync workers, as `make public`)")
    parser.add_argument("--clients", default="50,200")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--var", help="an existing var dir with a published snapshot")
    parser.add_argument("--encoding", default="gzip, deflate, br",
                        help="Accept-Encoding of the load clients (browsers send gzip, deflate, br)")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--first-view-only", action="store_true",
                        help="only the first view in Chromium (time, requests, bytes); no load test")
    args = parser.parse_args(argv)

    var = _prepare(args.var, args.days, args.scale)
    server = _start(var, args.workers, args.threads)
    base = server.base
    try:
        views = [] if args.no_browser else first_view(base)
        if args.first_view_only:
            for v in views:
                print(f"{v['page']:<22}{v['first_view_s']:>8.2f} s{v['requests']:>6} requests"
                      f"{v['transferred_kb']:>10.1f} kB transferred")
            return
        mix = _requests(base)
        for method, path, body in mix:  # warm every worker's caches once
            for _ in range(args.workers * 2):
                asyncio.run(_one("127.0.0.1", int(base.rsplit(":", 1)[1]), method, path, body, args.encoding))
        levels = [asyncio.run(_level(base, int(c), args.seconds, mix, args.encoding)) for c in args.clients.split(",")]
        top = max(int(c) for c in args.clients.split(","))
        page_mix = _metric_page(base)
        for method, path, body in page_mix:
            asyncio.run(_one("127.0.0.1", int(base.rsplit(":", 1)[1]), method, path, body, args.encoding))
        page = asyncio.run(_level(base, top, args.seconds, page_mix, args.encoding))
        static = asyncio.run(_level(base, top, args.seconds, STATIC, args.encoding))
    finally:
        server.stop()
        if not args.var:
            shutil.rmtree(var, ignore_errors=True)

    print(f"\nPublic site, {args.workers} gunicorn workers (threads {args.threads}), loopback; "
          f"demo city {args.days} days, scale {args.scale}")
    if views:
        print(f"\n{'first view':<22}{'time s':>8}{'requests':>10}{'transferred kB':>16}")
        for v in views:
            print(f"{v['page']:<22}{v['first_view_s']:>8.2f}{v['requests']:>10}{v['transferred_kb']:>16.1f}")
    print(f"\n{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>8}"
          f"{'kB/req':>8}   (Accept-Encoding: {args.encoding})")
    for row in levels:
        print(f"{row['clients']:>8}{row['requests']:>10}{row['rps']:>9.1f}{row['p50_ms']:>9.1f}"
              f"{row['p95_ms']:>9.1f}{row['max_ms']:>9.1f}{row['errors']:>8}{row['kb_per_request']:>8.1f}")
    print("\nmix per client, round robin: " + ", ".join(f"{m} {p}" for m, p, _ in mix))
    print(f"\n{'at ' + str(top) + ' clients':<26}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
          f"{'errors':>8}{'kB/req':>8}")
    for name, row in (("metric page", page), ("static file", static)):
        print(f"{name:<26}{row['requests']:>10}{row['rps']:>9.1f}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}"
              f"{row['max_ms']:>9.1f}{row['errors']:>8}{row['kb_per_request']:>8.1f}")
    ratio = page["rps"] / static["rps"] if static["rps"] else float("nan")
    print(f"metric page / static: {ratio:.2f} (goals: >= 1,000 req/s, >= 0.8 of static, p95 <= 200 ms); "
          "metric page = " + ", ".join(f"{m} {p}" for m, p, _ in page_mix))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"public-load-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "first_view": views, "load": levels, "metric_page": page,
                               "static": static, "metric_page_vs_static": ratio}, indent=1))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
