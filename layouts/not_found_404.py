"""The page shown for any unknown path, in the page's language (``?lang=``); under /public it
leads back to the public dashboard, elsewhere to the start page."""
import dash
from dash import dcc, html

from data.i18n import t, valid_lang
from layouts.public import parts

dash.register_page(__name__, path="/404", title=parts.page_title("not_found_title"))


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    if lang != "en" or parts.router_input("pathname").startswith("/public"):
        back = dcc.Link(t("not_found_public", lang), href=parts.href("/", lang))
    else:
        back = dcc.Link(t("not_found_start", lang), href="/")
    return html.Div([html.H1(t("not_found_title", lang)), html.P(t("not_found_text", lang)), back],
                    className="not-found", lang=lang)
