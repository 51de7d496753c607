"""Who may call what: the per-callback authorization decorator, the page guard, and which
paths are public.

Every Dash callback is a public HTTP endpoint, so authorization is checked **inside the
callback function**, at call time, from the caller's session or token (data.web.sign_in) —
never from the callback's inputs (a relabelled ``pathname`` input cannot open anything). Each
callback declares what it needs with :func:`requires`; ``tests/test_access.py`` walks
``app.callback_map`` and fails on a callback without a declaration.
"""
from __future__ import annotations

import functools

import flask
from werkzeug.exceptions import Forbidden, Unauthorized

from data import access, settings

ACCESS_ATTR = "__cityops_access__"
DISPATCH = "/_dash-update-component"
# Framework paths every caller may fetch (scripts, styles, the callback graph).
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_dash-dependencies", "/_dash-layout",
                 "/_favicon.ico", "/_reload-hash", "/login", "/logout", "/healthz")
PUBLIC_PREFIXES = ("/public", "/api/", "/download/")


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


def permission_of(fn) -> str | None:
    """The permission a callback or layout declared (None: it declared none)."""
    return getattr(fn, ACCESS_ATTR, None)


# --- paths ------------------------------------------------------------------------------

def is_public_path(path: str) -> bool:
    if settings.mode() == "public":
        return True
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


def is_open(path: str) -> bool:
    return any(path == p or path.startswith(p) for p in OPEN_PREFIXES)


def page_permission(path: str) -> str:
    if is_public_path(path):
        return "public"
    if path == "/wall" or path.startswith("/wall/"):
        return "wall"
    return "read"


def public_callback(app) -> bool:
    """Whether this request calls a public callback (its declared permission is 'public')."""
    if flask.request.path != DISPATCH:
        return False
    body = flask.request.get_json(silent=True)
    entry = app.callback_map.get(body.get("output")) if isinstance(body, dict) and isinstance(body.get("output"), str) else None
    return entry is not None and permission_of(entry.get("callback")) == "public"


def is_public_request() -> bool:
    """Requests the public rate limit counts: public pages, API, downloads and anonymous
    callbacks; never the static bundles (cached by browsers) nor signed-in staff."""
    path = flask.request.path
    if path.startswith(("/assets/", "/_dash-component-suites/")):
        return False
    if settings.mode() == "public":
        return True
    if path == DISPATCH:
        return access.current() is None
    return is_public_path(path)


# --- pages ------------------------------------------------------------------------------

def protect_layout(layout, permission: str, refusal):
    """Wrap a page's layout function: the Dash router renders pages through a callback whose
    input is the pathname, so the layout itself checks the caller. `refusal(signed_in=, lang=)`
    is what a caller without `permission` sees (the layouts' sign-in-required notice)."""
    if not callable(layout):
        return layout

    @functools.wraps(layout)
    def inner(*args, **kwargs):
        if flask.has_request_context() and "cityops_access" not in flask.g:
            # Dash collecting every page skeleton for its validation layout (once, in its own
            # setup hook, before ours): skeletons carry ids, never data.
            return layout(*args, **kwargs)
        try:
            access.require(permission)
        except access.AccessDenied:
            return refusal(signed_in=access.current() is not None, lang=kwargs.get("lang"))
        return layout(*args, **kwargs)
    setattr(inner, ACCESS_ATTR, permission)
    return inner


def protect_pages(refusal) -> None:
    """Wrap the layout of every registered ops page (public pages and the 404 stay open)."""
    import dash
    for page in dash.page_registry.values():
        if page.get("audience") != "ops":
            setattr(page["layout"], ACCESS_ATTR, "public") if callable(page["layout"]) else None
            continue
        page["layout"] = protect_layout(page["layout"], page_permission(page.get("path_template") or page["path"]),
                                        refusal)
