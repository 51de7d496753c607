"""Pure builders: small DataFrames in, ``go.Figure`` out. One Plotly template per theme."""
from __future__ import annotations

import hashlib
import html
import json
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from data import facts, settings
from data.registry import Metric

LIGHT, WALL = "cityops-light", "cityops-wall"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

pio.templates[LIGHT] = go.layout.Template(
    layout=dict(
        font=dict(family=_FONT, size=13, color="#212529"),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        colorway=["#0b5cad", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#4d7c0f"],
        xaxis=dict(gridcolor="#e9ecef", linecolor="#adb5bd"),
        yaxis=dict(gridcolor="#e9ecef", linecolor="#adb5bd", rangemode="tozero"),
        margin=dict(l=48, r=16, t=36, b=36), hovermode="x unified",
        legend=dict(orientation="h", y=-0.15),
    )
)
pio.templates[WALL] = go.layout.Template(
    layout=dict(
        font=dict(family=_FONT, size=22, color="#f8f9fa"),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        colorway=["#7cc4ff", "#ffb86b", "#8be28b"],
        xaxis=dict(gridcolor="#343a40", linecolor="#6c757d"),
        yaxis=dict(gridcolor="#343a40", linecolor="#6c757d"),
        margin=dict(l=8, r=8, t=8, b=8),
    )
)

# Sequential scales: dark = more. For 'lower is better' metrics the scale is reversed so
# that the worse end is always the darker, warmer colour.
_SCALE_BAD_HIGH = "OrRd"
_SCALE_GOOD_HIGH = "Blues"


def empty(message: str, template: str = LIGHT) -> go.Figure:
    fig = go.Figure(layout=dict(template=template))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=16))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


@lru_cache(maxsize=8)
def _geo_cache(ids: tuple, names: tuple, geometries: tuple) -> tuple[dict, dict]:
    """Parse the outlines once per set of districts (the strings come from the cached query
    result, so a hit costs a tuple comparison by identity)."""
    features = [{"type": "Feature", "id": d, "properties": {"name": n}, "geometry": json.loads(g)}
                for d, n, g in zip(ids, names, geometries, strict=False)]
    lons, lats = [], []

    def walk(coords):
        if isinstance(coords[0], (int, float)):
            lons.append(coords[0])
            lats.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for feature in features:
        walk(feature["geometry"]["coordinates"])
    span = max(max(lons) - min(lons), max(lats) - min(lats))
    zoom = 9.3 if span < 0.8 else 8.5
    center = {"lon": (min(lons) + max(lons)) / 2, "lat": (min(lats) + max(lats)) / 2}
    return {"type": "FeatureCollection", "features": features}, {"center": center, "zoom": zoom}


def geojson_from(districts: pd.DataFrame) -> tuple[dict, dict]:
    """FeatureCollection (id = district_id) and the map view, parsed once per set of outlines."""
    return _geo_cache(tuple(districts["district_id"]), tuple(districts["name"]), tuple(districts["geometry"]))


# Offline base maps: inline MapLibre styles with a background layer and no remote source.
# `sources` holds an empty inline source: Plotly drops an empty {} on updates, and MapLibre then
# rejects the style ("missing required property sources").
def _offline_style(colour: str) -> dict:
    blank = {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}
    return {"version": 8, "sources": {"blank": blank}, "layers": [
        {"id": "background", "type": "background", "paint": {"background-color": colour}}]}


BASE_STYLES = {LIGHT: _offline_style("#f4f6f8"), WALL: _offline_style("#0b0f14")}


def _map_style(template: str):
    style = settings.get("map_style")
    if style == "white-bg":  # the offline default: a plain background in the page's theme
        style = BASE_STYLES.get(template, style)
    return style


def _map_layers() -> list:
    tile_url = settings.get("map_tile_url")
    return [{"sourcetype": "raster", "source": [tile_url], "below": "traces"}] if tile_url else []


