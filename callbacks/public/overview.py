"""Public overview callbacks: reads only the public snapshot."""
import dash
from dash import Input, Output, State

from callbacks import auth, common
from data import i18n
from layouts import ids
from layouts.public import parts


@dash.callback(Output(ids.PUBLIC_KPIS, "children"), Input(ids.SHELL_LOCATION, "pathname"),
               State(ids.PUBLIC_LANG, "data"))
@auth.requires("public")
@common.guarded("message")
def public_kpis(_pathname, lang="en"):
    """The city's headline cards in the page language, each linking to its metric page."""
    lang = i18n.valid_lang(lang)
    return common.kpi_cards(common.available_metrics("public", public_only=True), district="city", grain="week",
                            db="public", lang=lang,
                            href=lambda metric: parts.href(f"/metric/{metric.id}", lang))
