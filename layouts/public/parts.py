"""Building blocks of the public pages: withheld-cell wording, the district map with withheld
districts marked, the text summaries and tables that stand in for every chart, and the
language helpers (strings come from the ``data.i18n`` catalogue). A helper module: it
registers no page."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from natsort import natsort_keygen, ns

from data import i18n
from data.i18n import t
from data.registry import Metric

natsort_key = natsort_keygen(alg=ns.IGNORECASE)  # "CD 2" before "CD 10"; "Jamaica" before "JFK"
from layouts import components, figures, ids
from layouts.shell import public_path

WITHHELD_COLOUR = "rgba(73,80,87,0.55)"


# --------------------------------------------------------------------------- language
def request_lang() -> str:
    """The page language of the request being answered: ``?lang=`` of a page's own URL, or of
    the ``search`` input of Dash's router callback (how a page is rendered after the first)."""
    from urllib.parse import parse_qs

    import flask

    if not flask.has_request_context():
        return i18n.DEFAULT
    if flask.request.args.get("lang"):
        return i18n.valid_lang(flask.request.args.get("lang"))
    return i18n.valid_lang(parse_qs(router_input("search").lstrip("?")).get("lang", [None])[0])


def router_input(name: str) -> str:
    """A string input (``pathname``, ``search``) of the Dash router callback being answered, or ""."""
    import flask

    if not flask.has_request_context():
        return ""
    body = flask.request.get_json(silent=True) if flask.request.is_json else None
    for item in (body or {}).get("inputs") or []:
        if isinstance(item, dict) and item.get("property") == name and isinstance(item.get("value"), str):
            return item["value"]
    return ""


def page_title(key: str):
    """A page title for ``dash.register_page`` in the page's language (the browser tab, the
    bookmark and the shared link's preview): Dash calls it while it answers the request."""
    def title(**_path_variables) -> str:
        return f"{t(key, request_lang())} — CityOps"
    return title


def href(path: str, lang: str) -> str:
    """A public link that keeps the page language."""
    url = public_path(path)
    if lang == i18n.DEFAULT:
        return url
    return url + ("&" if "?" in url else "?") + f"lang={lang}"


def language_bar(path: str, lang: str) -> html.Div:
    """The store the page's callbacks read the language from, and a link to the other language."""
    other = "es" if lang == "en" else "en"
    url = public_path(path) + ("&" if "?" in path else "?") + f"lang={other}"
    return html.Div([dcc.Store(id=ids.PUBLIC_LANG, data=lang),
                     html.A(t("language_switch", lang), href=url, hrefLang=other, lang=other,
                            className="public-lang-switch")], className="public-lang")


# --------------------------------------------------------------------------- values
def withheld(k: int, lang: str = "en") -> str:
    return t("withheld", lang, k=k)


def withheld_note(k: int, lang: str = "en") -> html.P:
    return html.P(t("withheld_note", lang, k=k, km1=k - 1), className="small public-note")


def value(metric: Metric, number, lang: str = "en") -> str:
    """A figure in the metric's format and the page locale's separators (Babel)."""
    return i18n.metric_value(metric, number, lang)


def shown(metric: Metric, number, suppressed, k: int, ci=None, lang: str = "en") -> str:
    if bool(suppressed):
        return withheld(k, lang)
    if number is None or pd.isna(number):
        return t("no_data", lang)
    text = value(metric, float(number), lang)
    if ci is not None and not any(pd.isna(c) for c in ci):
        text += f" ({t('ci', lang)} {value(metric, float(ci[0]), lang)}–{value(metric, float(ci[1]), lang)})"
    return text


def source_names() -> dict[str, str] | None:
    """metric id → the published name of its source ("source name (licence)") for the metrics
    this city publishes (from the public snapshot: the city's own sources, e.g. a YAML
    mapping's); never an internal source id. None without a snapshot."""
    from data import repository
    from data.snapshot import DataUnavailable

    try:
        frame = repository.run("public/metrics")
    except DataUnavailable:
        return None
    return {row.metric_id: (f"{row.source_name} ({row.licence})" if row.licence else str(row.source_name))
            for row in frame.itertuples() if row.source_name}


