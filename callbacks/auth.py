"""Who may call what: sign-in, device tokens, the per-callback authorization decorator, and
the HTTP hardening of the Flask server under Dash.

Every Dash callback is a public HTTP endpoint, so authorization is checked **inside the
callback function**, at call time, from the caller's session or token — never from the
callback's inputs (a relabelled ``pathname`` input cannot open anything). Each callback
declares what it needs with :func:`requires`; ``tests/test_access.py`` walks
``app.callback_map`` and fails on a callback without a declaration.

Callers:
- **users** sign in at ``/login`` (Flask-Login over server-side sessions kept in the ops
  store, see ``data.users``; sign-out ends the session on the server; failed sign-ins back off
  per account). Roles admin / official (scoped to districts) / analyst.
- **wall screens** present a device token once (``/wall?token=…`` or an
  ``Authorization: Bearer …`` header); the session then keeps a server-side session id (never
  the token), and the token behind it is re-checked on every request, so revoking, rotating or
  expiry cuts the screen off within one refresh. A device may open wall pages and call wall
  callbacks only.
- **trusted header** (``CITYOPS_AUTH_TRUSTED_HEADER``): behind an OIDC proxy that signs users
  in and sets e.g. ``X-Forwarded-User``, the named user (who must exist and be enabled in
  the ops store, which gives the role and districts) is the caller, for requests coming from
  the proxy's address (``CITYOPS_AUTH_TRUSTED_PROXIES``) only.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from urllib.parse import urlencode, urlsplit

import flask
import flask_login
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized

from data import access, ops_store, settings, users

log = logging.getLogger(__name__)
ACCESS_ATTR = "__cityops_access__"
DISPATCH = "/_dash-update-component"
# Framework paths every caller may fetch (scripts, styles, the callback graph).
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_dash-dependencies", "/_dash-layout",
                 "/_favicon.ico", "/_reload-hash", "/login", "/logout", "/healthz")
PUBLIC_PREFIXES = ("/public", "/api/", "/download/")
MAX_REQUEST_BYTES = 1_000_000

# storage: the rate_limit_storage setting (RATELIMIT_STORAGE_URI, set in install)
limiter = Limiter(get_remote_address, default_limits=[], headers_enabled=True, strategy="moving-window")
csrf = CSRFProtect()
login_manager = flask_login.LoginManager()


def requires(permission: str):
    """Declare and enforce what a callback (or page layout) needs: 'public', 'wall', 'read',
    'records', 'annotate' or 'admin'. Put it directly above the function, below
    ``@dash.callback``. A caller without the permission gets HTTP 401 (nobody signed in) or 403."""
    if permission not in access.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            check(permission)
            return fn(*args, **kwargs)
        setattr(inner, ACCESS_ATTR, permission)
        return inner
    return wrap


def check(permission: str) -> access.Principal | None:
    try:
        return access.require(permission)
    except access.AccessDenied as exc:
        raise (Unauthorized if access.current() is None else Forbidden)(str(exc)) from None


# --- who is calling -------------------------------------------------------------------

class _SessionUser(flask_login.UserMixin):
    def __init__(self, user: users.User, session_id: str):
        self.user = user
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id  # the server-side session (data.users), not the user's name


@login_manager.user_loader
def _load_user(session_id: str):
    found = users.session("user", session_id)
    if found is None:
        return None  # signed out, expired, or the user was removed, disabled or reset since
    user = users.get(found[0])
    if user is None or user.disabled or user.session_epoch != found[1]:
        return None
    return _SessionUser(user, session_id)


def _trusted_header_user() -> users.User | None:
    header = settings.get("auth_trusted_header")
    if not header:
        return None
    proxies = {p.strip() for p in str(settings.get("auth_trusted_proxies")).split(",") if p.strip()}
    if peer_address() not in proxies:
        return None
    user = users.get((flask.request.headers.get(header) or "").strip().lower())
    return None if user is None or user.disabled else user


def _bearer() -> str | None:
    value = flask.request.headers.get("Authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def resolve() -> access.Principal | None:
    """The principal of the current request (None: anonymous)."""
    user = _trusted_header_user()
    flask.g.cityops_trusted_header = user is not None  # no browser session: no CSRF token to check
    if user is not None:
        return user.principal()
    if flask_login.current_user.is_authenticated:
        return flask_login.current_user.user.principal()
    token = _bearer()
    if token:
        return users.device(token)
    legacy = flask.session.pop("device_token", None)  # a cookie from before sessions held the token itself
    if legacy and users.device_id(legacy):
        _open_device_session(users.device_id(legacy))
    sid = flask.session.get("device_session")
    if sid:
        found = users.session("device", sid)
        device = users.device_by_id(found[0]) if found else None
        if device is None:
            flask.session.pop("device_session", None)  # revoked, expired or rotated: forget it
        return device
    return None


def _open_device_session(token_id: str) -> None:
    """The screen's session keeps a server-side session id, never the token."""
    flask.session["device_session"] = users.open_session(
        "device", token_id, hours=float(settings.get("wall_token_days")) * 24)
    flask.session.permanent = True


