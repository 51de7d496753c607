"""The page shown for any unknown path, in the page's language (``?lang=``); under /public it
leads back to the public dashboard, elsewhere to the start page."""
import dash
from dash import dcc, html

from data.i18n import t, valid_lang

dash.register_page(__name__, path="/404", title="Page not found — CityOps")


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    public = lang != "en" or _on_public_path()
    back = dcc.Link(t("not_found_public", lang), href="/public" + (f"?lang={lang}" if lang != "en" else "")) \
        if public else dcc.Link(t("not_found_start", lang), href="/")
    return html.Div([html.H1(t("not_found_title", lang)), html.P(t("not_found_text", lang)), back],
                    className="not-found", lang=lang)


def _on_public_path() -> bool:
    import flask
    if not flask.has_request_context():
        return False
    body = flask.request.get_json(silent=True) or {}
    inputs = body.get("inputs") or []
    path = next((i.get("value") for i in inputs if isinstance(i, dict) and i.get("property") == "pathname"), "")
    return isinstance(path, str) and path.startswith("/public")
