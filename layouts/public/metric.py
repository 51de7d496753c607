"""One public metric: weekly trend, district map, their text and table alternatives, method
and downloads. ``?lang=es`` for Spanish."""
import dash
from dash import dcc, html

from data import lookups, public_api, settings
from data.i18n import by_grain, metric_description, metric_label, t, valid_lang
from layouts import components, ids
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path_template=public_path("/metric/<metric_id>"),
                   title="Metric — CityOps", name="Metric", audience="public", order=11)


def _downloads(metric_id: str, lang: str) -> html.Ul:
    base = public_api.prefix()
    return html.Ul(
        [html.Li(html.A(fmt.upper(), href=f"{base}/download/{metric_id}.{fmt}"))
         for fmt in ("csv", "json", "parquet")]
        + [html.Li(html.A(t("link_api", lang), href=f"{base}{public_api.API}/openapi.json"))],
        className="public-downloads")


def layout(metric_id=None, lang=None, **_ignored):
    lang = valid_lang(lang)
    metric = lookups.valid_metric(metric_id, public_only=True)
    k = int(settings.get("suppression_k"))
    missing = None
    if metric is None:  # the skeleton stays (hidden) so every callback id exists
        missing = html.Div([html.H1(t("metric_not_found", lang)),
                            components.notice(t("metric_unknown", lang, metric=repr(str(metric_id)[:40]))),
                            dcc.Link(t("see_all", lang), href=parts.href("/methodology", lang))])
    return html.Div(
        [
            parts.language_bar(f"/metric/{metric.id if metric else 'none'}", lang),
            missing,
            html.Div(
                [
                    dcc.Store(id=ids.PUBLIC_METRIC_ID, data={"metric": metric.id if metric else None, "lang": lang}),
                    html.H1(metric_label(metric, lang) if metric else ""),
                    html.P(metric_description(metric, lang) if metric else ""),
                    html.Div(id=ids.PUBLIC_METRIC_SUMMARY, className="lead", **{"aria-live": "polite"}),
                    html.H2(t(by_grain("trend", metric.grains[0] if metric else "week"), lang), className="h4"),
                    dcc.Loading(dcc.Graph(id=ids.PUBLIC_METRIC_SERIES, style={"height": "360px"},
                                          config={"displaylogo": False})),
                    html.P(id=ids.PUBLIC_METRIC_SERIES_TEXT, className="chart-summary"),
                    html.Details([html.Summary(t("trend_table", lang)),
                                  html.Div(id=ids.PUBLIC_METRIC_SERIES_TABLE)]),
                    html.H2(t("by_district", lang), className="h4 mt-3"),
                    dcc.Loading(dcc.Graph(id=ids.PUBLIC_METRIC_MAP, style={"height": "460px"},
                                          config={"displaylogo": False})),
                    html.P(id=ids.PUBLIC_METRIC_MAP_TEXT, className="chart-summary"),
                    html.Details([html.Summary(t("map_table", lang)),
                                  html.Div(id=ids.PUBLIC_METRIC_TABLE)]),
                    parts.withheld_note(k, lang),
                    html.H2(t("method", lang), className="h4 mt-3"),
                    html.P(metric.method if metric else "", lang="en"),
                    html.P(t("source_line", lang, source=metric.source, cadence=metric.cadence_text) if metric else "",
                           className="small"),
                    html.P([t("known_issues", lang), html.Span(metric.known_issues, lang="en")]
                           if metric and metric.known_issues else ""),
                    html.H2(t("downloads", lang), className="h4"),
                    html.P(t("downloads_intro", lang), className="small"),
                    _downloads(metric.id, lang) if metric else None,
                    html.P(dcc.Link(t("methodology_link", lang), href=parts.href("/methodology", lang))),
                ],
                hidden=metric is None,
            ),
        ],
        lang=lang,
        className="public-page",
    )