def peer_address() -> str | None:
    """The address of the TCP peer (the proxy, behind one), before ProxyFix rewrote it."""
    orig = flask.request.environ.get("werkzeug.proxy_fix.orig") or {}
    return orig.get("REMOTE_ADDR") or flask.request.remote_addr


# --- pages ------------------------------------------------------------------------------

def _is_public_path(path: str) -> bool:
    if settings.mode() == "public":
        return True
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


def _page_permission(path: str) -> str:
    if _is_public_path(path):
        return "public"
    if path == "/wall" or path.startswith("/wall/"):
        return "wall"
    return "read"


def protect_layout(layout, permission: str):
    """Wrap a page's layout function: the Dash router renders pages through a callback whose
    input is the pathname, so the layout itself checks the caller."""
    if not callable(layout):
        return layout

    @functools.wraps(layout)
    def inner(*args, **kwargs):
        from layouts import components  # late: layouts import data, not the reverse
        if flask.has_request_context() and "cityops_access" not in flask.g:
            # Dash collecting every page skeleton for its validation layout (once, in its own
            # setup hook, before ours): skeletons carry ids, never data.
            return layout(*args, **kwargs)
        try:
            access.require(permission)
        except access.AccessDenied:
            return components.sign_in_required(signed_in=access.current() is not None, lang=kwargs.get("lang"))
        return layout(*args, **kwargs)
    setattr(inner, ACCESS_ATTR, permission)
    return inner


def protect_pages() -> None:
    """Wrap the layout of every registered ops page (public pages and the 404 stay open)."""
    import dash
    for page in dash.page_registry.values():
        if page.get("audience") != "ops":
            setattr(page["layout"], ACCESS_ATTR, "public") if callable(page["layout"]) else None
            continue
        page["layout"] = protect_layout(page["layout"], _page_permission(page.get("path_template") or page["path"]))


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>CityOps — sign in</title><link rel="stylesheet" href="/assets/00-bootstrap.min.css">
<link rel="stylesheet" href="/assets/cityops.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width: 28rem">
<h1 class="h3 mb-4">CityOps — sign in</h1>
{% if message %}<div class="alert alert-{{ color }}" role="alert">{{ message }}</div>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label" for="username">User name</label>
<input class="form-control" id="username" name="username" autocomplete="username" required maxlength="64"
 value="{{ username }}" {% if not username %}autofocus{% endif %}></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password" required maxlength="200"
 {% if username %}autofocus{% endif %}></div>
