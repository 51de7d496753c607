"""CityOps: build the Dash app for one mode (ops, public or all) and expose `server`.

    gunicorn app:server                      # mode from CITYOPS_MODE (default: all)
    CITYOPS_MODE=public gunicorn app:server  # the transparency site alone
"""
import dash

import callbacks
from callbacks import auth
from data import compression, plotly_bundle, public_api, public_cache, registry, settings, snapshot
from layouts import shell

MODE = settings.mode()
try:
    registry.metrics()  # validate every metric declaration now: a bad one stops startup
except registry.RegistryError as exc:
    raise SystemExit(f"CityOps cannot start: invalid metric declaration: {exc}") from None

app = dash.Dash(
    __name__,
    use_pages=True,
    pages_folder="",  # pages are imported per mode by shell.load_pages, not by folder scan
    title="CityOps",
    update_title=None,
    suppress_callback_exceptions=False,
    serve_locally=True,
)
shell.load_pages(MODE)
auth.protect_pages()
callbacks.load(MODE)
app.layout = shell.layout
server = app.server
snapshot.install(server)  # one data version per request (and so per callback)
auth.install(app, MODE)  # sign-in, device tokens, CSRF, rate limits, security headers
public_api.register(server, MODE)  # downloads + JSON API (public and all modes only)
shell.install_not_found_status(server)
plotly_bundle.install(server)  # plotly.js with only the trace types CityOps draws
compression.install(server)  # gzip: static bundles once per worker; dynamic responses unless signed in
public_cache.install(app, MODE)  # public responses computed once per data version, shared by all workers

if __name__ == "__main__":  # local development server; production uses gunicorn app:server
    app.run(host=settings.get("host"), port=int(settings.get("port")), debug=False)
