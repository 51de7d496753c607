"""Callback fuzzer: reads /_dash-dependencies and POSTs random, wrong-type, oversized and
relabelled payloads to every server callback, as several callers, in-process (Flask test
client, so thousands of requests take seconds, not minutes).

    python -m bench.fuzz [--per-callback 1000] [--seed 1]

Prints a table per caller: requests, status counts, 500s, tracebacks, and out-of-scope rows
(for an official scoped to one district: any district row of another district in a response).
Exit status 1 when any 500, traceback or out-of-scope row was seen. tests/test_fuzz.py runs
the same fuzzer with fewer payloads.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
from collections import Counter

from tests import dash_http

SCOPE = {"101", "city"}
HOSTILE_STRINGS = [
    "", " ", "city", "101", "102", "bike_trips", "day", "hour", "week", "month", "all", "/", "/explore",
    "/public", "?metric=bike_trips&districts=102", "read_csv('/etc/passwd')", "'; DROP TABLE districts; --",
    "../../../../etc/passwd", "<script>alert(1)</script>", "\x00\x01", "é" * 50, "9" * 400, "-1", "NaN",
    "Infinity", "2026-02-30", "1900-01-01", "9999-12-31", "$metric", "{\"a\": 1}", "%s%s%n",
]


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(14 if depth < 3 else 9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 7, 2**31, -(2**63), 10**30])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, 3.14])
    if kind in (4, 5, 6):
        return rng.choice(HOSTILE_STRINGS)
    if kind == 7:
        return "x" * rng.choice([1_000, 50_000, 200_000])  # oversized
    if kind == 8:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
    if kind in (9, 10):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
    if kind == 11:
        return [rng.choice(HOSTILE_STRINGS) for _ in range(rng.randrange(0, 2000))]  # long list
    keys = ["metric", "districts", "grain", "range", "start", "end", "view", "x", "points", "location",
            "customdata", "label", "scale", "domain"]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randrange(0, 6))}


def payload(dep: dict, rng: random.Random) -> str:
    """One hostile request body for callback `dep`."""
    inputs = [{"id": i["id"], "property": i["property"], "value": _value(rng)} for i in dep["inputs"]]
    state = [{"id": s["id"], "property": s["property"], "value": _value(rng)} for s in dep.get("state", [])]
    mode = rng.randrange(10)
    if mode == 0:  # relabelled: every input claims to be the router's pathname
        inputs = [{"id": "_pages_location", "property": "pathname", "value": rng.choice(["/public", "/"])}
                  for _ in inputs]
    elif mode == 1:  # wrong number of inputs
        inputs = inputs[: rng.randrange(0, len(inputs) + 1)] + [dict(id="x", property="y", value=1)] * rng.randrange(3)
    elif mode == 2:  # wrong shapes
        inputs = _value(rng)
    body = {"output": dep["output"], "outputs": dash_http.outputs_field(dep), "inputs": inputs, "state": state,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"][:1]]}
    if mode == 3:
        body.pop(rng.choice(list(body)))
    if mode == 4:
        body["outputs"] = _value(rng)
    return json.dumps(body)


def decoded(values):
    """Plotly may send arrays as {'dtype', 'bdata'} (base64 typed arrays)."""
    if isinstance(values, dict) and "bdata" in values:
        import numpy as np
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return values if isinstance(values, list) else []


def out_of_scope(body) -> list[str]:
    """District ids outside SCOPE that carry data in a callback response: rows with a
    district_id, and valued choropleth locations."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            district = node.get("district_id")
            if isinstance(district, str) and district not in SCOPE:
                found.append(district)
            if node.get("type") in ("choroplethmap", "choropleth") and "%{z" in str(node.get("hovertemplate")):
                for loc, z in zip(node.get("locations") or [], decoded(node.get("z")), strict=False):
                    if loc not in SCOPE and z is not None and z == z:
                        found.append(loc)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(body)
    return found


def fuzz(app, clients: dict, per_callback: int, seed: int = 1) -> dict:
    """{caller: Counter} over every server callback × `per_callback` payloads."""
    rng = random.Random(seed)
    first = next(iter(clients.values()))
    deps = [d for d in first.get("/_dash-dependencies").get_json()
            if app.callback_map.get(d["output"], {}).get("callback") is not None]
    results = {}
    for caller, client in clients.items():
        stats: Counter = Counter()
        for dep in deps:
            for _ in range(per_callback):
                response = client.post("/_dash-update-component", data=payload(dep, rng),
                                       content_type="application/json")
                text = response.get_data(as_text=True)
                stats["requests"] += 1
                stats[f"status {response.status_code}"] += 1
                stats["500s"] += response.status_code >= 500
                stats["tracebacks"] += "Traceback" in text
                public = getattr(app.callback_map[dep["output"]]["callback"], "__cityops_access__", "") == "public"
                if caller == "official" and response.status_code == 200 and not public:
                    # (public callbacks serve the public snapshot: every district, by design)
                    found = out_of_scope(response.get_json(silent=True))
                    stats["out-of-scope rows"] += len(found)
                    if found:  # which callback, for the report
                        stats[f"out-of-scope in {dep['output'][:60]}"] += len(found)
        stats["callbacks"] = len(deps)
        results[caller] = stats
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-callback", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("CITYOPS_VAR_DIR", tempfile.mkdtemp(prefix="cityops-fuzz-"))
    os.environ.setdefault("CITYOPS_LOGIN_RATE_LIMIT", "100000 per minute")
    os.environ.setdefault("CITYOPS_PUBLIC_RATE_LIMIT", "10000000 per minute")
    logging_off()
    from data import publish, settings, users, warehouse

    if not (settings.var_dir() / "CURRENT.json").exists():
        from datetime import datetime

        from data import demo
        print("building a small demo city ...", file=sys.stderr)
        demo.build(warehouse.path(), seed=7, days=30, end=datetime(2026, 11, 1, 12), scale=0.1, progress=False)
        con = warehouse.connect(warehouse.path())
        publish.publish(con, now=datetime(2026, 11, 1, 12))
        con.close()
    import app as app_module
    from tests.live import signed_in

    for name, role, districts in (("fuzz-admin", "admin", ""), ("fuzz-official", "official", "101")):
        if users.get(name) is None:
            users.add(name, "fuzz-password-1", role, districts)
    dash_app = app_module.app
    wall = dash_app.server.test_client()
    wall.get("/wall?token=" + users.add_token("fuzz-wall")[1])
    clients = {"anonymous": dash_app.server.test_client(), "wall": wall,
               "official": signed_in(dash_app, "fuzz-official", "fuzz-password-1"),
               "admin": signed_in(dash_app, "fuzz-admin", "fuzz-password-1")}
    results = fuzz(dash_app, clients, args.per_callback, args.seed)
    keys = sorted({k for c in results.values() for k in c if k.startswith("status")})
    head = ["caller", "callbacks", "requests", *keys, "500s", "tracebacks", "out-of-scope rows"]
    print(" | ".join(head))
    bad = 0
    for caller, stats in results.items():
        print(" | ".join(str(stats.get(k, 0)) if k != "caller" else caller for k in head))
        bad += stats["500s"] + stats["tracebacks"] + stats["out-of-scope rows"]
    return 1 if bad else 0


def logging_off() -> None:
    import logging
    logging.disable(logging.CRITICAL)  # the server logs every rejected payload; the table is the report


if __name__ == "__main__":
    raise SystemExit(main())
