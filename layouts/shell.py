"""The app shell (navigation, data-status line, page container) and the page loader.

Pages live in ``layouts/ops`` (operations site) and ``layouts/public`` (transparency site).
``load_pages(mode)`` imports only the packages of the given mode, so a public process never
even imports an ops page; the navigation is built from ``dash.page_registry``.
"""
from __future__ import annotations

import importlib
import pkgutil

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from data import access, i18n, settings
from layouts import ids


def public_path(path: str) -> str:
    """Public pages sit at the root of the public site, and under /public in the demo."""
    if settings.mode() == "public":
        return path
    return "/public" if path == "/" else "/public" + path


def load_pages(mode: str) -> list[str]:
    """Import the page modules of `mode` (they register themselves) plus the 404 page."""
    loaded = []
    for audience in settings.AUDIENCES[mode]:
        package = importlib.import_module(f"layouts.{audience}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"layouts.{audience}.{info.name}")
            loaded.append(module.__name__)
    loaded.append(importlib.import_module("layouts.not_found_404").__name__)
    for name in loaded:  # what Dash's own folder scanner does after importing a page
        page = dash.page_registry.get(name)
        if page is not None and not page.get("supplied_layout"):
            page["layout"] = importlib.import_module(name).layout
    return loaded


def nav_links(signed_in: bool, lang: str = i18n.DEFAULT, principal=None) -> list:
    """The navigation: ops pages for signed-in callers only; public pages in the page's
    language (labels from the catalogue, links keep ``?lang=``). A signed-in caller who may
    read the ops pages gets "My district" (their district's page, or the chooser of theirs);
    the public site's own district page is then labelled as the public one."""
    from data.district_profile import my_district_path

    links = []
    mine = principal is not None and principal.kind == "user" and principal.can("read")
    for page in dash.page_registry.values():
        if not page.get("nav") or (page.get("audience") == "ops" and not signed_in):
            continue
        label, href = page["nav"], page["relative_path"]
        if page.get("nav_key"):
            label = i18n.t(page["nav_key"], lang)
            href += "" if lang == i18n.DEFAULT else f"?lang={lang}"
            if mine and page["nav_key"] == "nav_district":
                label = f"Public site: {label}"
        links.append(dbc.NavItem(dbc.NavLink(label, href=href, active="exact")))
        if mine and page.get("audience") == "ops" and page["relative_path"] == "/":
            links.append(dbc.NavItem(dbc.NavLink("My district", href=my_district_path(principal), active="exact",
                                                 id=ids.SHELL_MY_DISTRICT)))
    return links


def brand(mode: str, lang: str = i18n.DEFAULT) -> str:
    return i18n.t("brand_public", lang) if mode == "public" else "CityOps"


def account(principal, mode: str, lang: str = i18n.DEFAULT) -> list:
    """Who is signed in, and a sign-out button (a POST with the CSRF token); or a sign-in link
    (in the page's language: a public page in Spanish says "Iniciar sesión")."""
    if mode == "public":
        return []
    if principal is None:
        return [html.A(i18n.t("sign_in", lang), href="/login", className="nav-link ms-3")]
    if principal.kind != "user":
        return [html.Span(f"Screen {principal.name}", className="navbar-text small ms-3")]
    from flask_wtf.csrf import generate_csrf
    return [html.Form([dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                       html.Span(principal.name, title=f"signed in as {principal.name} ({principal.role})",
                                 className="navbar-text small ms-3 me-2"),
                       html.Button("Sign out", type="submit", className="btn btn-sm btn-outline-secondary")],
                      method="POST", action="/logout", className="d-flex align-items-center")]


def layout():
    mode = settings.mode()
    principal = access.current()
    return html.Div(
        [
            dcc.Location(id=ids.SHELL_LOCATION),
            dcc.Interval(id=ids.SHELL_POLL, interval=15_000),
            dcc.Store(id=ids.SHELL_LANG),
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand(brand(mode), href="/", id=ids.SHELL_BRAND),
                        dbc.Nav(nav_links(principal is not None or mode == "public", principal=principal), id=ids.SHELL_NAV,
                                navbar=True, className="me-auto"),
                        html.Span(id=ids.SHELL_STATUS, className="navbar-text small", **{"aria-live": "polite"}),
                        html.Div(account(principal, mode), id=ids.SHELL_ACCOUNT, className="d-flex"),
                    ],
                    fluid=True,
                ),
                className="app-navbar",
                color="light",
                dark=False,
            ),
            html.Main(dbc.Container(dash.page_container, fluid=True, className="py-3"), className="app-main"),
        ]
    )
