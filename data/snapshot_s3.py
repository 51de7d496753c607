"""The snapshot store on S3-compatible object storage, through boto3 (see data/snapshot_store.py
for the protocol). ``snapshot_store = s3://bucket/prefix``; ``snapshot_store_endpoint`` names
a non-AWS endpoint (MinIO, Ceph RGW, a local test server); credentials and region come from
boto3's own chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
an instance role...), never from this project's settings.

Objects under the prefix mirror the var dir: ``CURRENT.json``, ``snapshots/ops-<v>.duckdb``,
``public/public-<v>.duckdb``. An S3 object is visible only once its upload (single or multipart)
has completed, so uploading both files before the pointer means the pointer never names a file
that is not there in full — unless the store was written by something else or damaged, which
the byte counts in the pointer catch on download.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from data import releases, settings


class StoreError(Exception):
    """The object store could not be read or written (the message says why)."""


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str  # "" or ends with "/"

    @classmethod
    def parse(cls, url: str) -> "Location":
        rest = url.strip()[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"snapshot_store {url!r}: no bucket (s3://bucket/prefix)")
        prefix = prefix.strip("/")
        return cls(bucket, prefix + "/" if prefix else "")

    def key(self, name: str) -> str:
        return self.prefix + name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


_clients: dict = {}  # (pid, endpoint) -> client: boto3 clients are not to be shared across a fork


def client():
    import boto3
    from botocore.config import Config

    endpoint = str(settings.get("snapshot_store_endpoint") or "").strip() or None
    key = (os.getpid(), endpoint)
    if key not in _clients:
        _clients[key] = boto3.session.Session().client(
            "s3", endpoint_url=endpoint,
            config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}))
    return _clients[key]


def _errors():
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _describe(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(exc)


def read_pointer(store: Location) -> tuple[str, bytes | None]:
    """(stamp, body) of the store's CURRENT.json object; the stamp is its ETag."""
    try:
        response = client().get_object(Bucket=store.bucket, Key=store.key(releases.POINTER))
        return str(response.get("ETag")), response["Body"].read(64 << 10)
    except _errors() as exc:
        raise StoreError(_describe(exc)) from None


def download(store: Location, name: str, dst: Path, size: int | None) -> None:
    """The object `name` → `dst` atomically (temp beside dst, fsync, rename), refused when it is
    missing or its length is not `size` (the pointer's byte count)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        try:
            response = client().get_object(Bucket=store.bucket, Key=store.key(name))
            if size is not None and int(response.get("ContentLength", -1)) != size:
                response["Body"].close()
                raise StoreError(f"{name}: {response.get('ContentLength')} bytes in the store, the pointer says {size}")
            with open(tmp, "wb") as fout:
                for chunk in response["Body"].iter_chunks(4 << 20):
                    fout.write(chunk)
                fout.flush()
                os.fsync(fout.fileno())
        except _errors() as exc:
            raise StoreError(f"{name}: {_describe(exc)}") from None
        if size is not None and tmp.stat().st_size != size:
            raise StoreError(f"{name}: {tmp.stat().st_size} bytes downloaded, the pointer says {size}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _exists(store: Location, name: str, size: int | None) -> bool:
    try:
        head = client().head_object(Bucket=store.bucket, Key=store.key(name))
    except _errors():
        return False
    return size is None or int(head.get("ContentLength", -1)) == size


def push(store: Location, pointer: dict, keep: int) -> None:
    """Publisher: upload the release's files, then its pointer, then remove versions older than
    the newest `keep` superseded ones. Raises OSError when the store cannot be written (publish
    reports it; the store's pointer still names the previous, complete release)."""
    var = settings.var_dir()
    sizes = pointer.get("bytes") if isinstance(pointer.get("bytes"), dict) else {}
    try:
        s3 = client()
        for db in releases.FOLDERS:
            if not _exists(store, pointer[db], sizes.get(db)):
                s3.upload_file(str(var / pointer[db]), store.bucket, store.key(pointer[db]))
        s3.put_object(Bucket=store.bucket, Key=store.key(releases.POINTER),
                      Body=json.dumps(pointer).encode("utf-8"), ContentType="application/json")
    except _errors() as exc:
        raise OSError(f"{store}: {_describe(exc)}") from None
    try:
        _prune(store, str(pointer["version"]), keep)
    except _errors() as exc:  # old versions left behind is not a failed publish
        import logging

        logging.getLogger(__name__).warning("snapshot store %s: could not prune (%s)", store, _describe(exc))


def _prune(store: Location, current: str, keep: int) -> None:
    s3 = client()
    for folder in releases.FOLDERS.values():
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.key(folder + "/")):
            for item in page.get("Contents", []):
                match = releases._RELEASE.match(item["Key"].rsplit("/", 1)[-1])
                if match and match.group("version") < current:
                    found.append((match.group("version"), item["Key"]))
        for _version, key in sorted(found, reverse=True)[keep:]:
            s3.delete_object(Bucket=store.bucket, Key=key)
