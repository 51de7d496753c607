"""One public metric: weekly trend, district map, their text and table alternatives, method
and downloads. ``?lang=es`` for Spanish."""
import dash
from dash import dcc, html

from data import i18n, lookups, settings
from data.i18n import by_grain, metric_description, metric_label, t, valid_lang
from data.web import public_api
from layouts import components, ids
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path_template=public_path("/metric/<metric_id>"),
                   title=parts.page_title("metric_page_title"), name="Metric", audience="public", order=11)


def _downloads(metric_id: str, lang: str) -> html.Ul:
    base = public_api.prefix()
    return html.Ul(
        [html.Li(html.A(fmt.upper(), href=f"{base}/download/{metric_id}.{fmt}"))
         for fmt in ("csv", "json", "parquet")]
        + [html.Li(dcc.Link(t("link_api", lang), href=parts.href("/api", lang)))],
        className="public-downloads")


def method_text(metric, lang: str) -> html.P:
    """The method in the page language (in English, marked as such, where a catalogue has none)."""
    own = i18n.has_own(metric, "method", lang)
    return html.P(i18n.metric_method(metric, lang), lang=None if own else "en")


def layout(metric_id=None, lang=None, **_ignored):
    lang = valid_lang(lang)
    metric = lookups.valid_metric(metric_id, public_only=True)
    k = int(settings.get("suppression_k"))
    if metric is not None:
        metric = lookups.published(metric, "public")
    source = ((parts.source_names() or {}).get(metric.id) or t("source_unnamed", lang)) if metric else ""
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
                                          config=parts.graph_config(lang))),
                    html.P(id=ids.PUBLIC_METRIC_SERIES_TEXT, className="chart-summary"),
                    html.Details([html.Summary(t("trend_table", lang)),
                                  html.Div(id=ids.PUBLIC_METRIC_SERIES_TABLE)]),
                    html.H2(t("by_district", lang), className="h4 mt-3"),
                    dcc.Loading(dcc.Graph(id=ids.PUBLIC_METRIC_MAP, style={"height": "460px"},
                                          config=parts.graph_config(lang))),
                    html.P(id=ids.PUBLIC_METRIC_MAP_TEXT, className="chart-summary"),
                    html.Details([html.Summary(t("map_table", lang)),
                                  html.Div(id=ids.PUBLIC_METRIC_TABLE)]),
                    parts.withheld_note(k, lang),
                    html.H2(t("method", lang), className="h4 mt-3"),
                    method_text(metric, lang) if metric else None,
                    html.P(t("source_line", lang, source=source, cadence=i18n.cadence(metric.cadence_text, lang))
                           if metric else "", className="small public-source"),
                    html.P([t("known_issues", lang),
                            html.Span(i18n.metric_known_issues(metric, lang),
                                      lang=None if i18n.has_own(metric, "known_issues", lang) else "en")]
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
