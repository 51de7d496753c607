"""The public site as a cache of an immutable release.

A public release never changes once published, so every public response — a page, the Dash
layout, a public callback's JSON, an API document, a download — is computed once per data
version and then served as stored bytes, by every worker:

* **key**: the data version of the public snapshot (read once at the start of the request)
  plus what the response depends on: for a GET the path and query string (and, for pages,
  the Host, which Dash's page meta tags repeat); for a callback the canonical JSON of its
  output, inputs, state and triggering properties (made-up fields are not part of the key,
  nor a timer's ``n_intervals``, which says when to ask and not what);
* **store**: ``<var>/cache/public/<version>/<sha256>`` files, written atomically (temporary
  file + rename), shared by all workers of the machine, and a small in-memory layer per
  worker in front of them. Bytes only — no pickle, so a file in the cache can never run
  code. A new version is a new directory; older directories are removed as soon as a worker
  stores an entry of a newer version. Each version directory holds at most
  ``MAX_ENTRIES`` entries (made-up query strings cannot fill the disk);
* **what**: anonymous requests only (a signed-in user's response may carry a CSRF cookie
  and is never shared), status 200, no ``Set-Cookie``, a text/JSON/CSV/Parquet body of at
  most ``MAX_BYTES``; callbacks only when they are declared ``public``;
* **served**: with the gzip body stored next to the plain one (no compression per request),
  an ETag (the data version; ``If-None-Match`` answers 304) and ``X-Cache: hit|miss``. An
  entry is reused for ``CITYOPS_PUBLIC_CACHE_S`` seconds at most (freshness marks such as
  "late" depend on the clock, not only on the release); 0 turns the cache off.

A response computed while the pointer flipped is not stored (its version would be unclear).
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import flask

from data import access, settings, snapshot
from data.web import compression, guard, public_api

MAX_ENTRIES = 4000               # per version directory
MAX_BYTES = 16 * 1024 * 1024     # largest body stored
MEMORY_BYTES = 64 * 1024 * 1024  # per worker, in front of the files
LEVEL = 6
MIMETYPES = ("text/html", "application/json", "text/csv", "application/vnd.apache.parquet", "text/plain")
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "Cache-Control", "ETag", "X-Data-Version",
                "Access-Control-Allow-Origin", "Content-Language", "Vary")


def root() -> Path:
    return settings.var_dir() / "cache" / "public"


def ttl() -> float:
    return float(settings.get("public_cache_s"))


class _Memory:
    """Per-worker LRU of entries by key, bounded in bytes."""

    def __init__(self, max_bytes: int = MEMORY_BYTES):
        self.items: OrderedDict[str, tuple[float, dict, bytes, bytes]] = OrderedDict()
        self.size = 0
        self.max_bytes = max_bytes
        self.lock = threading.Lock()

    def get(self, key: str):
        with self.lock:
            item = self.items.get(key)
            if item is not None:
                self.items.move_to_end(key)
            return item

    def put(self, key: str, item) -> None:
        weight = len(item[2]) + len(item[3])
        if weight > self.max_bytes:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.size -= len(old[2]) + len(old[3])
            while self.items and self.size + weight > self.max_bytes:
                _k, dropped = self.items.popitem(last=False)
                self.size -= len(dropped[2]) + len(dropped[3])
            self.items[key] = item
            self.size += weight

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


MEMORY = _Memory()
STATS = {"hits": 0, "misses": 0, "stores": 0}  # this worker's counts (tests and benchmarks read them)


# --------------------------------------------------------------------------- entries on disk
def _encode(created: float, meta: dict, plain: bytes, zipped: bytes) -> bytes:
    head = json.dumps({"created": created, "plain": len(plain), "gzip": len(zipped), **meta}).encode()
    return head + b"\n" + plain + zipped


def _decode(blob: bytes):
    head, _, rest = blob.partition(b"\n")
    meta = json.loads(head)
    plain, zipped = rest[:meta["plain"]], rest[meta["plain"]:meta["plain"] + meta["gzip"]]
    if len(zipped) != meta["gzip"]:
        raise ValueError("truncated cache entry")
    return float(meta.pop("created")), meta, plain, zipped


def _path(version: str, key: str) -> Path:
    safe = "".join(c for c in version if c.isalnum() or c in "-_.")[:80] or "none"
    return root() / safe / key


def _load(version: str, key: str):
    item = MEMORY.get(key)
    if item is None:
        try:
            item = _decode(_path(version, key).read_bytes())
        except (OSError, ValueError, KeyError):
            return None
        MEMORY.put(key, item)
    if time.time() - item[0] > ttl():
        return None
    return item


def _save(version: str, key: str, item) -> None:
    folder = _path(version, key).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with os.scandir(folder) as entries:
            if sum(1 for _ in entries) >= MAX_ENTRIES:
                return
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_encode(*item))
        os.replace(tmp, folder / key)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)
        return
    STATS["stores"] += 1
    _drop_other_versions(folder.name)


def _drop_other_versions(current: str) -> None:
    """Remove the directories of every other version (a superseded release is never served
    from here again: the key starts with the version the pointer names)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(root()):
            if entry.is_dir() and entry.name != current:
                shutil.rmtree(entry.path, ignore_errors=True)


