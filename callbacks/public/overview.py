"""Public overview callbacks: reads only the public snapshot."""
import dash
import duckdb
import pandas as pd
from dash import Input, Output, State

from callbacks import common
from data import i18n, repository
from data.web import guard
from layouts import ids
from layouts.public import parts


@dash.callback(Output(ids.PUBLIC_KPIS, "children"), Input(ids.SHELL_LOCATION, "pathname"),
               State(ids.PUBLIC_LANG, "data"))
@guard.requires("public")
@common.guarded("message")
def public_kpis(_pathname, lang="en"):
    """The city's headline cards in the page language, each linking to its metric page."""
    lang = i18n.valid_lang(lang)
    cards = common.kpi_cards(common.available_metrics("public", public_only=True), district="city", grain="week",
                             db="public", lang=lang,
                             href=lambda metric: parts.href(f"/metric/{metric.id}", lang))
    try:   # figures departments report themselves (published as reported)
        reported = repository.run("public/reported_measures")
    except duckdb.Error:   # a snapshot written before reported measures existed
        reported = pd.DataFrame()
    shown = cards + ([parts.reported_cards(reported, lang)] if not reported.empty else [])
    if shown:
        return shown
    # nothing published yet (e.g. a snapshot feed with one reading): say why, not an empty page
    try:
        readings = repository.run("public/source_readings")
    except duckdb.Error:   # a snapshot written before the table existed
        readings = pd.DataFrame()
    return parts.readings_notice(readings, lang)
