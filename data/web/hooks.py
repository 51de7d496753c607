"""The request hooks of the Flask server: who is calling, size and shape limits, CSRF, the
public rate limit, page sign-in redirects, security headers, error answers, and the 404
status of unknown page paths."""
from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlencode, urlsplit

import flask
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from data import access, ops_store, settings, users
from data.web import guard, sign_in
from data.web.config import MAX_REQUEST_BYTES
from data.web.extensions import csrf, limiter

log = logging.getLogger(__name__)
_HOST_METAS = re.compile(rb'<meta property="(?:twitter|og):(?:url|image)" content="[^"]*">\s*')


def install(app, mode: str) -> None:
    """Register the hooks on `app`'s server: before every request, after it, at its end, and
    for errors."""
    server = app.server
    public_limit = limiter.shared_limit(lambda: settings.get("public_rate_limit"), scope="public",
                                        exempt_when=lambda: not guard.is_public_request())

    @server.before_request
    def _before():
        return _admit(app, mode)

    server.before_request(public_limit(lambda: None))

    @server.after_request
    def _after(response):
        return _secure(app, mode, response)

    @server.teardown_request
    def _teardown(_exc):
        token = flask.g.pop("cityops_access", None)
        if token is not None:
            access.reset(token)

    @server.errorhandler(CSRFError)
    def _csrf_error(exc):
        return _bad_request("missing or invalid CSRF token", 400)

    server.errorhandler(Exception)(_error)


# --- before the request -----------------------------------------------------------------

def _admit(app, mode: str):
    """Set the caller for the request, or answer instead of the app (None: go on)."""
    request = flask.request
    path = request.path
    if request.content_length and request.content_length > MAX_REQUEST_BYTES:
        return _bad_request("request too large", 413)
    try:
        principal = sign_in.resolve() if mode != "public" else None
    except ops_store.Busy:  # a lock on the ops store: the public site does not need it
        if not guard.is_public_path(path) and not guard.public_callback(app):
            return flask.Response("The ops store is busy; try again in a moment.", status=503,
                                  mimetype="text/plain", headers={"Retry-After": "2"})
        principal = None  # public pages and their callbacks answer as to anyone
    flask.g.cityops_access = access.set_current(principal)
    if principal is None and mode != "public" and path.startswith("/wall"):
        answer = _wall_token(path)
        if answer is not None:
            return answer
    if request.method == "POST" and principal is not None and principal.kind == "user" and path != "/login":
        # signed-in browsers send X-CSRFToken (Dash reads the _csrf_token cookie); behind a
        # trusted-header proxy too: the proxy's own cookie signs every request a page sends
        csrf.protect()
    if path == guard.DISPATCH and request.method == "POST":
        rejected = _check_dispatch(app)
        if rejected is not None:
            return rejected
    if mode != "public" and request.method == "GET" and not guard.is_open(path) and not guard.is_public_path(path):
        needed = guard.page_permission(path)
        if principal is None:
            return flask.redirect("/login?next=" + flask.request.full_path.rstrip("?")[:400])
        if not principal.can(needed):
            return flask.Response("This screen may show wall pages only.", status=403, mimetype="text/plain")
    return None


def _wall_token(path: str):
    """A wall screen presents its token once (``?token=``); its session keeps a server-side
    session id, and the token leaves the address bar. None: no token in the request."""
    request = flask.request
    token = request.args.get("token")
    token_id = users.device_id(token) if token else None
    if token_id is not None:
        sign_in.open_device_session(token_id)
        rest = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
        return flask.redirect(path + ("?" + rest if rest else ""))
    if token:
        return flask.Response("Unknown or revoked device token.", status=401, mimetype="text/plain")
    return None


def _bad_request(message: str, status: int = 400):
    return flask.Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def _check_dispatch(app):
    """Reject malformed callback requests before Dash parses them (Dash would answer 500)."""
    try:
        body = flask.request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        log.warning("rejected callback request from %s: JSON nested too deeply", flask.request.remote_addr)
        return _bad_request("malformed callback request")
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return _bad_request("malformed callback request")
    if body["output"] not in app.callback_map:
        return _bad_request("unknown callback")
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, (dict, list)) for i in items):
            return _bad_request(f"malformed callback {key}")
    if "outputs" in body and not isinstance(body["outputs"], (dict, list)):
        return _bad_request("malformed callback outputs")
    return None


