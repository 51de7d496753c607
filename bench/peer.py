"""The usual Dash app, as a fair peer for the explorer benchmark: pandas + Plotly Express over
the raw rows held in memory by the worker (no rollups, no query cache).

It is written the way a competent Dash developer would write it, not as a strawman:

* the raw rows of each metric are loaded once per worker, sorted by time, with the district
  as a categorical, so a date range is two ``searchsorted`` calls (no scan) and the grouping
  is one vectorised ``groupby`` (observed categories only);
* the district outlines are parsed once (``json.loads`` at start-up), not per figure;
* figures come from ``plotly.express`` (``px.line``, ``px.choropleth_map``, ``px.bar``) with
  a fixed template, as the Plotly docs and most Dash apps do;
* the callback answers the same views as the CityOps explorer for one state: KPI cards (latest
  complete period vs the one before, per area), the map over the range, the series of the city
  and the chosen districts with the previous period and the same period last year, the
  ranking, and the table rows.

It covers the metrics whose raw rows it can hold simply: counts (``bike_trips``,
``sr_opened``), sums (``traffic_volume``) and ratios of sums (``parking_occupancy_pct``).
:func:`check` compares its numbers with CityOps' own for the same state.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import dash
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

# metric id -> (table, time column, numerator expression, denominator expression or None, factor)
SPECS = {
    "bike_trips": ("bike_trips", "started_at", "1", None, 1.0),
    "sr_opened": ("service_requests", "created_at", "1", None, 1.0),
    "traffic_volume": ("traffic_counts", "ts", "volume", None, 1.0),
    "parking_occupancy_pct": ("parking_occupancy", "ts", "least(greatest(occupied, 0), capacity)", "capacity", 100.0),
}
FREQ = {"hour": "h", "day": "D"}


@dataclass
class Raw:
    ts: np.ndarray           # datetime64[ns], sorted
    district: pd.Categorical
    num: np.ndarray          # float64
    den: np.ndarray | None   # float64 (ratios)
    factor: float


class Peer:
    """One worker's state: raw rows per metric, districts and their parsed outlines."""

    def __init__(self, con, metrics=tuple(SPECS)):
        self.raw: dict[str, Raw] = {}
        for metric in metrics:
            table, ts, num, den, factor = SPECS[metric]
            where = " WHERE capacity > 0" if den == "capacity" else ""
            frame = con.execute(
                f"SELECT district_id, {ts} AS ts, ({num})::DOUBLE AS num"
                + (f", ({den})::DOUBLE AS den" if den else "") + f" FROM {table}{where} ORDER BY {ts}").df()
            self.raw[metric] = Raw(frame["ts"].to_numpy("datetime64[ns]"), pd.Categorical(frame["district_id"]),
                                   frame["num"].to_numpy(), frame["den"].to_numpy() if den else None, factor)
        districts = con.execute("SELECT district_id, name, population, area_km2, geometry FROM districts "
                                "ORDER BY district_id").df()
        self.names = dict(zip(districts["district_id"], districts["name"], strict=False))
        self.population = districts.set_index("district_id")["population"].astype(float)
        self.area = districts.set_index("district_id")["area_km2"].astype(float)
        self.geojson = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": d, "properties": {"name": n}, "geometry": json.loads(g)}
            for d, n, g in zip(districts["district_id"], districts["name"], districts["geometry"], strict=False)]}

    # ------------------------------------------------------------------ data
    def _slice(self, metric: str, start, end) -> pd.DataFrame:
        raw = self.raw[metric]
        a, b = np.searchsorted(raw.ts, np.datetime64(start, "ns")), np.searchsorted(raw.ts, np.datetime64(end, "ns"))
        frame = pd.DataFrame({"district_id": raw.district[a:b], "ts": raw.ts[a:b], "num": raw.num[a:b]})
        if raw.den is not None:
            frame["den"] = raw.den[a:b]
        return frame

    @staticmethod
    def _period(ts: pd.Series, grain: str) -> pd.Series:
        if grain in FREQ:
            return ts.dt.floor(FREQ[grain])
        if grain == "week":
            day = ts.dt.floor("D")
            return day - pd.to_timedelta(day.dt.weekday, unit="D")
        return ts.dt.to_period("M").dt.start_time

    def series(self, metric: str, grain: str, areas, start, end) -> pd.DataFrame:
        """(district_id, period, value) for the areas ('city' = every district) in the range."""
        frame = self._slice(metric, start, end)
        raw = self.raw[metric]
        frame["period"] = self._period(frame["ts"], grain)
        cols = ["num", "den"] if raw.den is not None else ["num"]
        wanted = [a for a in areas if a != "city"]
        parts = []
        if "city" in areas:
            city = frame.groupby("period", sort=True)[cols].sum().reset_index().assign(district_id="city")
            parts.append(city)
        if wanted:
            some = frame[frame["district_id"].isin(wanted)]
            parts.append(some.groupby(["district_id", "period"], observed=True, sort=True)[cols].sum().reset_index())
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["district_id", "period", *cols])
        out["value"] = out["num"] / out["den"] * raw.factor if raw.den is not None else out["num"]
        out["district_id"] = out["district_id"].astype(str)
        return out[["district_id", "period", "value"]]

    def totals(self, metric: str, start, end, scale: str) -> pd.Series:
        """One value per district (and 'city') over the range, in the scale."""
        frame = self._slice(metric, start, end)
        raw = self.raw[metric]
        cols = ["num", "den"] if raw.den is not None else ["num"]
        per = frame.groupby("district_id", observed=True)[cols].sum()
        per.loc["city"] = per.sum()
        values = per["num"] / per["den"] * raw.factor if raw.den is not None else per["num"]
        values.index = values.index.astype(str)
        if scale != "abs" and raw.den is None:
            base = (self.population if scale == "per1k" else self.area).where(lambda s: s > 0)
            base.loc["city"] = base.sum(skipna=True)
            values = values / base.reindex(values.index) * (1000.0 if scale == "per1k" else 1.0)
        return values

    # ------------------------------------------------------------------ the callback
    def views(self, metric: str, start, end, grain: str, districts: list[str], scale: str,
              prev_start, last_year_start, last_year_end, kpi_start) -> tuple:
        areas = ["city", *districts]
        now = self.series(metric, grain, areas, start, end)
        previous = self.series(metric, grain, areas, prev_start, start)
        last_year = self.series(metric, grain, areas, last_year_start, last_year_end)
        history = self.series(metric, grain, areas[:6], kpi_start, end)
        current, before = self.totals(metric, start, end, scale), self.totals(metric, prev_start, start, scale)

        cards = []
        for area in areas[:6]:
            part = history[history["district_id"] == area].sort_values("period")
            values = part["value"].tolist()
            latest, prior = (values[-1] if values else None), (values[-2] if len(values) > 1 else None)
            cards.append(html.Div([html.Div(self.names.get(area, "Whole city")),
                                   html.Div(f"{latest:,.1f}" if latest is not None else "—", className="value"),
                                   html.Div(f"previous {prior:,.1f}" if prior is not None else "")],
                                  className="kpi-card"))

        named = now.assign(area=now["district_id"].map(self.names).fillna("Whole city"))
        series_fig = px.line(named, x="period", y="value", color="area", template="plotly_white")
        focus = districts[0] if len(districts) == 1 else "city"
        for part, shift, label in ((previous, pd.Timestamp(start) - pd.Timestamp(prev_start), "previous period"),
                                   (last_year, pd.DateOffset(years=1), "same period last year")):
            part = part[part["district_id"] == focus]
            series_fig.add_trace(go.Scatter(x=part["period"] + shift, y=part["value"], mode="lines", name=label,
                                            line=dict(dash="dot")))

        table = pd.DataFrame({"value": current, "previous": before.reindex(current.index)})
        table["change_pct"] = (table["value"] - table["previous"]) / table["previous"].abs() * 100
        table.index.name = "district_id"
        table = table.reset_index()
        table["name"] = table["district_id"].map(self.names).fillna("Whole city")
        body = table[table["district_id"] != "city"]
        map_fig = px.choropleth_map(body, geojson=self.geojson, locations="district_id", color="value",
                                    hover_name="name", map_style="white-bg", zoom=9.3,
                                    center={"lat": 40.70, "lon": -73.94}, color_continuous_scale="Blues")
        ranked = body.sort_values("value")
        ranking_fig = px.bar(ranked, x="value", y="name", orientation="h", template="plotly_white")
        rows = table if not districts else table[table["district_id"].isin(areas)]
        return cards, map_fig, series_fig, ranking_fig, rows.round(3).to_dict("records")