<button class="btn btn-primary" type="submit">Sign in</button>
</form>
<p class="mt-4 small text-muted">The public dashboard needs no sign-in.
Wall screens use a device token: <code>/wall?token=…</code>.</p>
</main></body></html>"""


def _safe_next(value: str | None) -> str:
    value = value or "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or len(value) > 500:
        return "/"
    return value


def _login_page(message: str = "", color: str = "danger", status: int = 200):
    html = flask.render_template_string(LOGIN_PAGE, message=message, color=color, csrf_token=generate_csrf(),
                                        next=_safe_next(flask.request.values.get("next")),
                                        username=flask.request.form.get("username", "")[:64])
    return flask.Response(html, status=status, mimetype="text/html")


def _login():
    if flask.request.method == "GET":
        return _login_page()
    csrf.protect()  # login CSRF: the form carries the token of this browser's session
    username = flask.request.form.get("username", "")[:64].strip().lower()
    try:
        user, wait = users.sign_in(username, flask.request.form.get("password", "")[:200])
    except ops_store.Busy:
        log.warning("sign-in refused: %s", ops_store.BUSY_MESSAGE)
        return _login_page("You were not signed in: the user store is busy; try again in a moment.", status=503)
    if user is None:
        log.warning("failed sign-in for %r from %s%s", username, flask.request.remote_addr,
                    f" (account backing off {wait} s)" if wait else "")
        if wait:
            return _login_page(f"Too many failed sign-ins for this account. Try again in {wait} s.", status=429)
        return _login_page("Wrong user name or password, or the account is disabled.", status=401)
    flask.session.clear()
    flask_login.login_user(_SessionUser(user, users.open_session("user", user.username, user.session_epoch)))
    target = _safe_next(flask.request.form.get("next"))
    if target == "/" and user.role == "official":  # an official lands on their district(s)
        from data.district_profile import my_district_path
        target = my_district_path(user.principal())
    return flask.redirect(target)


def _logout():
    current = flask_login.current_user
    if current.is_authenticated:
        users.close_session(current.session_id)  # a copy of the cookie stops working too
    flask_login.logout_user()
    flask.session.clear()
    return flask.redirect("/login")


# --- request hooks ----------------------------------------------------------------------

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


def install(app, mode: str) -> None:  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
    """Sign-in, device tokens, CSRF, rate limits, security headers and error handling."""
    server = app.server
    server.config.update(
        SECRET_KEY=secret_key(mode),
        SESSION_COOKIE_NAME="cityops_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=bool(settings.get("cookie_secure")),
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=bool(settings.get("cookie_secure")),
        PERMANENT_SESSION_LIFETIME=int(settings.get("session_hours")) * 3600,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _before for signed-in callers only
        WTF_CSRF_TIME_LIMIT=None,      # the token lives as long as the session
        RATELIMIT_ENABLED=bool(settings.get("rate_limits")),
        RATELIMIT_STORAGE_URI=str(settings.get("rate_limit_storage")),
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,  # Redis down: count per worker, keep serving
    )
    server.wsgi_app = _TrustedProxyFix(server.wsgi_app)
    _trim_dash_config(app, mode)
    login_manager.init_app(server)
    login_manager.session_protection = "basic"
    csrf.init_app(server)
    limiter.init_app(server)
    if mode != "public":
        server.add_url_rule("/login", "cityops_login",
                            limiter.limit(lambda: settings.get("login_rate_limit"), methods=["POST"])(_login),
                            methods=["GET", "POST"])
        server.add_url_rule("/logout", "cityops_logout", _logout, methods=["POST"])
    public_limit = limiter.shared_limit(lambda: settings.get("public_rate_limit"), scope="public",
                                        exempt_when=lambda: not _is_public_request())

    @server.before_request
    def _before():
        request = flask.request
        path = request.path
        if request.content_length and request.content_length > MAX_REQUEST_BYTES:
            return _bad_request("request too large", 413)
        try:
            principal = resolve() if mode != "public" else None
        except ops_store.Busy:  # a lock on the ops store: the public site does not need it
            if not _is_public_path(path) and not _public_callback(app):
                return flask.Response("The ops store is busy; try again in a moment.", status=503,
                                      mimetype="text/plain", headers={"Retry-After": "2"})
            principal = None  # public pages and their callbacks answer as to anyone
        flask.g.cityops_access = access.set_current(principal)
        if principal is None and mode != "public" and path.startswith("/wall"):
            token = request.args.get("token")
            token_id = users.device_id(token) if token else None
            if token_id is not None:  # a wall screen presents its token once; its session keeps a
                _open_device_session(token_id)  # server-side session id, and the token leaves the address bar
                rest = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
                return flask.redirect(path + ("?" + rest if rest else ""))
            if token:
                return flask.Response("Unknown or revoked device token.", status=401, mimetype="text/plain")
        if request.method == "POST" and principal is not None and principal.kind == "user" and path != "/login":
            # signed-in browsers send X-CSRFToken (Dash reads the _csrf_token cookie); behind a
            # trusted-header proxy too: the proxy's own cookie signs every request a page sends
            csrf.protect()
        if path == DISPATCH and request.method == "POST":
            rejected = _check_dispatch(app)
            if rejected is not None:
                return rejected
        if mode != "public" and request.method == "GET" and not _is_open(path) and not _is_public_path(path):
            needed = _page_permission(path)
            if principal is None:
                return flask.redirect("/login?next=" + flask.request.full_path.rstrip("?")[:400])
            if not principal.can(needed):
                return flask.Response("This screen may show wall pages only.", status=403, mimetype="text/plain")
        return None

    server.before_request(public_limit(lambda: None))

    @server.after_request
    def _after(response):
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

    @server.teardown_request
    def _teardown(_exc):
        token = flask.g.pop("cityops_access", None)
        if token is not None:
            access.reset(token)

    @server.errorhandler(CSRFError)
    def _csrf_error(exc):
        return _bad_request("missing or invalid CSRF token", 400)

    @server.errorhandler(Exception)
    def _error(exc):
        if isinstance(exc, HTTPException):
            return exc
        client_error = _client_error(exc)
        if client_error is not None:  # a bad request, not a fault: one line, no traceback
            status, message = client_error
            log.warning("%s %s from %s: %s", status, flask.request.path[:200], flask.request.remote_addr, message)
            return flask.Response(message, status=status, mimetype="text/plain")
        log.exception("unhandled error on %s", flask.request.path)
        if flask.request.path == DISPATCH:  # Dash could not apply the payload to the callback
            return _bad_request("callback request does not fit the callback")
        return flask.Response("Internal error; it has been logged.", status=500, mimetype="text/plain")


def _trim_dash_config(app, mode: str) -> None:
    """Dash's page config (embedded in every HTML page) carries the Python version and, as the
    validation layout, the skeleton of every page: drop the version for everyone, and the
    skeletons for anonymous visitors of a site with ops pages (the public pages' callbacks
    are checked against the page itself)."""
    original = app._config

    def config():
        value = original()
        value.pop("python_version", None)
        if mode != "public" and access.current() is None and "validation_layout" in value:
            stubs = app.server.config.get("CITYOPS_ID_STUBS")
            if stubs is None:
                stubs = app.server.config["CITYOPS_ID_STUBS"] = _id_stubs(value["validation_layout"])
            value["validation_layout"] = stubs
        return value

    app._config = config


def _id_stubs(layout) -> dict:
    """The validation layout reduced to what the renderer checks callbacks against: one bare
    component (type, namespace, id) per id, no text, options or structure. The ids are in
    /_dash-dependencies anyway; the page skeletons' content is not."""
    import plotly.utils

    tree = json.loads(json.dumps(layout, cls=plotly.utils.PlotlyJSONEncoder))
    stubs, seen = [], set()

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            props = node.get("props")
            if "type" in node and "namespace" in node and isinstance(props, dict):
                if "id" in props:
                    key = json.dumps(props["id"], sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        stubs.append({"type": node["type"], "namespace": node["namespace"], "props": {"id": props["id"]}})
                walk(list(props.values()))
            else:
                walk(list(node.values()))

    walk(tree)
    return {"type": "Div", "namespace": "dash_html_components", "props": {"children": stubs}}


_HOST_METAS = re.compile(rb'<meta property="(?:twitter|og):(?:url|image)" content="[^"]*">\s*')


class _TrustedProxyFix:
    """Werkzeug's ProxyFix for requests from the configured proxies only: behind
    CITYOPS_PROXY_HOPS reverse proxies (at CITYOPS_PROXY_ADDRESSES) the client's address is
    taken from X-Forwarded-For (that many hops from the right) and the scheme from
    X-Forwarded-Proto, so rate limits and logs see each client, not the proxy. From any other
    peer the headers are ignored (a client cannot pick its own address)."""

    def __init__(self, wsgi_app):
        from werkzeug.middleware.proxy_fix import ProxyFix

        self.plain = wsgi_app
        self._fixed: dict[int, ProxyFix] = {}
        self._ProxyFix = ProxyFix

    def __call__(self, environ, start_response):
        hops = int(settings.get("proxy_hops"))
        if hops > 0:
            proxies = {p.strip() for p in str(settings.get("proxy_addresses")).split(",") if p.strip()}
            if environ.get("REMOTE_ADDR") in proxies:
                fixed = self._fixed.get(hops)
                if fixed is None:
                    fixed = self._fixed.setdefault(hops, self._ProxyFix(self.plain, x_for=hops, x_proto=hops))
                return fixed(environ, start_response)
        return self.plain(environ, start_response)


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
def _public_callback(app) -> bool:
    """Whether this request calls a public callback (its declared permission is 'public')."""
    if flask.request.path != DISPATCH:
        return False
    body = flask.request.get_json(silent=True)
    entry = app.callback_map.get(body.get("output")) if isinstance(body, dict) and isinstance(body.get("output"), str) else None
    return entry is not None and getattr(entry.get("callback"), ACCESS_ATTR, None) == "public"


def _is_open(path: str) -> bool:
    return any(path == p or path.startswith(p) for p in OPEN_PREFIXES)


def _is_public_request() -> bool:
    """Requests the public rate limit counts: public pages, API, downloads and anonymous
    callbacks; never the static bundles (cached by browsers) nor signed-in staff."""
    path = flask.request.path
    if path.startswith(("/assets/", "/_dash-component-suites/")):
        return False
    if settings.mode() == "public":
        return True
    if path == DISPATCH:
        return access.current() is None
    return _is_public_path(path)


def secret_key(mode: str | None = None) -> bytes:
    """The Flask secret of the ops site: CITYOPS_SECRET_KEY, else a random key kept in
    <var>/secret_key (created with mode 600, complete before any worker can read it) so every
    worker and restart shares it. The public site signs nothing (no sign-in, no cookie): it
    gets a throwaway key of its own and never reads the ops key or its setting."""
    if (mode or settings.mode()) == "public":
        return secrets.token_bytes(32)
    configured = settings.get("secret_key")
    if configured:
        return configured.encode()
    path = settings.var_dir() / "secret_key"
    key = users.create_secret_file(path, secrets.token_hex(32)).strip()
    if len(key) < 32:
        raise SystemExit(f"{path} is damaged; delete it (signs everyone out) or set CITYOPS_SECRET_KEY")
    return key.encode()