def choropleth(districts: pd.DataFrame, values: pd.DataFrame, metric: Metric, *,
               template: str = LIGHT, height: int | None = None, show_scale: bool = True,
               as_dict: bool = False) -> go.Figure | dict:
    """District map of one metric: `values` has district_id, value (and name via districts).

    The district outlines are most of the payload, and Plotly deep-copies (validates) a
    GeoJSON on every trace it is given and again when serialising: with `as_dict` the
    figure is returned as a plain dict with the outlines put in after Plotly has built
    it (~5x cheaper, the same JSON)."""
    geojson, view = geojson_from(districts)
    frame = districts[["district_id", "name"]].merge(values, on="district_id", how="left")
    shown = frame.dropna(subset=["value"])
    scale = _SCALE_GOOD_HIGH if metric.direction == "higher" else _SCALE_BAD_HIGH
    fig = go.Figure(layout=dict(template=template))
    missing = set(frame["district_id"]) - set(shown["district_id"])
    # Grey outlines for districts without a value (their features only: a small payload). The
    # trace is there even when empty, so every figure has the same traces: MapLibre errors
    # when an update changes the number of map traces.
    outline = {"type": "FeatureCollection", "features": [f for f in geojson["features"] if f["id"] in missing]}
    outlines = [outline]
    fig.add_trace(go.Choroplethmap(
        locations=sorted(missing), z=[0] * len(missing),
        colorscale=[[0, "rgba(200,200,200,0.25)"], [1, "rgba(200,200,200,0.25)"]], showscale=False,
        marker_line_color="#6c757d", marker_line_width=0.6, hoverinfo="skip",
    ))
    if not shown.empty:
        outlines.append({"type": "FeatureCollection",
                         "features": [f for f in geojson["features"] if f["id"] not in missing]})
        fig.add_trace(go.Choroplethmap(
            locations=shown["district_id"], z=shown["value"],
            text=shown["name"], colorscale=scale, showscale=show_scale,
            marker_line_color="#495057", marker_line_width=0.6,
            colorbar=dict(title=dict(text=metric.unit), thickness=12),
            hovertemplate="%{text}<br>%{z:" + metric.format + "} " + metric.unit + "<extra></extra>",
        ))
    fig.update_layout(
        map=dict(style=_map_style(template), center=view["center"], zoom=view["zoom"], layers=_map_layers()),
        margin=dict(l=0, r=0, t=0, b=0), height=height,
    )
    if as_dict:
        out = fig.to_dict()
        for trace, features in zip(out["data"], outlines, strict=False):
            trace["geojson"] = features
        return out
    for trace, features in zip(fig.data, outlines, strict=False):
        trace.geojson = features
    return fig


@lru_cache(maxsize=8)
def _scale_cached(name: str) -> tuple:
    return tuple((float(p), c) for p, c in plotly.colors.get_colorscale(name))


def _scale(name: str) -> list:
    """A named colour scale as explicit stops, as Plotly's Python side resolves it: plotly.js
    reads names itself, and its 'Blues' runs the other way (dark = low) and it has no 'OrRd'."""
    return [list(stop) for stop in _scale_cached(name)]


def _template(name: str) -> dict:
    """A theme's template as plain JSON (built once per process)."""
    return _TEMPLATE_JSON.setdefault(name, pio.templates[name].to_plotly_json())


_TEMPLATE_JSON: dict[str, dict] = {}


def _iso(values) -> list[str]:
    """Timestamps as the ISO strings Plotly's own JSON encoder writes."""
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.dtype.kind != "M":  # objects, strings, time-zone aware: let pandas parse them
        arr = pd.to_datetime(pd.Series(arr, dtype=object)).dt.tz_localize(None).to_numpy() if len(arr) else \
            np.array([], dtype="datetime64[s]")
    return np.datetime_as_string(arr.astype("datetime64[s]"), unit="s").tolist()


def _numbers(values) -> list:
    """Floats with NaN as null (JSON has no NaN)."""
    return [None if v != v else v for v in pd.Series(values, dtype="float64").tolist()]


def plain_text(text) -> str:
    """A title as Plotly text that renders as typed: Plotly reads annotation text as rich
    text (links, styled spans), so ``<``, ``>`` and ``&`` go out as entities."""
    return html.escape(str(text), quote=False)


