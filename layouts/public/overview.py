"""Public overview: the city's headline numbers in plain language, each dated. ``?lang=es``."""
import dash
from dash import dcc, html

from data.i18n import t, valid_lang
from layouts import ids
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/"), title=parts.page_title("overview_title"),
                   name="Public overview", nav="Public", audience="public", nav_key="nav_public", order=10)


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    return html.Div(
        [
            parts.language_bar("/", lang),
            html.H1(t("overview_title", lang)),
            html.P(t("overview_intro", lang)),
            html.Ul([
                html.Li(dcc.Link(t("link_district", lang), href=parts.href("/district", lang))),
                html.Li(dcc.Link(t("link_methodology", lang), href=parts.href("/methodology", lang))),
                html.Li(dcc.Link(t("link_api", lang), href=parts.href("/api", lang))),
            ], className="public-links"),
            dcc.Loading(html.Div(id=ids.PUBLIC_KPIS, className="kpi-grid")),
        ],
        lang=lang,
        className="public-page",
    )