def natural_key(text) -> list:
    """Sort key that orders numbers inside names by value: "CD 2" before "CD 10"."""
    return natsort_key(str(text))


def graph_config(lang: str) -> dict:
    """A dcc.Graph config in the page language (Plotly locale: months, separators, mode bar)."""
    return i18n.plotly_config(lang, displaylogo=False, responsive=True)


def localize_series(fig: dict, metric: Metric, lang: str) -> dict:
    """The public trend chart in the page language: axis title, hover text and target label
    use the translated unit and the locale's number format (Plotly formats with the locale's
    separators, see graph_config); axis labels never clip on a phone (automargin)."""
    unit = i18n.metric_unit(metric, lang)
    for trace in fig.get("data", []):
        trace["hovertemplate"] = "%{x|%d %b %Y}<br>%{y:" + metric.format + "} " + unit + "<extra>%{fullData.name}</extra>"
    layout = fig.setdefault("layout", {})
    layout["yaxis"] = {**layout.get("yaxis", {}), "title": {"text": unit}, "automargin": True}
    layout["xaxis"] = {**layout.get("xaxis", {}), "automargin": True, "tickformat": "%-d %b"}  # "20 sept", not "sept 20"
    layout["legend"] = {"orientation": "h", "y": -0.2, "x": 0}
    layout["margin"] = {"l": 8, "r": 8, "t": 24, "b": 8}
    for note in layout.get("annotations", []) or []:
        if str(note.get("text", "")).startswith("target "):
            note["text"] = t("kpi_target", lang, target=value(metric, metric.target, lang), unit=unit)
    return fig


HATCH_STEP = 0.006  # degrees between two hatch lines (about 500 m)


def hatch_lines(geojson: dict, district_ids) -> tuple[list, list]:
    """Diagonal lines clipped to the given districts' outlines, as one line trace's lat/lon
    lists (segments separated by None): the hatching of withheld districts."""
    from shapely import MultiLineString, intersection
    from shapely.geometry import shape

    wanted = set(district_ids)
    lats: list = []
    lons: list = []
    for feature in geojson["features"]:
        if feature["id"] not in wanted:
            continue
        area = shape(feature["geometry"])
        x0, y0, x1, y1 = area.bounds
        span = (x1 - x0) + (y1 - y0)
        starts = [x0 - (y1 - y0) + i * HATCH_STEP for i in range(int(span / HATCH_STEP) + 2)]
        lines = MultiLineString([[(x, y0), (x + (y1 - y0), y1)] for x in starts])  # 45° lines over the box
        clipped = intersection(area, lines)
        for part in getattr(clipped, "geoms", [clipped]):
            if part.is_empty or part.geom_type != "LineString":
                continue
            xs, ys = part.xy
            lons += [*xs, None]
            lats += [*ys, None]
    return lats, lons


