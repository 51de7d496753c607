"""CityOps: build the Dash app for one mode (ops, public or all) and expose `server`.

    gunicorn app:server                      # mode from CITYOPS_MODE (default: all)
    CITYOPS_MODE=public gunicorn app:server  # the transparency site alone
"""
import dash

import callbacks
from data import registry, settings, web
from layouts import components, figures, shell

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
callbacks.load(MODE)
app.layout = shell.layout
server = app.server
# sign-in, CSRF, rate limits, security headers, downloads, the public API, gzip, public cache
web.install(app, MODE, refusal=components.sign_in_required, outlines=figures.geometry_json)

if __name__ == "__main__":  # local development server; production uses gunicorn app:server
    app.run(host=settings.get("host"), port=int(settings.get("port")), debug=False)