def series(frame: pd.DataFrame, metric: Metric, names: dict[str, str], *, template: str = LIGHT,
           incidents: pd.DataFrame | None = None, height: int | None = None) -> dict:
    """Time series: one line per district_id in `frame` (period, value), city first.

    A plain figure dict, built without ``plotly.graph_objects``: Plotly validates every
    property it is given and again when serialising, and ``add_vrect`` copies the whole
    layout for each event (quadratic in the number of annotations: 3.2 s for 100). Events
    are one shape and one annotation each, appended to two lists."""
    data = []
    order = ["city"] + sorted(d for d in frame["district_id"].unique() if d != "city")
    by_area = {d: part for d, part in frame.groupby("district_id", sort=False)} if not frame.empty else {}
    for district_id in order:
        part = by_area.get(district_id)
        if part is None or part.empty:
            continue
        part = part.sort_values("period")
        data.append({
            "type": "scatter", "x": _iso(part["period"]), "y": _numbers(part["value"]), "mode": "lines",
            "name": names.get(district_id, district_id),
            "line": {"width": 3 if district_id == "city" else 1.8},
            "hovertemplate": "%{y:" + metric.format + "} " + metric.unit,
        })
    shapes, notes = [], []
    if metric.target is not None:
        shapes.append({"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y",
                       "y0": metric.target, "y1": metric.target, "line": {"dash": "dash", "color": "#6c757d"}})
        notes.append({"text": f"target {metric.format_value(metric.target)}", "xref": "x domain", "x": 0,
                      "yref": "y", "y": metric.target, "xanchor": "left", "yanchor": "bottom", "showarrow": False})
    if incidents is not None and not frame.empty:
        more_shapes, more_notes = _event_layers(frame["period"].min(), frame["period"].max(), incidents)
        shapes, notes = shapes + more_shapes, notes + more_notes
    layout = {"template": _template(template), "yaxis": {"title": {"text": metric.unit}}}
    if height is not None:
        layout["height"] = height
    if shapes:
        layout["shapes"] = shapes
    if notes:
        layout["annotations"] = notes
    if not frame.empty:  # the time span events are shown in (see with_events)
        layout["meta"] = {"span": _iso([frame["period"].min(), frame["period"].max()])}
    return {"data": data, "layout": layout}


def _event_layers(lo, hi, incidents: pd.DataFrame) -> tuple[list, list]:
    """One shaded rectangle and one label per event overlapping [lo, hi]."""
    if incidents is None or incidents.empty:
        return [], []
    shown = incidents[(incidents["ends_at"] >= pd.Timestamp(lo)) & (incidents["starts_at"] <= pd.Timestamp(hi))]
    starts, ends = _iso(shown["starts_at"]), _iso(shown["ends_at"])
    shapes, notes = [], []
    for i, (x0, x1, title) in enumerate(zip(starts, ends, shown["title"], strict=False)):
        shapes.append({"type": "rect", "xref": "x", "yref": "y domain", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                       "fillcolor": "#ffc107", "opacity": 0.18, "line": {"width": 0}, "layer": "below"})
        # labels stagger over three rows so that nearby events do not overprint
        notes.append({"text": plain_text(title), "xref": "x", "x": x0, "yref": "y domain", "y": 1 - 0.07 * (i % 3),
                      "xanchor": "left", "yanchor": "top", "showarrow": False, "font": {"size": 11},
                      "bgcolor": "rgba(255,255,255,0.7)"})
    return shapes, notes


def with_events(fig: dict, events: pd.DataFrame | None) -> dict:
    """A copy of a :func:`series` figure with `events` shaded over the span it shows (the figure
    itself is left as it is: it may be a cached one)."""
    span = fig.get("layout", {}).get("meta", {}).get("span")
    if events is None or events.empty or not span:
        return fig
    shapes, notes = _event_layers(span[0], span[1], events)
    if not shapes:
        return fig
    if fig["layout"].get("meta", {}).get("split"):  # city and districts on two axes: shade both
        shapes = [dict(s, yref="paper", y0=0, y1=1) for s in shapes]
        notes = [dict(n, yref="paper") for n in notes]
    layout = {**fig["layout"], "shapes": [*fig["layout"].get("shapes", []), *shapes],
              "annotations": [*fig["layout"].get("annotations", []), *notes]}
    return {"data": fig["data"], "layout": layout}


def sparkline_svg(values, *, width: int = 120, height: int = 32, colour: str = "#7cc4ff") -> str:
    """A tiny inline SVG line (data URI) of `values`: far lighter than a Plotly graph per tile.
    Empty string when there are fewer than two numbers."""
    from urllib.parse import quote

    points = [float(v) for v in values if v is not None and v == v]
    if len(points) < 2:
        return ""
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    step = (width - 6) / (len(points) - 1)
    coords = [(3 + i * step, 3 + (height - 6) * (1 - (v - lo) / span)) for i, v in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' preserveAspectRatio='none'>"
           f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2.5' "
           f"vector-effect='non-scaling-stroke' stroke-linejoin='round'/></svg>")
    return "data:image/svg+xml," + quote(svg, safe=" /=:,'.")