def clear() -> None:
    """Forget every cached response (tests)."""
    MEMORY.clear()
    shutil.rmtree(root(), ignore_errors=True)


# --------------------------------------------------------------------------- which requests
def _callback_permission(app, body: dict) -> str | None:
    entry = app.callback_map.get(body.get("output")) if isinstance(body.get("output"), str) else None
    fn = entry.get("callback") if entry else None
    return guard.permission_of(fn)


TRIGGERS = frozenset({"n_intervals"})  # a timer's count says when to ask, not what: not part of the key


def _canonical_callback(body: dict) -> str:
    def one(item: dict) -> list:
        value = None if item.get("property") in TRIGGERS else item.get("value")
        return [item.get("id"), item.get("property"), value]

    def items(key):
        out = []
        for item in body.get(key) or []:
            if isinstance(item, dict):
                out.append(one(item))
            else:  # pattern-matching groups: a list of dicts
                out.append([one(i) for i in item if isinstance(i, dict)])
        return out
    return json.dumps([body.get("output"), items("inputs"), items("state"), body.get("changedPropIds")],
                      sort_keys=True, separators=(",", ":"), default=str)


def _public_get(path: str, mode: str) -> tuple[bool, bool]:
    """(cacheable, is a page) of a GET path."""
    base = public_api.prefix()
    if path.startswith((base + public_api.API, public_api.API, base + "/download/")):
        return True, False
    if mode == "public":
        if path in ("/_dash-layout", "/_dash-dependencies"):
            return True, False
        return not path.startswith(("/_", "/assets/")), True
    return (path == "/public" or path.startswith("/public/")), True


def request_key(app, mode: str) -> tuple[str, str] | None:
    """(version, key) when this request's response may be served from the cache."""
    request = flask.request
    if ttl() <= 0 or mode not in ("public", "all") or access.current() is not None:
        return None
    if request.method == "GET":
        cacheable, page = _public_get(request.path, mode)
        if not cacheable or len(request.full_path) > 600:
            return None
        what = f"GET {request.full_path}" + (f" host={request.host[:100]}" if page else "")
    elif request.method == "POST" and request.path == guard.DISPATCH:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or len(request.get_data()) > 20_000:
            return None
        permission = _callback_permission(app, body)
        router = "_pages_content" in str(body.get("output"))
        if permission != "public" and not (router and mode == "public"):
            return None
        what = "POST " + _canonical_callback(body)
    else:
        return None
    try:
        version = snapshot.version("public")
    except (snapshot.DataUnavailable, PermissionError):
        return None
    return version, hashlib.sha256(f"{version}\n{what}".encode()).hexdigest()


def _respond(item, request: flask.Request) -> flask.Response:
    _created, meta, plain, zipped = item
    use_gzip = bool(zipped) and compression.accepts_gzip(request)
    response = flask.Response(zipped if use_gzip else plain, status=200)
    for name, value in meta["headers"]:
        response.headers[name] = value
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
        etag, weak = response.get_etag()
        if etag and not weak:
            response.set_etag(f"{etag}-gzip")
    vary = response.headers.get("Vary", "")
    if "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    response.headers["X-Cache"] = "hit"
    if request.method == "GET":
        response.make_conditional(request)
    return response


def install(app, mode: str) -> None:
    """Serve cacheable public requests from the cache, and store their first answer. Call after
    every other ``before_request`` (sign-in, CSRF, rate limits still run on a hit) and after
    every ``after_request`` hook but compression's (what is stored is the final body)."""
    if mode not in ("public", "all"):
        return
    server = app.server

    @server.before_request
    def _serve_cached():
        key = request_key(app, mode)
        if key is None:
            return None
        item = _load(*key)
        if item is not None:
            STATS["hits"] += 1
            flask.g.cityops_cache = None
            return _respond(item, flask.request)
        STATS["misses"] += 1
        flask.g.cityops_cache = key
        return None

    def _store(response: flask.Response) -> flask.Response:
        key = flask.g.pop("cityops_cache", None)
        if key is None:
            return response
        response.headers["X-Cache"] = "miss"
        if (response.status_code != 200 or response.is_streamed or "Set-Cookie" in response.headers
                or "Content-Encoding" in response.headers or response.mimetype not in MIMETYPES
                or access.current() is not None):
            return response
        plain = response.get_data()
        if len(plain) > MAX_BYTES:
            return response
        try:
            if snapshot.version("public") != key[0]:
                return response  # the pointer flipped while this was computed
        except (snapshot.DataUnavailable, PermissionError):
            return response
        zipped = gzip.compress(plain, LEVEL, mtime=0) if len(plain) >= 1024 else b""
        headers = [(h, response.headers[h]) for h in KEPT_HEADERS if h in response.headers]
        item = (time.time(), {"headers": headers}, plain, zipped)
        MEMORY.put(key[1], item)
        _save(key[0], key[1], item)
        return response

    funcs = server.after_request_funcs.setdefault(None, [])
    # Flask runs these in reverse: index 0 (compression, when on) runs last; this one just before.
    funcs.insert(1 if funcs and getattr(funcs[0], "__name__", "") == "compress_response" else 0, _store)
