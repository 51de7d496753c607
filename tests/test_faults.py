"""Faults (issue 20): fresh within the poll, one version per response, nothing left behind,
every failure said plainly, abandoned batches, a damaged release, a locked ops store."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import plotly.utils
import pytest

from data import publish, registry, repository, snapshot, warehouse
from tests import dash_http
from tests.conftest import ADMIN, FIXTURE_END
from tests.live import ROOT, signed_in


def _text(value) -> str:
    return json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder)


RELEASE = re.compile(r"^(ops|public)-([0-9T-]+)\.duckdb$")


def _versions(db: str) -> list[str]:
    """Versions of the release files of `db` on disk, newest first."""
    folder = Path(os.environ["CITYOPS_VAR_DIR"]) / {"ops": "snapshots", "public": "public"}[db]
    found = [RELEASE.match(p.name) for p in folder.iterdir()]
    return sorted((m.group(2) for m in found if m and m.group(1) == db), reverse=True)


def _leftovers(var_dir: Path) -> list[str]:
    """Temp files, and release files of versions the pointer never reached."""
    pointer = publish.read_pointer()
    out = []
    for folder in ("snapshots", "public"):
        for path in (var_dir / folder).iterdir():
            if ".tmp" in path.name:
                out.append(path.name)
    for db in ("ops", "public"):
        out += [f"{db}-{v}" for v in _versions(db) if v > pointer["version"]]
    out += [p.name for p in var_dir.glob("CURRENT.json*.tmp")]
    return sorted(out)


def _run_killed(code: str) -> int:
    """Run `code` in a fresh Python on the session's var dir; it is expected to kill itself."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ}, timeout=240,
                          capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout[-500:] + proc.stderr[-2000:]
    return proc.returncode


# ----------------------------------------------------------------------------- 1 fresh, never back
def test_each_database_sees_a_flip_within_the_poll_interval(writer, monkeypatch):
    """The ops site asking first must not keep the public database on its old version."""
    monkeypatch.setenv("CITYOPS_SNAPSHOT_POLL_S", "1.0")
    snapshot.reset()
    snapshot.version("ops"), snapshot.version("public")
    result = publish.publish(writer, now=FIXTURE_END)
    flipped = time.monotonic()
    seen = {}
    while time.monotonic() - flipped < 1.5:  # the poll interval and a margin
        seen = {"ops": snapshot.version("ops"), "public": snapshot.version("public")}
        if seen == {"ops": result.version, "public": result.version}:
            break
        time.sleep(0.05)
    assert seen == {"ops": result.version, "public": result.version}
    snapshot.reset()


def test_a_worker_never_goes_back_to_an_older_version(writer, var_dir):
    first = publish.publish(writer, now=FIXTURE_END)
    second = publish.publish(writer, now=FIXTURE_END)
    assert snapshot.version("ops") == snapshot.version("public") == second.version
    pointer = publish.read_pointer()
    publish._flip({"version": first.version, "ops": str(first.ops_path.relative_to(var_dir)),
                   "public": str(first.public_path.relative_to(var_dir)), "published_at": "x"})
    try:
        assert snapshot.version("ops") == second.version
        assert snapshot.version("public") == second.version
    finally:
        publish._flip(pointer)


# ----------------------------------------------------------------------------- 2 one version
def test_one_response_carries_one_version_when_a_publish_lands_mid_request(writer, anon_client, monkeypatch):
    """The JSON download reads the version, then meta, licence and values: a publish between
    them must not give a file stamped with one version carrying another's figures."""
    from data.web import public_api

    metric = registry.public_metrics()[0].id
    before = anon_client.get(f"/public/download/{metric}.json")
    original = public_api._not_modified
    landed = []

    def publish_then(version):
        if not landed:
            landed.append(publish.publish(writer, now=FIXTURE_END).version)
        return original(version)

    monkeypatch.setattr(public_api, "_not_modified", publish_then)
    # a URL the per-version response cache has not seen, so the view really runs
    response = anon_client.get(f"/public/download/{metric}.json?mid-request=1")
    body = response.get_json()
    assert landed and landed[0] != response.headers["X-Data-Version"]
    assert body["data_version"] == response.headers["X-Data-Version"] == before.headers["X-Data-Version"]
    assert body["values"] == before.get_json()["values"]
    monkeypatch.setattr(public_api, "_not_modified", original)
    assert anon_client.get(f"/public/download/{metric}.json").headers["X-Data-Version"] == landed[0]