def public_map(districts: pd.DataFrame, latest: pd.DataFrame, metric: Metric, lang: str = "en",
               k: int = 10) -> go.Figure:
    """The district choropleth with withheld districts in their own dark-grey, hatched trace,
    its hover text and colour-bar title in the page language."""
    withheld_ids = set(latest.loc[latest["suppressed"].astype(bool), "district_id"])
    fig = figures.choropleth(districts, latest[~latest["suppressed"].astype(bool)], metric)
    geojson, _ = figures.geojson_from(districts)
    blank = fig.data[0]
    keep = [d for d in blank.locations if d not in withheld_ids]
    blank.update(locations=keep, z=[0] * len(keep),
                 geojson={"type": "FeatureCollection",
                          "features": [f for f in blank.geojson["features"] if f["id"] not in withheld_ids]})
    names = dict(zip(districts["district_id"], districts["name"], strict=False))
    chosen = sorted(withheld_ids & set(names))
    fig.add_trace(go.Choroplethmap(
        geojson={"type": "FeatureCollection", "features": [f for f in geojson["features"] if f["id"] in chosen]},
        locations=chosen, z=[1] * len(chosen), text=[names[i] for i in chosen], showscale=False,
        colorscale=[[0, WITHHELD_COLOUR], [1, WITHHELD_COLOUR]], marker_line_color="#212529",
        marker_line_width=1.2, hovertemplate="%{text}<br>" + t("map_hover_withheld", lang) + "<extra></extra>",
    ))
    # ...and hatched (diagonal white lines), so a withheld district never reads as a value.
    lats, lons = hatch_lines(geojson, chosen)
    fig.add_trace(go.Scattermap(lat=lats, lon=lons, mode="lines", line=dict(color="#ffffff", width=1.2),
                                hoverinfo="skip", showlegend=False, name="withheld"))
    # The public map is 460 px high and as narrow as a phone: zoom out a little so the whole
    # city fits (at the shared zoom Staten Island was cut off at the bottom).
    fig.update_layout(map_zoom=fig.layout.map.zoom - 0.4, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    unit = i18n.metric_unit(metric, lang)
    for trace in fig.data[:-2]:
        if getattr(trace, "showscale", None) is not False and trace.hovertemplate and "withheld" not in str(trace.name):
            trace.update(hovertemplate="%{text}<br>%{z:" + metric.format + "} " + unit + "<extra></extra>")
            if trace.colorbar is not None:
                trace.colorbar.title.text = unit
    return fig


def series_summary(series: pd.DataFrame, metric: Metric, lang: str = "en", grain: str = "week") -> str:
    """One paragraph describing a weekly (or monthly) city time series (the chart's text alternative)."""
    if series.empty:
        return t("no_values", lang)
    ordered = series.sort_values("period")
    known = ordered.dropna(subset=["value"])
    withheld_count = int(ordered["suppressed"].astype(bool).sum())
    if known.empty:
        return t(i18n.by_grain("series_all_withheld", grain), lang, count=len(ordered))
    first, last = known.iloc[0], known.iloc[-1]
    high = known.loc[known["value"].idxmax()]
    low = known.loc[known["value"].idxmin()]

    def fmt(row):
        return f"{value(metric, float(row['value']), lang)} {i18n.metric_unit(metric, lang)}"

    def day(row):
        return i18n.date(row["period"], lang, day=grain != "month")

    text = t(i18n.by_grain("series_summary", grain), lang, count=len(ordered), first_date=day(first),
             last_date=day(last), first=fmt(first), last=fmt(last), high=fmt(high),
             high_date=day(high), low=fmt(low), low_date=day(low))
    if metric.target is not None:
        text += t("series_target", lang, target=value(metric, metric.target, lang),
                  unit=i18n.metric_unit(metric, lang),
                  direction=t(f"direction_{metric.direction}", lang))
    if withheld_count:
        text += t(i18n.by_grain("series_withheld", grain), lang, count=withheld_count)
    return text


def map_summary(latest: pd.DataFrame, names: dict[str, str], metric: Metric, k: int, lang: str = "en") -> str:
    """The map's text alternative: period, highest and lowest district, how many withheld."""
    if latest.empty:
        return t("no_values", lang)
    known = latest[~latest["suppressed"].astype(bool)].dropna(subset=["value"])
    withheld_count = int(latest["suppressed"].astype(bool).sum())
    parts = [t("map_period", lang, period=i18n.date(latest["period"].iloc[0], lang, day=False), count=len(latest))]
    if not known.empty:
        top = known.loc[known["value"].idxmax()]
        bottom = known.loc[known["value"].idxmin()]
        parts.append(t("map_extremes", lang, top=names.get(top["district_id"], top["district_id"]),
                       top_value=f"{value(metric, float(top['value']), lang)} {i18n.metric_unit(metric, lang)}",
                       bottom=names.get(bottom["district_id"], bottom["district_id"]),
                       bottom_value=f"{value(metric, float(bottom['value']), lang)} {i18n.metric_unit(metric, lang)}"))
    if withheld_count:
        parts.append(t("map_withheld", lang, count=withheld_count, withheld=withheld(k, lang)))
    return " ".join(parts)


def values_table(frame: pd.DataFrame, metric: Metric, names: dict[str, str], k: int, *,
                 first: str = "district", caption: str = "", lang: str = "en"):
    """A data table of published values: district or period, value (or withheld), n."""
    if frame is None or frame.empty:
        return html.P(t("no_values", lang), className="text-muted")
    has_ci = "ci_low" in frame and frame["ci_low"].notna().any()
    out = frame.assign(
        district=[names.get(d, d) for d in frame["district_id"]],
        when=[i18n.date(p, lang) for p in frame["period"]],
        shown=[shown(metric, v, s, k, (lo, hi) if has_ci else None, lang) for v, s, lo, hi in zip(
            frame["value"], frame["suppressed"],
            frame["ci_low"] if has_ci else [None] * len(frame),
            frame["ci_high"] if has_ci else [None] * len(frame), strict=False)],
        records=["" if s or pd.isna(n) else i18n.integer(int(n), lang) for n, s in zip(frame["n"], frame["suppressed"], strict=False)],
    )
    columns = ({"district": t("col_district", lang)} if first == "district" else {"when": t("col_period", lang)})
    columns.update({"shown": t("col_value", lang, unit=i18n.metric_unit(metric, lang)),
                    "records": t("col_records", lang)})
    out = (out.sort_values("district", key=lambda names_: names_.map(natural_key)) if first == "district"
           else out.sort_values("period"))
    table = components.table(out, columns, class_name="public-reflow")
    return html.Div([html.P(caption, className="small mb-1") if caption else None, table],
                    className="public-table")


# --------------------------------------------------------------------------- too few readings
def readings_notice(readings: pd.DataFrame, lang: str = "en") -> html.Div:
    """What the overview says when nothing is published yet: each snapshot feed's readings so far
    ("one reading so far, taken ...; a trend appears after the next reading"), never an empty
    page. `readings`: public/source_readings (name, readings, first_reading, last_reading)."""
    def when(ts) -> str:
        ts = pd.Timestamp(ts)
        return f"{i18n.date(ts, lang)} {ts:%H:%M}"

    lines = []
    for row in readings.itertuples():
        n = int(row.readings)
        if n == 1:
            lines.append(t("readings_one", lang, source=row.name, time=when(row.last_reading)))
        elif n > 1:
            lines.append(t("readings_many", lang, source=row.name, n=n, first=when(row.first_reading),
                           last=when(row.last_reading)))
    return html.Div([html.P(t("readings_none_published", lang)), *[html.P(x) for x in lines]],
                    className="public-note", role="status")


# --------------------------------------------------------------------------- reported measures
def reported_cards(reported: pd.DataFrame, lang: str = "en") -> html.Section:
    """The figures departments report themselves, each as reported for its latest period, with
    who reports it (public/reported_measures); the method is on the methodology page."""
    items = []
    for row in reported.itertuples():
        if row.latest_value is None or pd.isna(row.latest_value):
            continue   # a measure reported by district only: no citywide figure to headline
        who = row.publisher if isinstance(row.publisher, str) and row.publisher else row.source_name
        items.append(html.Li([html.Strong(str(row.label), lang="en"), ": ",
                              t("reported_card", lang, value=format(float(row.latest_value), str(row.format)),
                                unit=row.unit, period=row.latest_label, publisher=who)]))
    return html.Section([html.H2(t("reported_title", lang), className="h5"), html.Ul(items),
                         dcc.Link(t("link_methodology", lang), href=href("/methodology", lang))],
                        className="public-reported")
