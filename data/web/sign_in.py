"""Who is calling: sign-in at ``/login``, device tokens of wall screens, and the trusted
header of an OIDC proxy. :func:`resolve` turns a request into the caller's principal.

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

import logging
from urllib.parse import urlsplit

import flask
import flask_login
from flask_wtf.csrf import generate_csrf

from data import access, ops_store, settings, users
from data.web.extensions import csrf, login_manager

log = logging.getLogger(__name__)


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
        open_device_session(users.device_id(legacy))
    sid = flask.session.get("device_session")
    if sid:
        found = users.session("device", sid)
        device = users.device_by_id(found[0]) if found else None
        if device is None:
            flask.session.pop("device_session", None)  # revoked, expired or rotated: forget it
        return device
    return None


def open_device_session(token_id: str) -> None:
    """The screen's session keeps a server-side session id, never the token."""
    flask.session["device_session"] = users.open_session(
        "device", token_id, hours=float(settings.get("wall_token_days")) * 24)
    flask.session.permanent = True


def peer_address() -> str | None:
    """The address of the TCP peer (the proxy, behind one), before ProxyFix rewrote it."""
    orig = flask.request.environ.get("werkzeug.proxy_fix.orig") or {}
    return orig.get("REMOTE_ADDR") or flask.request.remote_addr


# --- the sign-in page -----------------------------------------------------------------

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


def login():
    """``/login``: the form (GET), or a sign-in attempt (POST)."""
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


def logout():
    """``/logout`` (POST): end the session on the server too."""
    current = flask_login.current_user
    if current.is_authenticated:
        users.close_session(current.session_id)  # a copy of the cookie stops working too
    flask_login.logout_user()
    flask.session.clear()
    return flask.redirect("/login")
