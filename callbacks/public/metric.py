"""Public metric page callbacks: reads only the public snapshot."""
import dash
import pandas as pd
from dash import Input, Output

from callbacks import common
from data import i18n, lookups, repository, settings
from data.i18n import t
from data.web import guard
from layouts import figures, ids
from layouts.public import parts


def public_notes(metric):
    """Approved public annotations for the metric's domain (a strike, a storm), shaded on its
    trend; none from a release published before the table existed."""
    import duckdb

    try:
        return repository.run("public/annotations", domain=metric.domain)
    except duckdb.CatalogException:
        return None


@dash.callback(
    Output(ids.PUBLIC_METRIC_SERIES, "figure"),
    Output(ids.PUBLIC_METRIC_MAP, "figure"),
    Output(ids.PUBLIC_METRIC_TABLE, "children"),
    Output(ids.PUBLIC_METRIC_SUMMARY, "children"),
    Output(ids.PUBLIC_METRIC_SERIES_TEXT, "children"),
    Output(ids.PUBLIC_METRIC_SERIES_TABLE, "children"),
    Output(ids.PUBLIC_METRIC_MAP_TEXT, "children"),
    Input(ids.PUBLIC_METRIC_ID, "data"),
)
@guard.requires("public")
@common.guarded(figures.empty(""), figures.empty(""), None, "message", "", None, "")
def public_metric(page):
    """`page` is {"metric": id, "lang": "en"|"es"} (a bare metric id is read as English)."""
    metric_id, lang = (page.get("metric"), page.get("lang")) if isinstance(page, dict) else (page, "en")
    lang = i18n.valid_lang(lang)
    metric = common.valid_metric(metric_id, public_only=True)
    if metric is None:
        unknown = t("metric_unknown_short", lang)
        return (figures.empty(unknown), figures.empty(unknown), None, unknown + ".", "", None, "")
    k = int(settings.get("suppression_k"))
    names = common.district_names("public")
    names["city"] = t("whole_city", lang)
    grain = common.valid_grain("week", metric, default="week")  # monthly-only sources: by month
    series = repository.run("public/metric_series", metric=metric.id, grain=grain, districts=["city"])
    latest = repository.run("public/metric_map", metric=metric.id, grain="month")
    if latest.empty:  # no month released yet (held back by the auditor, or too short): its latest week
        latest = repository.run("public/metric_map", metric=metric.id, grain=grain)
    series_fig = parts.localize_series(
        figures.with_events(figures.series(series, metric, names), public_notes(metric)), metric, lang)
    city_only = latest.empty and not series.empty  # no district row at any grain: a citywide-only source
    map_fig = (figures.empty(t("map_city_only", lang)) if city_only
               else parts.public_map(lookups.in_layers_of(common.districts("public"), latest["district_id"]),
                                     latest, metric, lang, k))   # the metric's own boundary layer only
    last = series.dropna(subset=["value"]).tail(1)
    summary = ""
    if not last.empty:
        row = last.iloc[0]
        summary = t(i18n.by_grain("city_week", grain), lang, date=i18n.date(row["period"], lang, day=grain == "week"),
                    unit=i18n.metric_unit(metric, lang),
                    value=parts.shown(metric, row["value"], False, k, (row["ci_low"], row["ci_high"]), lang))
        if not pd.isna(row["n"]):
            summary += " " + t("summary_n", lang, n=i18n.integer(int(row["n"]), lang))
        summary += " " + t("summary_complete", lang)
    return (series_fig, map_fig,
            parts.values_table(latest, metric, names, k, caption=t("table_latest", lang), lang=lang),
            summary, parts.series_summary(series, metric, lang, grain),
            parts.values_table(series, metric, names, k, first="period",
                               caption=t(i18n.by_grain("table_city_weeks", grain), lang),
                               lang=lang),
            t("map_city_only", lang) if city_only else parts.map_summary(latest, names, metric, k, lang))
