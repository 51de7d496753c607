"""Every route of the Flask server besides Dash's own pages and callbacks, in one table:
sign-in (ops site), the ops site's downloads (data.web.exports) and the public JSON API and
downloads (data.web.public_api, public site)."""
from __future__ import annotations

import functools

from data import district_profile, settings
from data.web import public_api, sign_in
from data.web.extensions import limiter


def install(app, mode: str, *, outlines) -> None:
    """Add the routes `mode` serves to `app`'s server. `outlines(districts) -> (key, bytes)`:
    the district outlines as GeoJSON, for the explorer's map (layouts.figures.geometry_json)."""
    server = app.server
    if mode != "public":
        server.add_url_rule("/login", "cityops_login",
                            limiter.limit(lambda: settings.get("login_rate_limit"), methods=["POST"])(sign_in.login),
                            methods=["GET", "POST"])
        server.add_url_rule("/logout", "cityops_logout", sign_in.logout, methods=["POST"])
        for rule, endpoint, view in ops_downloads(outlines):
            server.add_url_rule(rule, endpoint, view, methods=["GET"])
    public_api.register(server, mode)  # public and all modes only


def ops_downloads(outlines) -> tuple:
    """(rule, endpoint, view) of every download of the ops site. Endpoints start with
    ``cityops_`` (data.web.hooks.not_found_status leaves their status alone)."""
    from data import explore  # late: the public process never loads the ops site's downloads
    from data.web import exports
    return (
        (explore.EXPORT_CSV, "cityops_explore_csv", exports.explore_csv),
        (explore.EXPORT_XLSX, "cityops_explore_xlsx", exports.explore_xlsx),
        # a partial with the view's name (Flask-Limiter names every view it checks)
        (explore.GEOMETRY, "cityops_explore_geometry",
         functools.update_wrapper(functools.partial(exports.explore_geometry, outlines), exports.explore_geometry)),
        (district_profile.RECORDS_EXPORT, "cityops_district_requests", exports.district_requests),
        (district_profile.SERIES_EXPORT + ".csv", "cityops_district_series_csv", exports.district_series_csv),
        (district_profile.SERIES_EXPORT + ".xlsx", "cityops_district_series_xlsx", exports.district_series_xlsx),
        (district_profile.BRIEFING_PAGE, "cityops_district_briefing", exports.briefing_page),
        (district_profile.BRIEFING_PDF, "cityops_district_briefing_pdf", exports.briefing_pdf),
    )