def test_queries_and_a_stream_of_one_request_read_its_version_after_two_publishes(writer):
    district = writer.execute("SELECT min(district_id) FROM districts WHERE NOT is_joint_area").fetchall()[0][0]
    with snapshot.pinned():
        pinned = snapshot.version("ops")
        publish.publish(writer, now=FIXTURE_END)
        publish.publish(writer, now=FIXTURE_END)  # the pinned one is now retired
        frame = repository.run("ops/published_metrics")
        chunks = list(repository.stream("ops/district_requests_all", district=district, category=None, chunk_rows=50))
        assert snapshot.version("ops") == pinned
    assert frame.attrs["version"] == pinned
    assert chunks and {c.attrs["version"] for c in chunks} == {pinned}
    assert snapshot.version("ops") != pinned  # outside the request: the newest


# ----------------------------------------------------------------------------- 3 nothing left
KILL_IN_WRITE_PUBLIC = """
import os, signal
from datetime import datetime
from data import publish, warehouse
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
publish._write_public = die
con = warehouse.connect()
con.execute("INSERT INTO rollup_dirty VALUES (TIMESTAMP '2026-10-31 10:00')")
publish.publish(con, now=datetime(2026, 11, 1, 12))
"""
KILL_IN_FLIP = KILL_IN_WRITE_PUBLIC.replace("publish._write_public = die", "publish._flip = die")


def test_killed_publishes_leave_nothing_behind(published, var_dir):
    before = publish.read_pointer()
    _run_killed(KILL_IN_WRITE_PUBLIC)
    left = _leftovers(var_dir)
    assert any(name.endswith(".tmp") for name in left), left  # the kill did leave temp files
    warehouse.connect().close()  # the writer's next start
    assert _leftovers(var_dir) == []
    _run_killed(KILL_IN_FLIP)
    assert _leftovers(var_dir), "a complete but never flipped release was expected"
    con = warehouse.connect()
    try:
        assert _leftovers(var_dir) == []
        assert publish.read_pointer() == before
        for folder in ("snapshots", "public"):  # a publish itself also cleans first
            (var_dir / folder / "ops-19990101T000000000000.tmp").write_bytes(b"x")
            (var_dir / folder / "ops-19990101T000000000000.tmp.wal").write_bytes(b"x")
        publish.publish(con, now=FIXTURE_END)
        assert _leftovers(var_dir) == []
    finally:
        con.close()


def test_superseded_releases_are_bounded_but_none_inside_the_poll_is_deleted(writer, monkeypatch):
    monkeypatch.setenv("CITYOPS_SNAPSHOT_GRACE_S", "3600")
    monkeypatch.setenv("CITYOPS_SNAPSHOT_KEEP", "2")
    for _ in range(5):
        publish.publish(writer, now=FIXTURE_END)
    assert len(_versions("ops")) == 3 and len(_versions("public")) == 3  # the current one + 2
    monkeypatch.setenv("CITYOPS_SNAPSHOT_POLL_S", "3600")  # a worker may still serve any of them
    made = [publish.publish(writer, now=FIXTURE_END) for _ in range(4)]
    assert all(r.ops_path.exists() and r.public_path.exists() for r in made)
    monkeypatch.setenv("CITYOPS_SNAPSHOT_POLL_S", "0")
    monkeypatch.setenv("CITYOPS_SNAPSHOT_GRACE_S", "0")  # past the grace: the previous one stays
    newest = publish.publish(writer, now=FIXTURE_END)
    assert _versions("ops") == [newest.version, made[-1].version]


