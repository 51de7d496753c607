"""My district callbacks: one district's scorecard against the city (public snapshot only)."""
import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, dcc, html

from callbacks import common
from data import i18n, registry, repository, settings
from data.i18n import t
from data.web import guard
from layouts import components, ids
from layouts.public import parts


def _resolve(value, names: dict[str, str]) -> str | None:
    """A district id from an id or a name (any case); None for anything else."""
    if not isinstance(value, str) or len(value) > 80:
        return None
    value = value.strip()
    if value in names and value != "city":
        return value
    by_name = {name.casefold(): d for d, name in names.items() if d != "city"}
    return by_name.get(value.casefold())


@dash.callback(
    Output(ids.PUBLIC_DISTRICT_CARD, "children"),
    Output(ids.PUBLIC_DISTRICT_SUMMARY, "children"),
    Output(ids.PUBLIC_DISTRICT_CHOSEN, "data"),
    Input(ids.PUBLIC_DISTRICT_PICK, "value"),
    State(ids.PUBLIC_LANG, "data"),
)
@guard.requires("public")
@common.guarded("message", "", None)
def public_district(district, lang="en"):
    """The scorecard of the district typed or picked (an id or a name), and that district's
    id for the address bar (``?district=<id>``, set in the browser: a link to this view)."""
    card, summary, chosen = _scorecard(district, lang)
    return card, summary, ({"district": chosen} if chosen else None)


# the district shown goes into the address bar (purely the URL: no data)
dash.clientside_callback(ClientsideFunction(namespace="cityops", function_name="districtInUrl"),
                         Output(ids.PUBLIC_DISTRICT_URL, "data"), Input(ids.PUBLIC_DISTRICT_CHOSEN, "data"))


def _scorecard(district, lang):
    lang = i18n.valid_lang(lang)
    names = common.district_names("public")
    district = _resolve(district, names)
    if district is None:
        return components.notice(t("district_pick", lang)), "", None
    k = int(settings.get("suppression_k"))
    frame = repository.run("public/district_scorecard", grain="month", district=district)
    weeks = repository.run("public/district_scorecard", grain="week", district=district)
    rows, meets, with_target = [], 0, 0
    for metric in registry.public_metrics():
        part = frame[frame["metric_id"] == metric.id].set_index("district_id")
        if part.empty:  # no month released yet (held back by the release auditor): its latest week
            part = weeks[weeks["metric_id"] == metric.id].set_index("district_id")
        if part.empty:
            continue
        cells = {}
        for d in (district, "city"):
            if d not in part.index:
                cells[d] = (t("no_data", lang), None)
                continue
            r = part.loc[d]
            suppressed = bool(r["suppressed"])
            cells[d] = (parts.shown(metric, r["value"], suppressed, k, (r["ci_low"], r["ci_high"]), lang),
                        None if suppressed or pd.isna(r["value"]) else float(r["value"]))
        value = cells[district][1]
        status = metric.status(value)
        if metric.target is not None and value is not None:
            with_target += 1
            meets += status == "ok"
        labels = {"unit": t("col_unit", lang), "district": names[district], "city": t("col_city", lang),
                  "target": t("col_target", lang), "month": t("col_month", lang)}
        rows.append(html.Tr([
            html.Th(dcc.Link(i18n.metric_label(metric, lang), href=parts.href(f"/metric/{metric.id}", lang)),
                    scope="row"),
            # data-label: the column's title, shown beside each cell when the table reflows on a phone
            html.Td(i18n.metric_unit(metric, lang), **{"data-label": labels["unit"]}),
            html.Td(cells[district][0], **{"data-label": labels["district"]}),
            html.Td(cells["city"][0], **{"data-label": labels["city"]}),
            html.Td(components.status_badge(status, lang), **{"data-label": labels["target"]}),
            html.Td(i18n.date(part["period"].iloc[0], lang, day=False), **{"data-label": labels["month"]}),
        ]))
    if not rows:
        return html.P(t("no_values", lang), className="text-muted"), "", district
    head = html.Thead(html.Tr([html.Th(text, scope="col") for text in (
        t("col_measure", lang), t("col_unit", lang), names[district], t("col_city", lang),
        t("col_target", lang), t("col_month", lang))]))
    table = html.Div(html.Table([html.Caption(t("district_caption", lang, district=names[district])), head,
                                 html.Tbody(rows)], className="table table-sm table-striped public-scorecard public-reflow"),
                     className="public-table")
    summary = (t("district_summary", lang, district=names[district], meets=meets, total=with_target)
               if with_target else t("district_summary_none", lang, district=names[district]))
    return table, summary, district
