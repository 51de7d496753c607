"""Chaos test: publishes (some killed at random points) under concurrent clients.

``python -m bench.chaos [--publishes 20] [--clients 20] [--kills 8] [--seed 1] [--workers 2]``

Builds a small demo city in a temporary var dir, serves it with gunicorn on loopback (mode
``all``: the public API, downloads and callbacks, and the explorer for a signed-in admin), and
runs ``--publishes`` publish processes one after another, ``--kills`` of them SIGKILLed at a
random point (seeded). Each publish first adds one bike trip on a fixed day ``D`` of the last
complete month, so every version carries a known fingerprint: the city's trips in D's week,
D's day and the district's trips in D's month are each ``base + N``, N = the number of trips
added so far (the publisher prints N; the controller maps the version the pointer names to it).

Clients (round-robin by kind): API values (stamp: ``X-Data-Version`` and the body's
``data_version``; figure: city week of D), CSV downloads (filename, ``data_version`` column,
city week of D), the public metric page callback (weekly city series and the monthly district
map: two queries), the explorer (signed in; its "data version" caption, the district table and
the city day series: three queries). Prints: responses, errors by status, mixed-version
responses (a response whose stamp and figures name different versions; goal 0), staleness after
a flip (a response started this long after a newer version was flipped; goal <= the poll
interval + one request), versions going backwards per client (goal 0) and files left behind
(temp files, releases never flipped, superseded releases beyond the bound; goal 0).
Everything stays on 127.0.0.1 and stops after the last publish (bounded by ``--max-seconds``).
"""
from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "chaos-password-1"

PUBLISHER = """
import sys
from datetime import datetime
from data import publish, warehouse
day, district = datetime.fromisoformat(sys.argv[1]), sys.argv[2]
con = warehouse.connect()  # the writer's start: cleans what a killed publish left
con.execute("SET enable_progress_bar = false")
print("chaos ready", flush=True)
for _line in sys.stdin:     # one publish per line, each adding one fingerprint trip first
    n = con.execute("SELECT count(*) FROM bike_trips WHERE start_station_id = 'chaos'").fetchall()[0][0]
    con.execute("INSERT INTO bike_trips VALUES ($t, $t + INTERVAL 10 MINUTE, 'chaos', $d, 'member', "
                "'demo_bikeshare', NULL)", {"t": day.replace(hour=12, minute=n % 60), "d": district})
    warehouse.mark_dirty(con, day)
    print("chaos count", n + 1, flush=True)
    try:
        publish.publish(con)
        print("chaos done", flush=True)
    except Exception as exc:
        print("chaos failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__, flush=True)
"""


# ------------------------------------------------------------------------------ helpers
def _decode(values):
    """Plotly's JSON may carry arrays as {"dtype", "bdata"} (base64 typed arrays)."""
    if isinstance(values, dict) and "bdata" in values:
        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values or [])


def _at(trace: dict, key: str, prefix: str):
    xs = _decode(trace.get("x"))
    ys = _decode(trace.get("y"))
    for x, y in zip(xs, ys, strict=False):
        if str(x).startswith(prefix):
            return y
    return None


class Fingerprints:
    """version -> N (trips added), and each figure's base, to name the version a figure shows."""

    def __init__(self):
        self.count: dict[str, int] = {}
        self.base: dict[str, float] = {}
        self.lock = threading.Lock()

    def version_of(self, figure: str, value) -> str | None:
        if value is None or figure not in self.base:
            return None
        n = round(float(value) - self.base[figure])
        with self.lock:
            for version, count in self.count.items():
                if count == n:
                    return version
        return f"?N={n}"