# --- after the request ------------------------------------------------------------------

def _secure(app, mode: str, response):
    """Security headers on every response; the CSRF cookie and no shared caching for callers
    who are signed in."""
    headers = response.headers
    if response.mimetype == "text/html" and not response.direct_passthrough:
        body = response.get_data()
        if b'property="twitter:url"' in body[:4000]:  # Dash writes the request's Host into it
            response.set_data(_HOST_METAS.sub(b"", body, count=4))
    headers.setdefault("Content-Security-Policy", _csp(app))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    principal = access.current()
    if principal is not None and principal.kind == "user" and mode != "public":
        # Dash's renderer copies this cookie into an X-CSRFToken header on every callback.
        response.set_cookie("_csrf_token", generate_csrf(), secure=bool(settings.get("cookie_secure")),
                            httponly=False, samesite="Strict")
        headers["Cache-Control"] = "no-store" if "Cache-Control" not in headers else headers["Cache-Control"]
    if ("Set-Cookie" in headers or principal is not None) and "public" in headers.get("Cache-Control", ""):
        # a shared cache must not hand one visitor's cookie (or signed-in page) to another
        headers["Cache-Control"] = "private, no-store"
    if "Set-Cookie" in headers or principal is not None:
        headers.add("Vary", "Cookie")
    return response


def _csp(app) -> str:
    cached = app.server.config.get("CITYOPS_CSP")
    if cached:
        return cached
    script = ["'self'", *app.csp_hashes()]
    img = ["'self'", "data:", "blob:"]
    connect = ["'self'"]
    tile = str(settings.get("map_tile_url") or "")
    if tile:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(tile.replace("{", "").replace("}", "")))
        img.append(origin)
        connect.append(origin)
    policy = {
        "default-src": ["'self'"], "script-src": script, "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": img, "connect-src": connect, "worker-src": ["'self'", "blob:"], "font-src": ["'self'", "data:"],
        "object-src": ["'none'"], "base-uri": ["'self'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
    }
    value = "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())
    app.server.config["CITYOPS_CSP"] = value
    return value


def not_found_status(server, also_known: tuple[str, ...] = ("/login",)) -> None:
    """Answer unknown page paths with HTTP 404 (the body is still the app, which shows the
    404 page), so crawlers, monitors and link checkers see the truth."""
    import dash

    patterns = []
    for page in dash.page_registry.values():
        template = page.get("path_template") or page["path"]
        patterns.append(re.compile("^" + re.sub(r"<[^/>]+>", "[^/]+", template.rstrip("/")) + "/?$"))

    @server.after_request
    def _status(response):
        path = flask.request.path
        rule = flask.request.url_rule
        if rule is not None and rule.endpoint.startswith("cityops_"):
            return response  # a page of the app's own routes (the district briefing), not Dash's catch-all
        if (flask.request.method == "GET" and response.status_code == 200
                and response.mimetype == "text/html" and not path.startswith(("/_", "/assets/")) and path not in also_known
                and not any(p.match(path) for p in patterns)):
            response.status_code = 404
        return response


# --- errors -----------------------------------------------------------------------------

def _error(exc):
    if isinstance(exc, HTTPException):
        return exc
    client_error = _client_error(exc)
    if client_error is not None:  # a bad request, not a fault: one line, no traceback
        status, message = client_error
        log.warning("%s %s from %s: %s", status, flask.request.path[:200], flask.request.remote_addr, message)
        return flask.Response(message, status=status, mimetype="text/plain")
    log.exception("unhandled error on %s", flask.request.path)
    if flask.request.path == guard.DISPATCH:  # Dash could not apply the payload to the callback
        return _bad_request("callback request does not fit the callback")
    return flask.Response("Internal error; it has been logged.", status=500, mimetype="text/plain")


def _client_error(exc: Exception) -> tuple[int, str] | None:
    """(status, message) for exceptions a malformed request causes inside Dash or Werkzeug."""
    from dash.exceptions import DependencyException

    if isinstance(exc, DependencyException):  # an unknown /_dash-component-suites/ path
        return 404, "No such file."
    if isinstance(exc, RecursionError):  # input nested too deeply to parse
        return 400, "Request nested too deeply."
    if isinstance(exc, (UnicodeError, ValueError)) and "etag" in str(exc).lower():
        return 400, "Bad request."
    return None