# ----------------------------------------------------------------------------- 4 said plainly
class _FullDisk:
    """The warehouse connection as it behaves when the disk fills at the rollup commit: COMMIT
    fails with the OS's error and rolls back, so a ROLLBACK after it fails too."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args, **kwargs):
        if sql == "COMMIT":
            self._con.execute("ROLLBACK")
            raise duckdb.IOException('IO Error: Could not write file "warehouse.duckdb.wal": No space left on device')
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_disk_full_at_the_rollup_commit_names_the_cause_in_one_line(writer, dash_app):
    before = publish.read_pointer()
    writer.execute("INSERT INTO rollup_dirty VALUES (TIMESTAMP '2026-10-31 10:00')")
    with pytest.raises(publish.PublishError) as caught:
        publish.publish(_FullDisk(writer), now=FIXTURE_END)
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message and "rollback" not in message
    assert publish.read_pointer() == before
    from data import faults

    assert faults.recent(1)[0]["message"] == message
    from callbacks.ops import data_health

    out = _text(data_health.data_health(0))
    assert "The last publish failed" in out and "No space left on device" in out
    publish.publish(writer, now=FIXTURE_END)  # the next publish repairs it
    assert "The last publish failed" not in _text(data_health.data_health(0))


def test_disk_full_on_a_real_small_filesystem_names_the_cause(published, var_dir, tmp_path):
    """A 12 MB tmpfs holding a copy of the var dir, filled up: the publish's last line says so."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        small = mount / "var"
        small.mkdir()
        shutil.copy(var_dir / "warehouse.duckdb", small / "warehouse.duckdb")
        if (small / "warehouse.duckdb").stat().st_size > 30 << 20:
            pytest.skip("fixture warehouse too large for the small filesystem")
        stat = os.statvfs(mount)
        free = stat.f_bavail * stat.f_frsize
        (mount / "filler").write_bytes(b"\0" * max(0, free - (256 << 10)))  # leave 256 kB
        code = ("from data import publish; publish.main()")
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=240, capture_output=True, text=True,
                              env={**os.environ, "CITYOPS_VAR_DIR": str(small)})
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        assert proc.returncode != 0
        assert "No space left on device" in last, proc.stderr[-1500:]
        assert "rollback" not in last and "Traceback" not in proc.stderr
        assert not [p for p in small.rglob("*.tmp*")]
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_an_ingest_failure_is_one_plain_line_on_data(writer, tmp_path):
    from data.ingest import IngestError, load

    bad = tmp_path / "trips.csv"
    bad.write_bytes(b"")
    with pytest.raises(IngestError) as caught:
        load(writer, "citibike", bad)
    assert "\n" not in str(caught.value)
    from data import faults

    assert faults.recent(1)[0]["what"] == "ingest" and "trips.csv" in faults.recent(1)[0]["message"]