def spread_svg(p10, p25, p50, p75, p90, value, *, width: int = 160, height: int = 18) -> str:
    """Where one district sits among all districts, as a tiny inline SVG (data URI): a line
    from the 10th to the 90th percentile, a box from the 25th to the 75th, a tick at the
    median and a dot for the district (clamped to the ends when it lies beyond them, drawn
    hollow then). Empty string when the spread is missing."""
    from urllib.parse import quote

    numbers = [p10, p25, p50, p75, p90]
    if any(v is None or v != v for v in numbers):
        return ""
    lo, hi = float(p10), float(p90)
    if value is not None and value == value:
        lo, hi = min(lo, float(value)), max(hi, float(value))
    span = (hi - lo) or 1.0

    def x(v):
        return 6 + (width - 12) * (float(v) - lo) / span
    mid = height / 2
    parts = [f"<line x1='{x(p10):.1f}' y1='{mid}' x2='{x(p90):.1f}' y2='{mid}' stroke='#6c757d' stroke-width='1.5'/>",
             f"<rect x='{x(p25):.1f}' y='3' width='{max(1.0, x(p75) - x(p25)):.1f}' height='{height - 6}' "
             "fill='#dee2e6' stroke='#6c757d'/>",
             f"<line x1='{x(p50):.1f}' y1='2' x2='{x(p50):.1f}' y2='{height - 2}' stroke='#212529' stroke-width='2'/>"]
    if value is not None and value == value:
        parts.append(f"<circle cx='{x(value):.1f}' cy='{mid}' r='5' fill='#c2410c' stroke='#ffffff' stroke-width='1.5'/>")
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
           f"height='{height}'>{''.join(parts)}</svg>")
    return "data:image/svg+xml," + quote(svg, safe=" /=:,'.")


