"""Methodology, generated from the metric registry: definition, source, cadence, suppression
rule, known issues, downloads, and the revision log."""
from pathlib import Path

import dash
import yaml
from dash import dcc, html

from data import public_api, registry, settings
from data.i18n import metric_description, metric_label, t, valid_lang
from layouts.public import parts
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/methodology"), title="Methodology — CityOps",
                   name="Methodology", nav="Methodology", audience="public", order=12)

REVISIONS = Path(__file__).with_name("revisions.yaml")


def revisions() -> list[dict]:
    try:
        items = yaml.safe_load(REVISIONS.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [i for i in items if isinstance(i, dict) and {"date", "metrics", "change"} <= set(i)]


def _revision_list(items: list[dict], labels: dict[str, str]) -> html.Ul:
    return html.Ul([
        html.Li([html.Strong(str(i["date"])), " — ",
                 ", ".join("all measures" if m == "all" else labels.get(m, str(m)) for m in i["metrics"]),
                 ": ", str(i["change"]).strip()])
        for i in items
    ]) if items else html.P("No revisions yet.", className="text-muted")


def suppression_rule(k: int) -> list:
    return [
        html.H2("How privacy is protected", className="h4"),
        html.Ul([
            html.Li("Figures are published for complete weeks and complete months only, so nobody can "
                    "subtract two overlapping periods to isolate a few records."),
            html.Li(f"A count between 1 and {k - 1}, and any rate, average or median computed from one, is "
                    f"withheld and reads 'fewer than {k}'. Zero is shown as zero."),
            html.Li("When a district's figure is withheld and the city total is published, the smallest other "
                    "district with records is withheld too, so the withheld figure cannot be worked out by "
                    "subtracting the other districts from the city total. The same holds across weeks and months: "
                    "where a month is exactly four or five whole weeks, its figures are protected together with "
                    "theirs. Withheld cells carry the same mark whichever the reason."),
            html.Li(f"The satisfaction score is published only when at least {k} residents answered, with a 95 % "
                    "confidence interval (Student t) around the average."),
            html.Li("Downloads and the API leave withheld figures empty (null) with suppressed = true. No "
                    "addresses, coordinates, free text or single requests are published."),
        ]),
    ]


def layout(lang=None, **_ignored):
    lang = valid_lang(lang)
    k = int(settings.get("suppression_k"))
    labels = {m.id: m.label for m in registry.public_metrics()}
    log = revisions()
    base = public_api.prefix()
    sections = []
    for domain in registry.DOMAINS:
        items = []
        for metric in registry.by_domain(domain, public_only=True):
            target = (f"Target {metric.format_value(metric.target)} {metric.unit} "
                      f"({metric.direction} is better); warning at {metric.format_value(metric.warning)}."
                      if metric.target is not None else "No target is set.")
            own = [i for i in log if metric.id in i["metrics"] or "all" in i["metrics"]]
            items.append(html.Section([
                html.H3(dcc.Link(metric_label(metric, lang), href=parts.href(f"/metric/{metric.id}", lang)),
                        className="h5"),
                html.P(metric_description(metric, lang)),
                html.P(["Method: ", metric.method], lang="en"),
                html.P(lang="en", children=f"Unit: {metric.unit}. Expected update: every {metric.cadence_text}. {target} "
                       f"Source: {metric.source}. Suppression: fewer than {k} records → withheld."),
                html.P(["Known issues: ", metric.known_issues]) if metric.known_issues else None,
                html.P(["Download: "] + [html.A(fmt.upper(), href=f"{base}/download/{metric.id}.{fmt}",
                                                className="me-2") for fmt in ("csv", "json", "parquet")],
                       className="small"),
                html.Details([html.Summary("Revision log"), _revision_list(own, labels)]),
            ], className="method-entry"))
        sections.append(html.Section([html.H2(registry.DOMAIN_LABELS[domain], className="h4"), *items]))
    return html.Div(
        [
            parts.language_bar("/methodology", lang),
            html.H1("Methodology" if lang == "en" else "Metodología"),
            html.P(t("withheld_note", lang, k=k), className="public-note"),
            html.P(lang="en", children=f"Published figures are weekly and monthly. A count between 1 and {k - 1}, and any "
                   f"rate or average computed from one, is not shown and reads 'fewer than {k}'."),
            html.Div(suppression_rule(k), lang="en"),
            html.P(["Machine-readable: ", html.A("JSON API (OpenAPI description)",
                                                 href=f"{base}{public_api.API}/openapi.json"), "."]),
            *sections,
            html.H2("Revision log", className="h4"),
            _revision_list(log, labels),
        ],
        lang=lang,
        className="public-page",
    )