# ------------------------------------------------------------------------------ clients
class Client(threading.Thread):
    def __init__(self, index: int, kind: str, base: str, ctx: dict, stop: threading.Event):
        super().__init__(daemon=True)
        import requests

        self.index, self.kind, self.base, self.ctx, self.stop = index, kind, base, ctx, stop
        self.session = requests.Session()
        self.records: list[dict] = []

    # one request of each kind -> (status, stamp version or None, {figure: value})
    def api(self):
        r = self.session.get(self.base + "/public/api/v1/metrics/bike_trips/values",
                             params={"grain": "week", "district": "city"}, timeout=30)
        if r.status_code != 200:
            return r.status_code, [], {}
        body = r.json()
        value = next((v["value"] for v in body["values"] if v["period"] == self.ctx["week"]), None)
        return 200, [r.headers.get("X-Data-Version"), body.get("data_version")], {"week": value}

    def download(self):
        r = self.session.get(self.base + "/public/download/bike_trips.csv", timeout=30)
        if r.status_code != 200:
            return r.status_code, [], {}
        name = re.search(r"cityops-bike_trips-([^.]+)\.csv", r.headers.get("Content-Disposition", ""))
        rows = list(csv.DictReader(io.StringIO(r.text)))
        stamps = [name.group(1) if name else None, r.headers.get("X-Data-Version"), *{row["data_version"] for row in rows}]
        value = next((float(row["value"]) for row in rows if row["district_id"] == "city" and row["grain"] == "week"
                      and row["period"].startswith(self.ctx["week"]) and row["value"]), None)
        return 200, stamps, {"week": value}

    def callback(self, output: str, inputs: list, state: list | None = None, headers=None):
        dep = self.ctx["deps"][output]
        from tests import dash_http

        payload = {"output": dep["output"], "outputs": dash_http.outputs_field(dep),
                   "inputs": [{"id": i["id"], "property": i["property"], "value": v} for i, v in zip(dep["inputs"], inputs, strict=False)],
                   "state": [{"id": s["id"], "property": s["property"], "value": v}
                             for s, v in zip(dep.get("state", []), state or [], strict=False)],
                   "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"]}
        return self.session.post(self.base + "/_dash-update-component", data=json.dumps(payload),
                                 headers={"Content-Type": "application/json", **(headers or {})}, timeout=60)

    def public_callback(self):
        r = self.callback("public", [{"metric": "bike_trips", "lang": "en"}])
        if r.status_code != 200:
            return r.status_code, [], {}
        out = r.json()["response"]
        series = out["public-metric-series"]["figure"]["data"]
        week = next((v for t in series if (v := _at(t, "x", self.ctx["week"])) is not None), None)
        month = None
        for trace in out["public-metric-map"]["figure"]["data"]:
            locations = list(trace.get("locations") or [])
            if self.ctx["district"] in locations:
                z = _decode(trace.get("z"))
                month = z[locations.index(self.ctx["district"])] if len(z) == len(locations) else None
                break
        return 200, [], {"week": week, "month": month}

    def explorer(self):
        r = self.callback("explore", [self.ctx["explore_state"], 0], headers={"X-CSRFToken": self.csrf})
        if r.status_code != 200:
            return r.status_code, [], {}
        out = r.json()["response"]
        caption = re.search(r"data version ([0-9T-]+)\.", json.dumps(out["explore-about"]))
        rows = out["explore-table"]["rowData"]
        table = next((row["value"] for row in rows if row["district_id"] == self.ctx["district"]), None)
        traces = [t for t in out["explore-series"]["figure"]["data"]
                  if t.get("type", "scatter") == "scatter" and "previous" not in str(t.get("name"))
                  and "last year" not in str(t.get("name"))]
        day = next((v for t in traces if (v := _at(t, "x", self.ctx["day"])) is not None), None)
        return 200, [caption.group(1) if caption else None], {"explore_table": table, "explore_day": day}

    def sign_in(self):
        page = self.session.get(self.base + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = self.session.post(self.base + "/login", data={"username": "chaos", "password": PASSWORD,
                                                          "csrf_token": token}, allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text[:300]
        self.session.get(self.base + "/login", timeout=30)
        self.csrf = self.session.cookies.get("_csrf_token")

    def one(self):
        return {"api": self.api, "download": self.download, "public": self.public_callback,
                "explorer": self.explorer}[self.kind]()

    def run(self):
        if self.kind == "explorer":
            self.sign_in()
        while not self.stop.is_set():
            started = time.time()
            try:
                status, stamps, values = self.one()
            except Exception as exc:  # noqa: BLE001 - counted as an error
                status, stamps, values = f"error {type(exc).__name__}", [], {}
            self.records.append({"start": started, "end": time.time(), "status": status, "stamps": stamps,
                                 "values": values})
            time.sleep(self.ctx["think"])


# ------------------------------------------------------------------------------ the run
def _fingerprint_day(now: datetime) -> datetime:
    """A Wednesday in the middle of the last complete month (its week and month are published)."""
    first = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day = first + timedelta(days=14)
    return day + timedelta(days=(2 - day.weekday()) % 7)


def _leftovers(var: Path, keep: int, poll: float) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ["CITYOPS_VAR_DIR"] = str(var)
    from data import publish

    pointer = publish.read_pointer()
    tmp = [p.name for folder in ("snapshots", "public") for p in (var / folder).iterdir() if ".tmp" in p.name]
    tmp += [p.name for p in var.glob("*.tmp")]
    tmp += [p.name for p in var.glob("CURRENT.json*.tmp")]
    never, beyond = [], []
    now = time.time()
    for db in ("ops", "public"):
        superseded = []
        for version, path in publish.releases(db):
            if version > pointer["version"]:
                never.append(path.name)
            elif version < pointer["version"]:
                superseded.append(path)
        old = [p for p in superseded if now - p.stat().st_mtime > poll]
        beyond += [p.name for p in old[keep:]]
    size = sum(p.stat().st_size for p in var.rglob("*") if p.is_file())
    return {"temp files": tmp, "never flipped": never, "superseded beyond the bound": beyond, "var MB": size / 2**20}


KINDS = ("api", "download", "public", "explorer")


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument("--kills", type=int, default=8, help="how many of the publishes are SIGKILLed")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread, 4 threads each)")
    parser.add_argument("--poll", type=float, default=5.0, help="CITYOPS_SNAPSHOT_POLL_S of the workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think", type=float, default=0.5, help="seconds each client waits between requests")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="stop publishing after this long")
    parser.add_argument("--keep-var", action="store_true", help="do not delete the temporary var dir")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _arguments(argv)
    rng = random.Random(args.seed)
    var = Path(tempfile.mkdtemp(prefix="cityops-chaos-"))
    env = {**os.environ, "CITYOPS_VAR_DIR": str(var), "CITYOPS_MODE": "all", "CITYOPS_RATE_LIMITS": "false",
           "CITYOPS_COOKIE_SECURE": "false", "CITYOPS_SNAPSHOT_POLL_S": str(args.poll), "PYTHONPATH": str(ROOT)}
    os.environ.update({k: env[k] for k in ("CITYOPS_VAR_DIR", "CITYOPS_MODE", "CITYOPS_SNAPSHOT_POLL_S")})
    sys.path.insert(0, str(ROOT))
    from data import publish, settings

    day, district = _build_city()
    from tests.live import Gunicorn

    log_path = var / "gunicorn.log"
    log_file = open(log_path, "w")
    server = Gunicorn("all", env=env, workers=args.workers, args=("-k", "gthread", "--threads", "4"),
                      output=log_file)
    server.start()
    stop = threading.Event()
    clients: list[Client] = []
    try:
        ctx = _client_context(server.base, args.think, day, district)
        prints = Fingerprints()
        first = publish.read_pointer()["version"]
        prints.count[first] = 0
        _read_bases(prints, server.base, ctx, stop)
        clients = [Client(i, KINDS[i % len(KINDS)], server.base, ctx, stop) for i in range(args.clients)]
        for client in clients:
            client.start()
        time.sleep(2.0)
        run = _publishes(args, rng, env, day, district, prints, first)
        time.sleep(args.poll + 2.0)  # let every worker see the last flip
        run["ended"] = time.time()
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)
        server.stop()
        log_file.close()
    score = _score(clients, prints, run["flips"])
    left = _leftovers(var, int(settings.get("snapshot_keep")), args.poll)
    _print_report(args, clients, prints, run, score, left, log_path.read_text(errors="replace"))
    if not args.keep_var:
        shutil.rmtree(var, ignore_errors=True)
    else:
        print(f"var dir kept: {var}")
    bad = score["mixed"] or score["revised"] or sum(score["backwards"].values()) \
        or any(v for k, v in left.items() if k != "var MB")
    return 1 if bad else 0