def district_trend(city: pd.DataFrame, district: pd.DataFrame, metric: Metric, *, district_name: str,
                   events: pd.DataFrame | None = None, template: str = LIGHT) -> dict:
    """The district's series on its own axis (bottom) under the city's (top), one shared time
    axis: a district is never drawn flat at zero on the city's scale. Events shaded on both."""
    data = []
    for part, name, axis, width in ((city, "Whole city", "y", 2.5), (district, district_name, "y2", 2)):
        part = part.sort_values("period") if not part.empty else part
        data.append({"type": "scatter", "x": _iso(part["period"]) if not part.empty else [],
                     "y": _numbers(part["value"]) if not part.empty else [], "mode": "lines+markers",
                     "marker": {"size": 4}, "name": name, "yaxis": axis, "xaxis": "x",
                     "line": {"width": width, "color": "#6c757d" if axis == "y" else "#0b5cad"},
                     "hovertemplate": "%{y:" + metric.format + "} " + metric.unit})
    layout = {"template": _template(template), "height": 460,
              "xaxis": {"anchor": "y2"},
              "yaxis": {"domain": [0.58, 1], "title": {"text": f"city ({metric.unit})"}, "rangemode": "tozero"},
              "yaxis2": {"domain": [0, 0.42], "title": {"text": f"district ({metric.unit})"}, "rangemode": "tozero",
                         "gridcolor": "#e9ecef"},
              "annotations": [
                  {"text": "Whole city (its own scale)", "xref": "paper", "x": 0, "yref": "paper", "y": 1.0,
                   "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 12}},
                  {"text": f"{plain_text(district_name)} (its own scale)", "xref": "paper", "x": 0, "yref": "paper",
                   "y": 0.43, "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}],
              "showlegend": False}
    frames = [f for f in (city, district) if not f.empty]
    if frames:  # the data's span (event labels must not stretch the time axis)
        span = pd.concat([f["period"] for f in frames])
        layout["xaxis"]["range"] = _iso([span.min(), span.max()])
    if frames and events is not None and not events.empty:
        periods = pd.concat([f["period"] for f in frames])
        shapes, notes = _event_layers(periods.min(), periods.max(), events)
        layout["shapes"] = [dict(s, yref="paper", y0=0, y1=1) for s in shapes]
        layout["annotations"] += [dict(n, yref="paper", y=0.98 - 0.05 * (i % 3)) for i, n in enumerate(notes)]
    return {"data": data, "layout": layout}


# --- explorer ------------------------------------------------------------------------------

_PNG = {"format": "png", "scale": 2}


def graph_config(filename: str) -> dict:
    """Graph config of explorer charts: the modebar's camera button saves a PNG (client-side)."""
    return {"displaylogo": False, "toImageButtonOptions": {**_PNG, "filename": filename},
            "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def map_values(districts: pd.DataFrame, values: pd.DataFrame, metric: Metric, selected=(), *,
               template: str = LIGHT, scale_range: tuple[float, float] | None = None,
               scale_note: str = "") -> dict:
    """The explorer's map as a figure dict **without outlines**: three choroplethmap traces
    (districts without a value in grey, the values, an outline of the selected ones; always
    three, MapLibre errors when an update changes the number of map traces) whose
    ``locations`` name district ids. The browser puts the outlines in (``assets/explore.js``,
    :func:`geometry` fetched once per outline version), so a filter change carries only values:
    a few kB instead of the ~160 kB of outlines."""
    _geojson, view = geojson_from(districts)
    frame = districts[["district_id", "name"]].merge(values, on="district_id", how="left")
    has_value = frame["value"].notna()
    shown, missing = frame[has_value], frame.loc[~has_value, "district_id"].tolist()
    scale = _scale(_SCALE_GOOD_HIGH if metric.direction == "higher" else _SCALE_BAD_HIGH)
    grey = "rgba(200,200,200,0.25)"
    chosen = [d for d in frame["district_id"] if d in set(selected)]
    data = [
        {"type": "choroplethmap", "locations": sorted(missing), "z": [0] * len(missing),
         "colorscale": [[0, grey], [1, grey]], "showscale": False,
         "marker": {"line": {"color": "#6c757d", "width": 0.6}}, "hoverinfo": "skip"},
        {"type": "choroplethmap", "locations": shown["district_id"].tolist(), "z": _numbers(shown["value"]),
         "text": shown["name"].tolist(), "colorscale": scale, "showscale": not shown.empty,
         "marker": {"line": {"color": "#495057", "width": 0.6}},
         "colorbar": {"title": {"text": metric.unit + (f"<br>{scale_note}" if scale_note else "")}, "thickness": 12},
         **({"zmin": float(scale_range[0]), "zmax": float(scale_range[1]), "zauto": False}
            if scale_range is not None and scale_range[0] < scale_range[1] else {}),
         "hovertemplate": "%{text}<br>%{z:" + metric.format + "} " + metric.unit + "<extra></extra>"},
        {"type": "choroplethmap", "locations": chosen, "z": [1] * len(chosen),
         "colorscale": [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], "showscale": False,
         "marker": {"line": {"color": "#111827", "width": 3}}, "hoverinfo": "skip", "name": "selected"},
    ]
    layout = {"template": _template(template), "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
              "map": {"style": _map_style(template), "center": view["center"], "zoom": view["zoom"],
                      "layers": _map_layers()},
              "clickmode": "event"}
    return {"data": data, "layout": layout}


def geometry(districts: pd.DataFrame) -> dict:
    """Every district outline as one FeatureCollection (id = district_id), for the browser to
    merge into :func:`map_values` figures."""
    geojson, _view = geojson_from(districts)
    return geojson


@lru_cache(maxsize=8)
def _geometry_json(ids: tuple, names: tuple, geometries: tuple) -> tuple[str, bytes]:
    geojson, _view = _geo_cache(ids, names, geometries)
    body = json.dumps(geojson, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()[:16], body


def geometry_json(districts: pd.DataFrame) -> tuple[str, bytes]:
    """(key, JSON bytes) of :func:`geometry`: the key changes only when an outline or a name
    does, so a new data version with the same districts needs no new download."""
    return _geometry_json(tuple(districts["district_id"]), tuple(districts["name"]), tuple(districts["geometry"]))


def with_geometry(fig: dict, geojson: dict) -> dict:
    """A :func:`map_values` figure with the outlines put in (what the browser draws; tests and
    PNG exports use it server-side)."""
    out = {"data": [dict(trace) for trace in fig["data"]], "layout": fig["layout"]}
    for trace in out["data"]:
        if trace.get("type") == "choroplethmap":
            trace["geojson"] = geojson
    return out


def explore_series(frame: pd.DataFrame, metric: Metric, names: dict[str, str], *,
                   previous: pd.DataFrame | None = None, previous_shift=None,
                   last_year: pd.DataFrame | None = None, last_year_shift=None, focus: str = "city",
                   events: pd.DataFrame | None = None, template: str = LIGHT) -> dict:
    """City and selected districts over time, with the focus area's previous period and the
    same period last year drawn on the same time axis (dotted/dashed), and events shaded."""
    fig = series(frame, metric, names, template=template, incidents=events)
    label = names.get(focus, focus)
    for part, shift, text, dash in ((previous, previous_shift, "previous period", "dot"),
                                    (last_year, last_year_shift, "same period last year", "dash")):
        if part is None or part.empty or shift is None:
            continue
        part = part[part["district_id"] == focus].sort_values("period")
        if part.empty:
            continue
        fig["data"].append({
            "type": "scatter", "x": _iso(part["period"] + shift), "y": _numbers(part["value"]),
            "customdata": _iso(part["period"]), "mode": "lines", "name": f"{label}: {text}",
            "line": {"width": 1.5, "dash": dash, "color": "#6c757d" if dash == "dot" else "#a3a3a3"},
            "hovertemplate": "%{y:" + metric.format + "} " + metric.unit + " (%{customdata|%d %b %Y})",
            **({"meta": {"area": focus}} if focus != "city" else {}),
        })
    return split_axes(fig, metric, names)


def split_axes(fig: dict, metric: Metric, names: dict[str, str]) -> dict:
    """Districts on their own axis (bottom) under the city (top), one time axis: a district is
    never drawn flat at zero on the city's scale. A figure with the city only is unchanged."""
    city_name = names.get("city", "Whole city")
    district_traces = [t for t in fig["data"]
                       if t.get("name") != city_name and not str(t.get("name", "")).startswith(city_name + ":")]
    if not district_traces or len(district_traces) == len(fig["data"]):
        return fig
    for trace in district_traces:
        trace["yaxis"] = "y2"
    layout = fig["layout"]
    layout["xaxis"] = {**layout.get("xaxis", {}), "anchor": "y2"}
    layout["yaxis"] = {**layout.get("yaxis", {}), "domain": [0.56, 1], "title": {"text": f"city ({metric.unit})"},
                       "rangemode": "tozero"}
    layout["yaxis2"] = {"domain": [0, 0.44], "title": {"text": f"districts ({metric.unit})"}, "rangemode": "tozero",
                        "gridcolor": "#e9ecef"}
    layout["annotations"] = [*layout.get("annotations", []),
                             {"text": "Whole city (its own scale)", "xref": "paper", "x": 1, "yref": "paper", "y": 1,
                              "xanchor": "right", "yanchor": "bottom", "showarrow": False, "font": {"size": 11}},
                             {"text": "Districts (their own scale)", "xref": "paper", "x": 1, "yref": "paper",
                              "y": 0.45, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                              "font": {"size": 11}}]
    layout["meta"] = {**layout.get("meta", {}), "split": True}
    return fig


def ranking(table: pd.DataFrame, metric: Metric, selected=(), *, template: str = LIGHT,
            city_value: float | None = None) -> dict:
    """Horizontal bars, best district on top; selected districts in a contrasting colour."""
    body = table[table["district_id"] != "city"].dropna(subset=["value"])
    body = body.iloc[::-1]  # plotly draws the first category at the bottom
    chosen = set(selected)
    ids_ = body["district_id"].tolist()
    data = [{
        "type": "bar", "x": _numbers(body["value"]), "y": body["name"].tolist(), "orientation": "h",
        "customdata": ids_, "marker": {"color": ["#c2410c" if d in chosen else "#0b5cad" for d in ids_]},
        "hovertemplate": "%{y}: %{x:" + metric.format + "} " + metric.unit + "<extra></extra>",
        "name": metric.label,
    }]
    layout = {"template": _template(template), "height": max(320, 16 * len(body) + 60),
              "margin": {"l": 140, "r": 16, "t": 24, "b": 36}, "xaxis": {"title": {"text": metric.unit}},
              "hovermode": "closest", "showlegend": False,
              "yaxis": {"tickfont": {"size": 11}, "automargin": True}}
    if city_value is not None and city_value == city_value:
        layout["shapes"] = [{"type": "line", "xref": "x", "x0": city_value, "x1": city_value, "yref": "y domain",
                             "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#6c757d"}}]
        layout["annotations"] = [{"text": "whole city", "xref": "x", "x": city_value, "yref": "y domain", "y": 1,
                                  "xanchor": "center", "yanchor": "bottom", "showarrow": False}]
    return {"data": data, "layout": layout}


# --- alerts ----------------------------------------------------------------------------------

def band_sparkline_svg(values, lower=None, upper=None, *, width: int = 120, height: int = 32,
                       colour: str = "#0b5cad", band_colour: str = "#0b5cad") -> str:
    """A sparkline (data URI) with the alert's expected band [lower, upper] shaded behind it
    and its latest point marked. Empty string with fewer than two numbers."""
    from urllib.parse import quote

    points = [float(v) for v in values if v is not None and v == v]
    if len(points) < 2:
        return ""
    band = [float(v) for v in (lower, upper) if v is not None and v == v]
    lo, hi = min(points + band), max(points + band)
    span = (hi - lo) or 1.0

    def y(v: float) -> float:  # the SVG's y of a value (top is 0)
        return 3 + (height - 6) * (1 - (v - lo) / span)

    step = (width - 8) / (len(points) - 1)
    coords = [(3 + i * step, y(v)) for i, v in enumerate(points)]
    path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    rect = ""
    if len(band) == 2:
        top, bottom = y(max(band)), y(min(band))
        rect = (f"<rect x='0' y='{top:.1f}' width='{width}' height='{max(bottom - top, 1):.1f}' "
                f"fill='{band_colour}' fill-opacity='0.16'/>")
    last_x, last_y = coords[-1]
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' preserveAspectRatio='none'>"
           f"{rect}<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2' "
           f"vector-effect='non-scaling-stroke' stroke-linejoin='round'/>"
           f"<circle cx='{last_x:.1f}' cy='{last_y:.1f}' r='2.6' fill='{colour}'/></svg>")
    return "data:image/svg+xml," + quote(svg, safe=" /=:,'.")


def alert_chart(frame: pd.DataFrame, metric: Metric, episode: dict, *, template: str = LIGHT) -> go.Figure:
    """The alert's metric in its district around the episode (period, value): the episode's
    periods shaded, its expected band (when it has one) and the target as lines."""
    if frame.empty:
        return empty("No values of this metric in this district around the alert", template)
    fig = go.Figure(layout=dict(template=template))
    part = frame.sort_values("period")
    lower, upper = episode.get("lower"), episode.get("upper")
    if facts.known(lower) and facts.known(upper):
        fig.add_hrect(y0=lower, y1=upper, fillcolor="#0b5cad", opacity=0.10, line_width=0,
                      annotation_text="expected band (now)", annotation_position="top left",
                      annotation_font_size=11)
    fig.add_trace(go.Scatter(x=part["period"], y=part["value"], mode="lines+markers", name=metric.label,
                             line=dict(width=2, color="#0b5cad"), marker=dict(size=4),
                             customdata=part["n"] if "n" in part else None,
                             hovertemplate="%{y:" + metric.format + "} " + metric.unit + " (n = %{customdata})"))
    first, last = episode.get("first_period"), episode.get("last_period")
    step = {"hour": pd.Timedelta(hours=1), "week": pd.Timedelta(days=7), "month": pd.Timedelta(days=30)}.get(
        episode.get("grain"), pd.Timedelta(days=1))
    if first is not None and not pd.isna(first):
        first = pd.Timestamp(first)
        end = pd.Timestamp(last if last is not None and not pd.isna(last) else first) + step
        fig.add_vrect(x0=first, x1=end, fillcolor="#b91c1c", opacity=0.12, line_width=0,
                      annotation_text="alert", annotation_position="top left", annotation_font_size=11)
        if facts.known(episode.get("value")):  # the value the alert is about, where the detector saw it
            fig.add_trace(go.Scatter(x=[pd.Timestamp(last if last is not None and not pd.isna(last) else first)],
                                     y=[episode["value"]], mode="markers", name="alert value",
                                     marker=dict(size=10, color="#b91c1c", symbol="diamond"),
                                     hovertemplate="alert: %{y:" + metric.format + "} " + metric.unit))
    if facts.known(episode.get("target")):
        fig.add_hline(y=episode["target"], line_dash="dash", line_color="#6c757d",
                      annotation_text=f"target {metric.format_value(episode['target'])}",
                      annotation_position="bottom left", annotation_font_size=11)
    fig.update_layout(height=300, yaxis_title=metric.unit, showlegend=False, margin=dict(l=56, r=16, t=24, b=36))
    return fig