def app(peer: Peer) -> dash.Dash:
    """The peer as a Dash app: one callback from the view's parameters to every view."""
    dash_app = dash.Dash("cityops_peer", serve_locally=True)
    dash_app.layout = html.Div([dcc.Store(id="peer-state"), html.Div(id="peer-kpis"), dcc.Graph(id="peer-map"),
                                dcc.Graph(id="peer-series"), dcc.Graph(id="peer-ranking"), html.Div(id="peer-table")])

    @dash_app.callback(Output("peer-kpis", "children"), Output("peer-map", "figure"), Output("peer-series", "figure"),
                       Output("peer-ranking", "figure"), Output("peer-table", "children"),
                       Input("peer-state", "data"))
    def update(state):
        cards, map_fig, series_fig, ranking_fig, rows = peer.views(
            state["metric"], pd.Timestamp(state["start"]), pd.Timestamp(state["end"]), state["grain"],
            state["districts"], state["scale"], pd.Timestamp(state["prev_start"]),
            pd.Timestamp(state["ly_start"]), pd.Timestamp(state["ly_end"]), pd.Timestamp(state["kpi_start"]))
        return cards, map_fig, series_fig, ranking_fig, json.dumps(rows, default=str)

    return dash_app


def state_of(explore_state) -> dict:
    """The peer's parameters for a CityOps explorer state (the same ranges and districts)."""
    from data import explore

    prev_start, _prev_end = explore.previous_range(explore_state)
    ly_start, ly_end = explore.last_year_range(explore_state)
    from callbacks import common

    length = common.GRAIN_LENGTH[explore_state.grain]
    kpi_start = pd.Timestamp(explore_state.end_ts) - length * (explore.KPI_HISTORY + 2)
    return {"metric": explore_state.metric.id, "start": str(explore_state.start_ts), "end": str(explore_state.end_ts),
            "grain": explore_state.grain, "districts": list(explore_state.districts), "scale": explore_state.scale,
            "prev_start": str(prev_start), "ly_start": str(ly_start), "ly_end": str(ly_end), "kpi_start": str(kpi_start)}


def check(peer: Peer, explore_state, cityops_table: pd.DataFrame) -> float:
    """Largest relative difference between the peer's district values and CityOps' table
    for the same state (0 = the same numbers)."""
    params = state_of(explore_state)
    values = peer.totals(params["metric"], pd.Timestamp(params["start"]), pd.Timestamp(params["end"]), params["scale"])
    theirs = cityops_table.set_index("district_id")["value"].astype(float)
    joined = pd.DataFrame({"peer": values, "cityops": theirs}).dropna()
    if joined.empty:
        return float("nan")
    return float(((joined["peer"] - joined["cityops"]).abs() / joined["cityops"].abs().clip(lower=1e-9)).max())
