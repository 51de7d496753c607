"""The Flask server's configuration (cookies, sizes, CSRF, rate-limit storage, the secret
key), the reverse-proxy fix, and what Dash embeds of itself in every page."""
from __future__ import annotations

import json
import secrets

from data import access, settings, users
from data.web.extensions import csrf, limiter, login_manager

MAX_REQUEST_BYTES = 1_000_000


def install(app, mode: str) -> None:
    """Configure `app`'s Flask server for `mode` and bind the extensions (sign-in, CSRF,
    rate limits) to it."""
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
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in data.web.hooks for signed-in callers only
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
