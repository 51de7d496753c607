"""The HTTP surface of CityOps under Dash: sign-in, request hooks (CSRF, limits, security
headers), the downloads and the public API, compression, the partial plotly.js bundle and
the public response cache. :func:`install` puts all of it on the app, in the one order the
hooks depend on.

=================  ============================================================
guard              who may call what: ``requires`` / ``check`` for callbacks, the page guard
sign_in            who is calling: ``/login``, device tokens, a trusted proxy header
config             the Flask server's settings, the proxy fix, Dash's embedded config
hooks              before / after every request, errors, the 404 status of unknown pages
router             every route besides Dash's: sign-in, ops downloads, the public API
exports            the ops site's downloads (explorer, district profile, weekly briefing)
public_api         the public JSON API and downloads
compression        gzip of responses
plotly_bundle      plotly.js with only the trace types CityOps draws
public_cache       public responses computed once per data version, shared by all workers
=================  ============================================================
"""
from __future__ import annotations

from data import release_alert, snapshot
from data.web import compression, config, guard, hooks, plotly_bundle, public_cache, router


def install(app, mode: str, *, refusal, outlines) -> None:
    """Put the HTTP surface of `mode` on the Dash `app` (after its pages and callbacks are
    loaded). `refusal(signed_in=, lang=)`: what an ops page shows a caller who may not open it
    (layouts.components.sign_in_required); `outlines(districts) -> (key, bytes)`: the district
    outlines as GeoJSON (layouts.figures.geometry_json).

    Order matters: Flask runs ``before_request`` hooks in the order they are added and
    ``after_request`` hooks in reverse, so the snapshot pin comes first, the caller is known
    before the public API's and the cache's hooks run, and compression sees the final body."""
    server = app.server
    guard.protect_pages(refusal)
    snapshot.install(server)  # one data version per request (and so per callback)
    snapshot.on_fallback(release_alert.check_soon)  # serving an older release opens an alert
    config.install(app, mode)
    hooks.install(app, mode)  # the caller, CSRF, rate limits, security headers, errors
    router.install(app, mode, outlines=outlines)
    hooks.not_found_status(server)
    plotly_bundle.install(server)
    compression.install(server)  # gzip: static bundles once per worker; dynamic responses unless signed in
    public_cache.install(app, mode)  # public and all modes only
