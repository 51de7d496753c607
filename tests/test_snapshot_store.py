"""The snapshot store (snapshot_store): publish puts each release there, a host copies a newer
one into its own var dir and flips its own pointer; the public site's host copies only the
public release; a pointer naming files outside the release layout is not followed."""
from __future__ import annotations

import json
import shutil

from data import releases, snapshot, snapshot_store
from tests.conftest import FIXTURE_END


def _publish_into(store, var_dir, tmp_path, monkeypatch):
    from data import publish, warehouse

    pub = tmp_path / "publisher"
    pub.mkdir()
    shutil.copy(var_dir / "warehouse.duckdb", pub / "warehouse.duckdb")
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(pub))
    monkeypatch.setenv("CITYOPS_SNAPSHOT_STORE", str(store))
    con = warehouse.connect(pub / "warehouse.duckdb")
    try:
        return publish.publish(con, now=FIXTURE_END)
    finally:
        con.close()


def test_a_host_copies_a_new_release_from_the_store_and_serves_it(published, var_dir, tmp_path, monkeypatch):
    store = tmp_path / "store"
    result = _publish_into(store, var_dir, tmp_path, monkeypatch)
    pointer = json.loads((store / releases.POINTER).read_text())
    assert pointer["version"] == result.version
    assert (store / pointer["ops"]).stat().st_size == pointer["bytes"]["ops"]
    assert (store / "snapshots").stat().st_mode & 0o077 == 0  # ops records: not for other users

    host = tmp_path / "host"
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    snapshot.reset()
    try:
        assert snapshot.version("ops") == result.version  # the first request pulls it
        assert (host / pointer["ops"]).exists() and releases.read_pointer()["version"] == result.version
        assert snapshot_store.pull() is False  # nothing newer: no copy
    finally:
        snapshot.reset()


def test_the_public_sites_host_copies_only_the_public_release(published, var_dir, tmp_path, monkeypatch):
    store = tmp_path / "store"
    _publish_into(store, var_dir, tmp_path, monkeypatch)
    host = tmp_path / "public-host"
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    assert snapshot_store.pull(("public",)) is True
    pointer = releases.read_pointer()
    assert (host / pointer["public"]).exists() and not (host / pointer["ops"]).exists()


def test_a_tampered_store_pointer_is_not_followed(tmp_path, monkeypatch):
    store, host = tmp_path / "store", tmp_path / "host"
    store.mkdir()
    (tmp_path / "secret.duckdb").write_text("not yours")
    (store / releases.POINTER).write_text(json.dumps({
        "version": "29990101T000000", "ops": "../secret.duckdb", "public": "public/public-29990101T000000.duckdb"}))
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    monkeypatch.setenv("CITYOPS_SNAPSHOT_STORE", str(store))
    assert snapshot_store.pull() is False
    assert releases.read_pointer() is None