# ----------------------------------------------------------------------------- 5 abandoned batch
KILL_IN_BATCH = """
import os, signal
from data import warehouse
con = warehouse.connect()
batch = warehouse.begin_batch(con, "demo_311", "/tmp/killed-ingest.csv")
print(batch, os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_ingest_batch_is_marked_failed_at_the_next_start(dash_app, var_dir):
    proc = subprocess.run([sys.executable, "-c", KILL_IN_BATCH], cwd=ROOT, env={**os.environ}, timeout=120,
                          capture_output=True, text=True)
    batch_id, pid = (int(x) for x in proc.stdout.split())
    con = warehouse.connect()
    try:
        status, message = con.execute("SELECT status, message FROM load_batches WHERE batch_id = $b",
                                      {"b": batch_id}).fetchall()[0]
        assert status == "failed" and f"process {pid}" in message and "abandoned" in message
        publish.publish(con, now=FIXTURE_END)
    finally:
        con.close()
    from callbacks.ops import data_health

    out = _text(data_health.data_health(0))
    assert f"failed: abandoned: process {pid}" in out


# ----------------------------------------------------------------------------- 6 damaged release
def test_a_damaged_current_release_falls_back_to_the_previous_one_and_says_so(writer, var_dir, caplog,
                                                                              anon_client):
    good = publish.publish(writer, now=FIXTURE_END)
    bad = publish.publish(writer, now=FIXTURE_END)
    pointer = publish.read_pointer()
    ops_file = var_dir / pointer["ops"]
    with open(ops_file, "r+b") as fh:  # same size, garbage where the header was
        fh.write(b"\xde\xad\xbe\xef" * 2048)
    (var_dir / pointer["public"]).unlink()  # and the public file is gone
    snapshot.reset()  # a worker starting now
    try:
        with caplog.at_level(logging.ERROR, logger="data.snapshot"):
            assert snapshot.version("ops") == good.version
            assert snapshot.version("public") == good.version
        assert any(bad.version in r.getMessage() and "previous release" in r.getMessage() for r in caplog.records)
        response = anon_client.get("/public/api/v1/metrics")
        assert response.status_code == 200 and response.headers["X-Data-Version"] == good.version
        from callbacks import shell
        from callbacks.ops import data_health

        assert bad.version in shell.data_status(0, "") and "could not be read" in shell.data_status(0, "")
        out = _text(data_health.data_health(0))
        assert "damaged or missing" in out and good.version in out
    finally:
        publish.publish(writer, now=FIXTURE_END)
        snapshot.reset()
    assert snapshot.status("ops") is None and snapshot.health() == []


def _release_episode():
    from data import episodes, release_alert

    return episodes.live_episode(release_alert.METRIC_ID, release_alert.DISTRICT, release_alert.RULE)


def _wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_falling_back_to_an_older_release_opens_an_alert_for_the_operators_and_a_good_release_resolves_it(
        writer, var_dir, accounts):
    """Issue 20 item 6: serving the last good release is not silent. The first worker that
    falls back opens one critical episode (not one per worker or request); it is in the work
    queue with a readable name; the next good publish resolves it by itself."""
    from data import episodes, release_alert, triage

    publish.publish(writer, now=FIXTURE_END)
    assert _release_episode() is None
    bad = publish.publish(writer, now=FIXTURE_END)
    pointer = publish.read_pointer()
    with open(var_dir / pointer["ops"], "r+b") as fh:
        fh.write(b"\xde\xad\xbe\xef" * 2048)
    snapshot.reset()
    try:
        snapshot.version("ops")  # a worker opening the damaged release falls back ...
        episode = _wait_for(_release_episode)  # ... and tells the operators, in the background
        assert episode is not None, "no alert episode for serving an older release"
        assert episode["severity"] == "critical" and episode["state"] == "open"
        assert bad.version in episode["message"] and "older release" in episode["message"]
        for _ in range(3):  # more workers, more checks: still one episode
            snapshot.reset()
            snapshot.version("ops")
            release_alert.check()
        live = episodes.list_episodes(("open", "acknowledged", "snoozed"))
        assert (live["metric_id"] == release_alert.METRIC_ID).sum() == 1
        row = triage.queue().set_index("id").loc[episode["id"]]
        assert row["metric"] == "Published data release" and "older release" in row["how_far"]
    finally:
        publish.publish(writer, now=FIXTURE_END)  # a good release is current again
        snapshot.reset()
    assert _release_episode() is None
    assert episodes.get(episode["id"])["state"] == "resolved"
    notes = [t["note"] for t in episodes.history(episode["id"])]
    assert any("opens again" in (n or "") for n in notes)


def test_the_public_process_never_writes_the_release_alert(monkeypatch, writer, var_dir):
    from data import release_alert

    publish.publish(writer, now=FIXTURE_END)
    pointer = publish.read_pointer()
    (var_dir / pointer["public"]).rename(var_dir / (pointer["public"] + ".away"))
    monkeypatch.setenv("CITYOPS_MODE", "public")
    try:
        assert release_alert.check() == []
        assert _release_episode() is None
    finally:
        (var_dir / (pointer["public"] + ".away")).rename(var_dir / pointer["public"])


# ----------------------------------------------------------------------------- 7 locked ops store
@pytest.fixture()
def write_lock(var_dir, accounts):
    lock = sqlite3.connect(var_dir / "ops.sqlite", isolation_level=None, timeout=1)
    lock.execute("BEGIN IMMEDIATE")  # a writer holding the lock (a long save, a backup tool)
    yield lock
    lock.execute("ROLLBACK")
    lock.close()


def test_an_annotation_save_under_a_held_lock_says_it_was_not_saved_fast(client, write_lock):
    dep = dash_http.find(dash_http.dependencies(client), "explore-note-result")
    started = time.monotonic()
    status, _body, text = dash_http.call(client, dep, [1], ["Bridge closed", "event", "2026-10-20", "2026-10-22",
                                                            None, {"metric": "bike_trips"}, 0])
    elapsed = time.monotonic() - started
    assert status == 200 and "The annotation was not saved: the ops store is busy; try again" in text, text[:300]
    assert elapsed < 2.0
    views = dash_http.find(dash_http.dependencies(client), "explore-kpis")
    status, _body, text = dash_http.call(client, views, [{"metric": "bike_trips", "range": "30d"}, 0])
    assert status == 200 and "Something went wrong" not in text


def test_sign_in_and_the_public_api_answer_fast_when_the_store_is_locked_for_readers(dash_app, accounts,
                                                                                    var_dir, anon_client):
    lock = sqlite3.connect(var_dir / "ops.sqlite", isolation_level=None, timeout=1)
    lock.execute("PRAGMA locking_mode=EXCLUSIVE")
    lock.execute("BEGIN EXCLUSIVE")
    lock.execute("UPDATE users SET updated_at = updated_at WHERE 0")
    try:
        started = time.monotonic()
        assert anon_client.get("/public/api/v1/metrics").status_code == 200
        assert time.monotonic() - started < 1.0
        browser = dash_app.server.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").get_data(as_text=True)).group(1)
        started = time.monotonic()
        response = browser.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503 and "the user store is busy" in response.get_data(as_text=True)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert signed_in(dash_app, *ADMIN) is not None  # and once the lock is gone, sign-in works


def test_the_public_site_never_opens_the_ops_store(published, tmp_path):
    """A public-mode process serves its pages and API with no ops store at all."""
    var = tmp_path / "var"
    shutil.copytree(Path(os.environ["CITYOPS_VAR_DIR"]), var,
                    ignore=shutil.ignore_patterns("ops.sqlite*", "warehouse.duckdb*", "wall_screens*"))
    code = """
