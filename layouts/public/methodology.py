"""Methodology, generated from the metric registry."""
import dash
from dash import dcc, html

from data import registry, settings
from layouts.shell import public_path

dash.register_page(__name__, path=public_path("/methodology"), title="Methodology — CityOps",
                   name="Methodology", nav="Methodology", audience="public", order=12)


def layout(**_ignored):
    k = settings.get("suppression_k")
    sections = []
    for domain in registry.DOMAINS:
        items = []
        for metric in registry.by_domain(domain, public_only=True):
            target = (f"Target {metric.format_value(metric.target)} {metric.unit} "
                      f"({metric.direction} is better); warning at {metric.format_value(metric.warning)}."
                      if metric.target is not None else "No target is set.")
            items.append(html.Section([
                html.H3(dcc.Link(metric.label, href=public_path(f"/metric/{metric.id}")), className="h5"),
                html.P(metric.description),
                html.P(["Method: ", metric.method]),
                html.P(f"Unit: {metric.unit}. Expected update: every {metric.cadence_text}. {target} "
                       f"Source: {metric.source}."),
                html.P(["Known issues: ", metric.known_issues]) if metric.known_issues else None,
            ], className="method-entry"))
        sections.append(html.Section([html.H2(registry.DOMAIN_LABELS[domain], className="h4"), *items]))
    return html.Div(
        [
            html.H1("Methodology"),
            html.P(f"Published figures are weekly and monthly. A count between 1 and {k - 1}, and any "
                   f"rate or average computed from one, is not shown and reads 'fewer than {k}'."),
            *sections,
        ],
        lang="en",
    )
