"""gzip for every text response, without paying for the big static bundles on every request.

Dash's own ``compress=True`` (flask-compress without a cache) gzips plotly.min.js (4.8 MB) on
every request: about 140 ms of CPU each time. Here:

* **static bundles** (``/_dash-component-suites/…`` and ``/assets/…``: the same bytes for the
  life of the process) are compressed once per worker (level 6: ~140 ms for plotly.min.js, once) and kept in memory, keyed by
  path, length and validator (ETag / Last-Modified) — never by the query string, so made-up
  ``?v=`` values cannot make a worker compress again or grow the cache; the cache is bounded;
* **dynamic responses** (page HTML, ``/_dash-layout``, callback JSON, the API, CSV/JSON
  downloads) are compressed per request at level 5 (a few ms for the biggest callback, a
  district map with its outlines), and only when the client accepts gzip and the body is over
  1 kB. For signed-in staff only callback JSON that holds no form of their CSRF token is
  compressed (BREACH, see :func:`_may_compress_for_caller`).

A strong ETag gets a ``-gzip`` suffix (the compressed bytes differ from the plain ones) and
the response is made conditional again, so ``If-None-Match`` still answers 304. ``install``
puts the hook first in Flask's after-request list, so it runs after every other hook (page
language, 404 status, security headers) has finished with the uncompressed body.
"""
from __future__ import annotations

import gzip
import threading

import flask

from data import access, settings

MIMETYPES = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
    "application/json", "application/manifest+json", "image/svg+xml", "application/x-javascript",
    "application/geo+json", "font/ttf", "application/vnd.ms-fontobject",
})
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
MIN_SIZE = 1024
STATIC_LEVEL = 6
DYNAMIC_LEVEL = 5
CACHE_MAX_BYTES = 32 * 1024 * 1024   # per worker; every bundle of the app gzipped is ~2 MB


class _StaticCache:
    """Compressed static bundles of this process (thread-safe, bounded, first in first out)."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self.items: dict[tuple, bytes] = {}
        self.size = 0
        self.lock = threading.Lock()
        self.compressions = 0  # how often a bundle was actually compressed (tests read it)

    def get(self, key: tuple, data_fn) -> bytes:
        with self.lock:
            hit = self.items.get(key)
        if hit is not None:
            return hit
        body = gzip.compress(data_fn(), STATIC_LEVEL, mtime=0)
        with self.lock:
            self.compressions += 1
            if len(body) <= self.max_bytes:
                while self.items and self.size + len(body) > self.max_bytes:
                    old = self.items.pop(next(iter(self.items)))
                    self.size -= len(old)
                if key not in self.items:
                    self.items[key] = body
                    self.size += len(body)
        return body


CACHE = _StaticCache()


def accepts_gzip(request: flask.Request) -> bool:
    """Whether Accept-Encoding allows gzip (``gzip`` or ``*`` with a quality above 0)."""
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() not in ("gzip", "*"):
            continue
        q = params.strip()
        try:
            return not q.startswith("q=") or float(q[2:]) > 0
        except ValueError:
            return True
    return False


def _csrf_tokens() -> list[bytes]:
    """The forms this session's CSRF token takes in a body: the raw session value and the
    signed one pages and the ``_csrf_token`` cookie carry."""
    tokens = [flask.session.get("csrf_token"), flask.g.get("csrf_token")]
    return [t.encode() for t in tokens if isinstance(t, str) and t]


def _may_compress_for_caller(request: flask.Request, data: bytes) -> bool:
    """BREACH: a response that carries a secret next to something the caller sent lets a
    length observer guess the secret, byte by byte, when compressed. For anonymous callers
    and wall screens there is no such secret. For signed-in staff only callback JSON is
    compressed (the figures and tables are most of what they download), and only when the
    body holds no form of the CSRF token; pages and the layout (which embed the token in the
    sign-out form) are sent as they are."""
    caller = access.current()
    if caller is None or caller.kind != "user":
        return True
    if request.method != "POST" or request.path != "/_dash-update-component":
        return False
    return not any(token in data for token in _csrf_tokens())


def compress_response(response: flask.Response) -> flask.Response:
    request = flask.request
    vary = response.headers.get("Vary", "")
    if response.mimetype in MIMETYPES and "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if (request.method not in ("GET", "POST") or response.status_code not in (200, 404)
            or response.mimetype not in MIMETYPES or "Content-Encoding" in response.headers
            or response.is_streamed and not response.direct_passthrough
            or (response.content_length is not None and response.content_length < MIN_SIZE)
            or not accepts_gzip(request)):
        return response
    response.direct_passthrough = False  # files served from disk: read them
    static = request.method == "GET" and response.status_code == 200 and request.path.startswith(STATIC_PREFIXES)
    if static:
        etag, _ = response.get_etag()
        key = (request.path, response.content_length, etag, response.headers.get("Last-Modified"))
        body = CACHE.get(key, response.get_data)
    else:
        data = response.get_data()
        if len(data) < MIN_SIZE or not _may_compress_for_caller(request, data):
            return response
        body = gzip.compress(data, DYNAMIC_LEVEL, mtime=0)
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}-gzip")
    if request.method == "GET":
        response.make_conditional(request)
    return response


def install(server: flask.Flask) -> None:
    """Compress every response of `server`; runs after all other after-request hooks.
    Nothing to do when ``CITYOPS_COMPRESS=false`` (a reverse proxy compresses)."""
    if not settings.get("compress"):
        return
    funcs = server.after_request_funcs.setdefault(None, [])
    if compress_response not in funcs:
        funcs.insert(0, compress_response)  # Flask runs these in reverse: first = last to run