import json, os
import app
client = app.server.test_client()
codes = [client.get(p).status_code for p in ("/", "/api/v1/metrics", "/api/v1/districts")]
print(json.dumps({"codes": codes, "store": os.path.exists(os.path.join(os.environ["CITYOPS_VAR_DIR"], "ops.sqlite"))}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=240, capture_output=True, text=True,
                          env={**os.environ, "CITYOPS_VAR_DIR": str(var), "CITYOPS_MODE": "public"})
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"codes": [200, 200, 200], "store": False}, proc.stderr[-1500:]


def test_saves_waiting_on_a_held_lock_do_not_stall_the_other_requests(published, accounts, var_dir):
    """Two sync gunicorn workers, a held write lock and four annotation saves at once: the
    anonymous public API still answers within seconds (it used to wait for the 10 s busy
    timeout of every save queued before it), and every save says it was not saved."""
    import threading

    import requests

    from bench.chaos import Client
    from tests.live import Gunicorn

    server = Gunicorn("all", env={"CITYOPS_COOKIE_SECURE": "false", "CITYOPS_RATE_LIMITS": "false"},
                      workers=2).start()
    lock = None
    try:
        deps = requests.get(server.base + "/_dash-dependencies", timeout=30).json()
        dep = next(d for d in deps if "explore-note-result" in d["output"])
        savers = []
        for _ in range(4):
            saver = Client(0, "explorer", server.base, {"deps": {"note": dep}}, threading.Event())
            savers.append(saver)
        for saver in savers:
            page = saver.session.get(server.base + "/login", timeout=30).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            assert saver.session.post(server.base + "/login", data={"username": ADMIN[0], "password": ADMIN[1],
                                      "csrf_token": token}, allow_redirects=False, timeout=30).status_code == 302
            saver.session.get(server.base + "/login", timeout=30)
            saver.csrf = saver.session.cookies.get("_csrf_token")
        lock = sqlite3.connect(var_dir / "ops.sqlite", isolation_level=None, timeout=1)
        lock.execute("BEGIN IMMEDIATE")
        answers: list[str] = []

        def save(saver):
            r = saver.callback("note", [1], ["Storm", "storm", "2026-10-20", "2026-10-21", None,
                                             {"metric": "bike_trips"}, 0], headers={"X-CSRFToken": saver.csrf})
            answers.append(r.text)

        threads = [threading.Thread(target=save, args=(s,)) for s in savers]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        started = time.monotonic()
        api = requests.get(server.base + "/public/api/v1/metrics", timeout=60)
        waited = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=90)
        assert api.status_code == 200
        assert waited < 6.0, f"the public API waited {waited:.1f} s behind the saves"
        assert len(answers) == 4 and all("The annotation was not saved" in a for a in answers), answers[:1]
    finally:
        if lock is not None:
            lock.execute("ROLLBACK")
            lock.close()
        server.stop()