def _build_city() -> tuple[datetime, str]:
    """A small demo city built and published in the var dir, and the admin the explorer client
    signs in as. Returns the fingerprint day and district."""
    from data import demo, publish, users, warehouse

    t0 = time.time()
    now = datetime.now()
    demo.build(warehouse.path(), seed=7, days=60, end=now, scale=0.2, progress=False)
    con = warehouse.connect()
    district = con.execute("SELECT min(district_id) FROM districts WHERE NOT is_joint_area").fetchall()[0][0]
    publish.publish(con)
    con.close()
    users.add("chaos", PASSWORD, "admin")
    day = _fingerprint_day(now)
    print(f"demo city built and published in {time.time() - t0:.0f} s; fingerprint day {day:%Y-%m-%d}, "
          f"district {district}", flush=True)
    return day, district


def _dependency(deps: list[dict], fragment: str) -> dict:
    """The Dash callback whose output names `fragment`."""
    return next(d for d in deps if fragment in d["output"])


def _client_context(base: str, think: float, day: datetime, district: str) -> dict:
    """What every client reads: the fingerprint's week, day and district, and the callbacks."""
    import requests

    week = (day - timedelta(days=day.weekday())).strftime("%Y-%m-%d")
    deps = requests.get(base + "/_dash-dependencies", timeout=30).json()
    return {"think": think, "week": week, "day": day.strftime("%Y-%m-%d"), "district": district,
            "deps": {"public": _dependency(deps, "public-metric-series.figure"),
                     "explore": _dependency(deps, "explore-kpis.children")},
            "explore_state": {"metric": "bike_trips", "range": "custom", "start": week,
                              "end": (day + timedelta(days=4)).strftime("%Y-%m-%d"), "grain": "day"}}


