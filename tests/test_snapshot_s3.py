"""The snapshot store on S3-compatible object storage (snapshot_store = s3://bucket/prefix), on
a real local S3 server (moto's server mode): publish uploads each release and its pointer last;
a host downloads a newer release and switches to it; a pointer naming a version whose files are
missing or short in the store (still uploading, or damaged) is not switched to, and is switched
to once the files are complete."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta

from data import releases, snapshot, snapshot_s3, snapshot_store
from tests.conftest import FIXTURE_END


def _publish(var_dir, tmp_path, monkeypatch, times=1):
    from data import publish, warehouse

    pub = tmp_path / "publisher"
    pub.mkdir(exist_ok=True)
    if not (pub / "warehouse.duckdb").exists():
        shutil.copy(var_dir / "warehouse.duckdb", pub / "warehouse.duckdb")
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(pub))
    con = warehouse.connect(pub / "warehouse.duckdb")
    try:
        return [publish.publish(con, now=FIXTURE_END + timedelta(minutes=i)) for i in range(times)]
    finally:
        con.close()


def _objects(store) -> dict:
    location = snapshot_s3.Location.parse(store)
    pages = snapshot_s3.client().get_paginator("list_objects_v2").paginate(Bucket=location.bucket)
    return {item["Key"][len(location.prefix):]: item["Size"] for page in pages for item in page.get("Contents", [])}


def test_publish_uploads_the_release_and_a_host_serves_it(published, var_dir, s3_store, tmp_path, monkeypatch):
    (result,) = _publish(var_dir, tmp_path, monkeypatch)
    objects = _objects(s3_store)
    pointer = json.loads(snapshot_s3.read_pointer(snapshot_s3.Location.parse(s3_store))[1])
    assert pointer["version"] == result.version
    assert objects[pointer["ops"]] == pointer["bytes"]["ops"] and objects[pointer["public"]] == pointer["bytes"]["public"]

    host = tmp_path / "host"
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    snapshot.reset()
    try:
        assert snapshot.version("ops") == result.version  # the first request downloads it
        assert (host / pointer["ops"]).stat().st_size == pointer["bytes"]["ops"]
        assert releases.read_pointer()["version"] == result.version
        assert snapshot_store.pull() is False  # nothing newer: no download
        assert not [p for p in host.rglob("*.tmp")]
    finally:
        snapshot.reset()


def test_old_versions_are_pruned_from_the_bucket(published, var_dir, s3_store, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_SNAPSHOT_KEEP", "1")
    results = _publish(var_dir, tmp_path, monkeypatch, times=4)
    versions = {releases._RELEASE.match(k.rsplit("/", 1)[-1]).group("version")
                for k in _objects(s3_store) if k != releases.POINTER}
    # as the directory store: the current one and snapshot_keep + 1 superseded ones
    assert versions == {r.version for r in results[-3:]}


def test_a_pointer_naming_incomplete_files_is_not_switched_to(published, var_dir, s3_store, tmp_path, monkeypatch):
    first, second = _publish(var_dir, tmp_path, monkeypatch, times=2)
    location = snapshot_s3.Location.parse(s3_store)
    s3 = snapshot_s3.client()
    new = json.loads(s3.get_object(Bucket=location.bucket, Key=location.key(releases.POINTER))["Body"].read())
    assert new["version"] == second.version
    pub = tmp_path / "publisher"
    ops_bytes, public_bytes = (pub / new["ops"]).read_bytes(), (pub / new["public"]).read_bytes()

    # the store as a publisher killed mid-way (or a damaged store) leaves it: the pointer names
    # the new version, its ops file is missing and its public file is cut short
    s3.put_object(Bucket=location.bucket, Key=location.key(releases.POINTER), Body=json.dumps(
        json.loads((pub / releases.POINTER).read_text()) | {"version": first.version, "ops": first.ops_path.relative_to(pub).as_posix(),
                                                            "public": first.public_path.relative_to(pub).as_posix(),
                                                            "bytes": {"ops": first.ops_path.stat().st_size,
                                                                      "public": first.public_path.stat().st_size}}))
    host = tmp_path / "host"
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    snapshot.reset()
    try:
        assert snapshot.version("ops") == first.version
        s3.delete_object(Bucket=location.bucket, Key=location.key(new["ops"]))
        s3.put_object(Bucket=location.bucket, Key=location.key(new["public"]), Body=public_bytes[: len(public_bytes) // 2])
        s3.put_object(Bucket=location.bucket, Key=location.key(releases.POINTER), Body=json.dumps(new))
        assert snapshot_store.pull() is False
        assert releases.read_pointer()["version"] == first.version
        assert not (host / new["public"]).exists() and not [p for p in host.rglob("*.tmp")]

        # the ops file arrives, the public one is still short: still not taken
        s3.put_object(Bucket=location.bucket, Key=location.key(new["ops"]), Body=ops_bytes)
        assert snapshot_store.pull() is False
        assert releases.read_pointer()["version"] == first.version
        monkeypatch.setenv("CITYOPS_SNAPSHOT_POLL_S", "0")
        assert snapshot.version("public") == first.version  # the workers keep serving the old one

        # complete: switched to at the next poll
        s3.put_object(Bucket=location.bucket, Key=location.key(new["public"]), Body=public_bytes)
        assert snapshot.version("public") == second.version
        assert (host / new["public"]).read_bytes() == public_bytes
    finally:
        snapshot.reset()


def test_an_unreachable_store_leaves_the_host_serving_what_it_has(published, var_dir, s3_store, tmp_path, monkeypatch):
    (result,) = _publish(var_dir, tmp_path, monkeypatch)
    host = tmp_path / "host"
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(host))
    snapshot.reset()
    try:
        assert snapshot.version("ops") == result.version
        monkeypatch.setenv("CITYOPS_SNAPSHOT_STORE_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
        monkeypatch.setenv("CITYOPS_SNAPSHOT_POLL_S", "0")
        assert snapshot_store.pull() is False
        assert snapshot.version("ops") == result.version
    finally:
        snapshot.reset()
