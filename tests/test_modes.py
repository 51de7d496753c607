"""The three modes: the public process registers public pages and callbacks only, and can
only open the public snapshot. Each mode runs in its own process (Dash's page registry is
per process), started the way production starts it."""
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.live import Gunicorn

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_IDS = {"shell-status", "shell-nav", "shell-lang", "shell-brand", "shell-account", "public-kpis", "public-metric-series",
              "public-district-card", "public-district-url", "_pages_content",
              "_pages_dummy"}


def _probe(mode: str, code: str) -> dict:
    env = {**os.environ, "CITYOPS_MODE": mode}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


INSPECT = """
import json, dash, app
from data import snapshot
deps = app.app.server.test_client().get('/_dash-dependencies').get_json()
print(json.dumps({"pages": sorted(p["path"] for p in dash.page_registry.values()),
                  "outputs": sorted(d["output"] for d in deps), "dbs": list(snapshot.allowed_dbs())}))
"""


def test_public_mode_has_public_pages_and_callbacks_only(published):
    info = _probe("public", INSPECT)
    assert info["pages"] == sorted(["/", "/api", "/district", "/metric/none", "/methodology", "/404"])
    assert info["dbs"] == ["public"]
    for output in info["outputs"]:
        assert any(pid in output for pid in PUBLIC_IDS), f"non-public callback in public mode: {output}"


def test_ops_mode_has_no_public_pages(published):
    info = _probe("ops", INSPECT)
    assert "/wall" in info["pages"] and "/explore" in info["pages"]
    assert not any(p.startswith("/public") or p == "/methodology" for p in info["pages"])
    assert not any("public-" in o for o in info["outputs"])


def test_public_process_cannot_open_the_ops_snapshot(published):
    code = """
import json
from data import repository
try:
    repository.run("ops/meta")
    print(json.dumps({"refused": False}))
except PermissionError:
    print(json.dumps({"refused": True}))
"""
    assert _probe("public", code) == {"refused": True}


def test_invalid_metric_declaration_stops_startup_naming_file_and_field(tmp_path):
    metrics = tmp_path / "metrics"
    shutil.copytree(ROOT / "queries" / "metrics", metrics)
    bad = metrics / "bike_trips.sql"
    bad.write_text(bad.read_text().replace("direction: higher", "direction: sideways"))
    code = f"import data.registry as r, pathlib; r.METRICS_DIR = pathlib.Path({str(metrics)!r}); import app"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "bike_trips.sql" in out.stderr and "'direction'" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("mode", ["public", "ops"])
def test_gunicorn_serves_each_mode(published, mode):
    gunicorn = Gunicorn(mode).start()
    try:
        deps = json.loads(urllib.request.urlopen(gunicorn.base + "/_dash-dependencies").read())
        outputs = " ".join(d["output"] for d in deps)
        assert ("public-kpis" in outputs) == (mode == "public")
        assert ("wall-tiles" in outputs) == (mode == "ops")
    finally:
        gunicorn.stop()