def _read_bases(prints: Fingerprints, base: str, ctx: dict, stop: threading.Event) -> None:
    """The figures' bases, at N = 0: one request of each kind."""
    probe = {kind: Client(-1, kind, base, ctx, stop) for kind in KINDS}
    probe["explorer"].sign_in()
    for _kind, client in probe.items():
        _status, _stamps, values = client.one()
        for figure, value in values.items():
            if value is not None:
                prints.base[figure] = float(value)


def _start_publisher(env: dict, day: datetime, district: str):
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, day.isoformat(), district], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    assert _read(proc) == "ready"
    return proc


def _read(proc) -> str:
    """The publisher's next protocol line (anything else it prints is skipped)."""
    while True:
        line = proc.stdout.readline()
        if not line:
            return "gone"
        if line.startswith("chaos "):
            return line[6:].strip()


def _publishes(args, rng: random.Random, env: dict, day: datetime, district: str, prints: Fingerprints,
               first: str) -> dict:
    """Run the publishes, some SIGKILLed at a random point of the publish itself; record each
    flip (version, time) and its fingerprint count. Returns the run's counts and flips."""
    from data import publish

    flips: list[tuple[str, float]] = [(first, 0.0)]
    kill_at = set(rng.sample(range(1, args.publishes - 1), min(args.kills, max(0, args.publishes - 2))))
    durations: list[float] = []
    killed = attempts = 0
    started_run = time.time()
    publisher = None
    for attempt in range(args.publishes):
        if time.time() - started_run > args.max_seconds:
            print(f"stopping after {attempt} publishes (--max-seconds)")
            break
        if publisher is None:
            publisher = _start_publisher(env, day, district)
        attempts += 1
        t = time.time()
        publisher.stdin.write("publish\n")
        publisher.stdin.flush()
        counts = [int(_read(publisher).split()[1])]
        if attempt in kill_at:  # at a random point of the publish itself
            typical = sorted(durations)[len(durations) // 2] if durations else 2.0
            time.sleep(rng.uniform(0.0, typical))
            publisher.send_signal(signal.SIGKILL)
            publisher.wait(timeout=60)
            publisher = None
            killed += 1
            outcome = "killed"
        else:
            outcome = _read(publisher)
            durations.append(time.time() - t)
        pointer = publish.read_pointer()
        flipped = pointer["version"] != flips[-1][0]
        if flipped:  # also when killed after the flip
            flip_time = os.stat(publish.pointer_path()).st_mtime
            with prints.lock:
                prints.count[pointer["version"]] = counts[-1]
            flips.append((pointer["version"], flip_time))
        print(f"publish {attempt}: {outcome} after {time.time() - t:.1f} s, "
              f"{'flipped' if flipped else 'not flipped'}", flush=True)
        time.sleep(rng.uniform(0.2, 1.0))
    if publisher is not None:
        publisher.stdin.close()
        publisher.wait(timeout=60)
    return {"attempts": attempts, "killed": killed, "started": started_run, "flips": flips}


def _score(clients: list[Client], prints: Fingerprints, flips: list[tuple[str, float]]) -> dict:
    """Per response: mixed versions, unknown versions, revised public figures, staleness after
    a flip, and versions going backwards per client."""
    order = {v: i for i, (v, _t) in enumerate(sorted(flips))}
    flip_time = dict(flips)
    mixed, unknown, backwards = 0, 0, Counter()
    released: dict[str, float] = {}  # public figure -> the value first seen (releases are final)
    revised = 0
    staleness: list[float] = []
    examples = []
    for client in clients:
        last = None
        for r in client.records:
            if r["status"] != 200:
                continue
            stamps = {s for s in r["stamps"] if s}
            figures = {v for f, value in r["values"].items() if (v := prints.version_of(f, value)) is not None}
            if client.kind == "explorer":  # ops figures follow every version: stamp and figures agree
                named, is_mixed = stamps | figures, len(stamps | figures) > 1
            else:
                named, is_mixed, changed = _public_versions(r, stamps, figures, order, released)
                revised += changed
            if any(v not in order for v in named):
                unknown += 1
            known = {v for v in named if v in order}
            if is_mixed:
                mixed += 1
                if len(examples) < 5:
                    examples.append((client.kind, sorted(stamps | figures)))
            if not known:
                continue
            version = min(known, key=order.get)
            newer = [flip_time[v] for v in order if order[v] > order[version] and flip_time[v] <= r["start"]]
            if newer:
                staleness.append(r["start"] - min(newer))
            if last is not None and order[version] < order[last]:
                backwards[client.index] += 1
            last = version if last is None or order[version] >= order[last] else last
    return {"mixed": mixed, "unknown": unknown, "backwards": backwards, "revised": revised,
            "staleness": staleness, "examples": examples}


def _public_versions(r: dict, stamps: set, figures: set, order: dict, released: dict) -> tuple[set, bool, int]:
    """A public response: (versions named, mixed, figures revised). Public releases are final
    (issue 13): a released figure keeps the value of the version that first released it, so it
    may name an older version than the stamp, never a newer one; and it never changes (a change
    is counted as a revision; `released` keeps the first value seen)."""
    top = max((order.get(x, -1) for x in stamps), default=-1)
    # (the public callback carries no stamp: only the finality check applies to it)
    is_mixed = len(stamps) > 1 or (bool(stamps) and any(order.get(v, -1) > top for v in figures))
    revised = 0
    for f, value in r["values"].items():
        if value is not None:
            if released.setdefault(f, value) != value:
                revised += 1
    return stamps, is_mixed, revised


def _print_report(args, clients: list[Client], prints: Fingerprints, run: dict, score: dict, left: dict,
                  log_text: str) -> None:
    records = [(c, r) for c in clients for r in c.records]
    status = Counter(str(r["status"]) for _c, r in records)
    flips, staleness, backwards, examples = run["flips"], score["staleness"], score["backwards"], score["examples"]
    tracebacks = log_text.count("Traceback")
    worker_timeouts = log_text.count("WORKER TIMEOUT")
    durations_ms = sorted(r["end"] - r["start"] for _c, r in records)
    p95 = durations_ms[int(len(durations_ms) * 0.95)] if durations_ms else 0.0
    print()
    late = sum(1 for _c, r in records if r["status"] != 200 and r["start"] > run["ended"])
    print(f"publishes: {run['attempts']} of {args.publishes} attempted, {run['killed']} killed at random points, "
          f"{len(flips) - 1} flipped, in {run['ended'] - run['started']:.0f} s")
    print(f"clients: {args.clients} ({', '.join(f'{k} {sum(c.kind == k for c in clients)}' for k in KINDS)}), "
          f"{args.workers} gunicorn workers, poll {args.poll:g} s")
    print(f"responses: {len(records)} (p95 {p95 * 1000:.0f} ms)")
    read = Counter((c.kind, f) for c, r in records if r["status"] == 200 for f, v in r["values"].items() if v is not None)
    print(f"fingerprints read: {dict(read)}; bases {prints.base}")
    print(f"errors by status: {dict(sorted((k, v) for k, v in status.items() if k != '200')) or 'none'}"
          f" ({late} of them started after the last publish, while the server was stopping)")
    print(f"server log: {tracebacks} tracebacks, {log_text.count('[ERROR]')} error lines, "
          f"{worker_timeouts} worker timeouts")
    print(f"mixed-version responses: {score['mixed']} (goal 0)" + (f"; e.g. {examples}" if examples else ""))
    print(f"released public figures that changed between responses: {score['revised']} (goal 0: releases are final)")
    print(f"responses naming an unknown version: {score['unknown']}")
    print(f"staleness after a flip: {len(staleness)} responses started after a newer flip, "
          f"max {max(staleness, default=0.0):.2f} s (goal <= poll {args.poll:g} s + one request, p95 {p95:.2f} s)")
    print(f"versions going backwards: {sum(backwards.values())} in {len(backwards)} of {len(clients)} clients (goal 0)")
    print(f"files left behind: {sum(len(v) for k, v in left.items() if k != 'var MB')} (goal 0) {left}")


if __name__ == "__main__":
    sys.exit(main())
