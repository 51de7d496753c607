"""Methodology, generated from the metric registry: definition, source, cadence, suppression
rule, known issues, downloads, and the revision log."""
from datetime import datetime
from pathlib import Path

import dash
import duckdb
import yaml
from dash import dcc, html

from data import i18n, lookups, registry, repository, settings
from data.i18n import metric_description, metric_label, t, valid_lang
from data.snapshot import DataUnavailable
from data.web import public_api
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/methodology"), title=parts.page_title("methodology_title"),
                   name="Methodology", nav="Methodology", audience="public", nav_key="nav_methodology", order=12)

REVISIONS = Path(__file__).with_name("revisions.yaml")


def revisions() -> list[dict]:
    try:
        items = yaml.safe_load(REVISIONS.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [i for i in items if isinstance(i, dict) and {"date", "metrics", "change"} <= set(i)]


def _revision_list(items: list[dict], labels: dict[str, str], lang: str = "en") -> html.Ul:
    return html.Ul([
        html.Li([html.Strong(str(i["date"])), " — ",
                 ", ".join(t("all_measures", lang) if m == "all" else labels.get(m, str(m)) for m in i["metrics"]),
                 ": ", html.Span(str(i.get(f"change_{lang}") or i["change"]).strip(),
                                 lang=None if i.get(f"change_{lang}") or lang == "en" else "en")])
        for i in items
    ]) if items else html.P(t("no_revisions", lang), className="text-muted")


def suppression_rule(k: int, lang: str = "en") -> list:
    return [
        html.H2(t("privacy_title", lang), className="h4"),
        html.Ul([html.Li(t(key, lang, k=k, km1=k - 1)) for key in
                 ("privacy_periods", "privacy_small", "privacy_complementary", "privacy_scores", "privacy_downloads")]),
        html.H3(t("withheld_wording_title", lang), className="h5", id="withheld-wording"),
        html.P(t("withheld_wording", lang, k=k, km1=k - 1), className="public-withheld-wording"),
    ]


def _city_sources() -> dict[str, str] | None:
    """metric id → "source name (licence)" for the metrics this city publishes (from the public
    snapshot: the city's own sources, e.g. a YAML mapping's); None without a snapshot."""
    try:
        frame = repository.run("public/metrics")
    except DataUnavailable:
        return None
    return {row.metric_id: _source_text(row) for row in frame.itertuples() if row.source_name}  # never an internal id


def _source_text(row, lang: str = "en") -> str:
    """ "name, published by X (licence)" from a public metrics row (the mapping's source)."""
    if not row.source_name:
        return ""
    publisher = getattr(row, "publisher", None)
    text = str(row.source_name)
    if isinstance(publisher, str) and publisher:
        text += ", " + t("published_by", lang, publisher=publisher)
    return f"{text} ({row.licence})" if row.licence else text


def _reported_section(lang: str) -> html.Section | None:
    """The figures departments compute themselves (reported measures), with their own method."""
    try:
        frame = repository.run("public/reported_measures")
    except (DataUnavailable, duckdb.Error):
        return None
    if frame.empty:
        return None
    items = []
    for row in frame.itertuples():
        latest = repository.run("public/reported_values", metric=row.metric_id, district="city")
        value_line = None
        complete = latest[~latest["partial"].astype(bool)] if "partial" in latest else latest
        if not complete.empty:   # a period not over yet (a year to date) is never "the latest figure"
            last = complete.iloc[-1]
            value_line = t("reported_latest", lang, value=format(float(last["value"]), str(row.format)),
                           unit=row.unit, period=last["period_label"])
        running = latest[latest["partial"].astype(bool)] if "partial" in latest else latest.iloc[0:0]
        if not running.empty:
            value_line = " ".join(x for x in (value_line, t("reported_partial", lang,
                                  period=running.iloc[-1]["period_label"])) if x)
        grain = (t("reported_grain_fiscal_year", lang, month=i18n.month_name(datetime(2000, int(row.fiscal_year_start), 1), lang))
                 if row.grains == "fiscal_year" else t(f"reported_grain_{row.grains}", lang))
        items.append(html.Section([
            html.H3(str(row.label), className="h5", lang="en"),
            html.P(str(row.description), lang="en") if row.description else None,
            html.P([t("method_label", lang), " ", html.Span(str(row.method), lang="en")]),
            html.P(" ".join(x for x in (grain, value_line) if x)),
            html.P(t("reported_source_line", lang, source=_source_text(row, lang))),
        ], className="method-entry"))
    return html.Section([html.H2(t("reported_title", lang), className="h4"), html.P(t("reported_intro", lang)),
                         *items])


def _entry(metric, lang: str, k: int, log: list[dict], labels: dict[str, str], base: str,
           source: str | None = None) -> html.Section:
    direction = t("higher_better" if metric.direction == "higher" else "lower_better", lang)
    unit = i18n.metric_unit(metric, lang)
    target = (t("target_line", lang, target=parts.value(metric, metric.target, lang), unit=unit,
                direction=direction, warning=parts.value(metric, metric.warning, lang))
              if metric.target is not None else t("no_target_set", lang))
    own = [i for i in log if metric.id in i["metrics"] or "all" in i["metrics"]]
    return html.Section([
        html.H3(dcc.Link(metric_label(metric, lang), href=parts.href(f"/metric/{metric.id}", lang)), className="h5"),
        html.P(metric_description(metric, lang)),
        # the method in the page language (the registry's English, marked so, where a catalogue has none)
        html.P([t("method_label", lang), " ", html.Span(i18n.metric_method(metric, lang),
                                                      lang=None if i18n.has_own(metric, "method", lang) else "en")]),
        html.P(" ".join([t("unit_line", lang, unit=unit, cadence=i18n.cadence(metric.cadence_text, lang)), target,
                         t("method_source_line" if metric.suppress else "method_source_line_open", lang,
                           source=source or t("source_unnamed", lang), k=k)])),
        html.P([t("known_issues", lang), html.Span(i18n.metric_known_issues(metric, lang),
                                                   lang=None if i18n.has_own(metric, "known_issues", lang) else "en")])
        if metric.known_issues else None,
        html.P([t("download_label", lang), " "] + [html.A(fmt.upper(), href=f"{base}/download/{metric.id}.{fmt}",
                                                          className="me-2") for fmt in ("csv", "json", "parquet")],
               className="small"),
        html.Details([html.Summary(t("revision_log", lang)), _revision_list(own, labels, lang)]),
    ], className="method-entry")


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    k = int(settings.get("suppression_k"))
    labels = {m.id: metric_label(m, lang) for m in registry.public_metrics()}
    log = revisions()
    base = public_api.prefix()
    sources = _city_sources()   # only the metrics this city has a source for, named as its own
    shown = {domain: [m for m in registry.by_domain(domain, public_only=True) if sources is None or m.id in sources]
             for domain in registry.DOMAINS}
    sections = [html.Section([html.H2(t(f"domain_{domain}", lang), className="h4"),
                              # as published: the source and cadence of this city's data
                              *[_entry(lookups.published(m, "public"), lang, k, log, labels, base,
                                       (sources or {}).get(m.id))
                                for m in shown[domain]]])
                for domain in registry.DOMAINS if shown[domain]]
    return html.Div(
        [
            parts.language_bar("/methodology", lang),
            html.H1(t("methodology_title", lang)),
            html.P(t("withheld_note", lang, k=k, km1=k - 1), className="public-note"),
            html.P(t("published_line", lang, k=k, km1=k - 1)),
            html.Div(suppression_rule(k, lang)),
            html.P([t("machine_readable", lang), " ",
                    dcc.Link(t("api_name", lang), href=parts.href("/api", lang)), "."]),
            *sections,
            _reported_section(lang),
            html.H2(t("revision_log", lang), className="h4"),
            _revision_list(log, labels, lang),
        ],
        lang=lang,
        className="public-page",
    )
