"""Wall callbacks: tiles, map of the metric that most needs attention, alert ticker, rotation
hold; clientside: clock, rotation, refresh gate, reload on build/scheme change.

Refreshes send only what changed: the client keeps a small signature per tile, the map key
(metric + data version) and the alert list's hash in a Store; the server answers ``Patch``
for the changed tiles and ``no_update`` for everything else.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import datetime

import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, Patch, State, html

from callbacks import common
from data import access, episodes, facts, lookups, registry, repository, triage, users, wall_screens
from data import wall_config as wall_layout
from data.web import guard
from layouts import components, figures, ids

SPARK_POINTS = 14
log = logging.getLogger(__name__)

dash.clientside_callback(
    ClientsideFunction(namespace="wall", function_name="clock"),
    Output(ids.WALL_CLOCK, "children"),
    Input(ids.WALL_CLOCK_TICK, "n_intervals"),
    State(ids.WALL_CONFIG, "data"),
)

# Skip a refresh tick while the previous refresh is still running (no pile-ups).
dash.clientside_callback(
    ClientsideFunction(namespace="wall", function_name="gate"),
    Output(ids.WALL_TRIGGER, "data"),
    Input(ids.WALL_TICK, "n_intervals"),
)

# Rotation: next view after each dwell, unless the server said the current view holds.
dash.clientside_callback(
    ClientsideFunction(namespace="wall", function_name="rotate"),
    Output(ids.WALL_VIEW, "data"),
    Input(ids.WALL_ROTATE_TICK, "n_intervals"),
    State(ids.WALL_VIEW, "data"),
    State(ids.WALL_HOLD, "data"),
    State(ids.WALL_CONFIG, "data"),
)

# The screen's size (for the map's zoom and the heartbeat); set once at load.
dash.clientside_callback(
    ClientsideFunction(namespace="wall", function_name="screen"),
    Output(ids.WALL_SCREEN, "data"),
    Input(ids.WALL_CONFIG, "data"),
)

# Reload when the server's build or data scheme differs from the page's.
dash.clientside_callback(
    ClientsideFunction(namespace="wall", function_name="checkBuild"),
    Output(ids.WALL_RELOAD, "data"),
    Input(ids.WALL_META, "data"),
    State(ids.WALL_CONFIG, "data"),
)


def _hash(value) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _valid_sig(sig) -> dict:
    if not isinstance(sig, dict):
        return {}
    tiles = sig.get("tiles")
    out = {k: sig[k] for k in ("view", "map", "map_version", "alerts", "hold", "cls")
           if isinstance(sig.get(k), str) and len(sig[k]) <= 120}
    if isinstance(tiles, list) and len(tiles) <= wall_layout.MAX_METRICS * 2 and all(
            isinstance(t, str) and len(t) <= 40 for t in tiles):
        out["tiles"] = tiles
    return out


def tiles_for(metrics) -> list:
    """(signature, tile) for each metric, city-wide at day grain (a metric published by month
    only, like monthly tonnage, by month): the same data.facts as the overview's cards, so the
    wall and the overview show the same change for the same number."""
    shown = facts.latest(metrics, grain="day", district="city")
    recent = pd.concat([repository.run("ops/wall_recent", district="city", grain=g, points=SPARK_POINTS)
                        for g in sorted({f.grain for f in shown.values()} or {"day"})])
    spark = {k: list(g["value"]) for k, g in recent.groupby("metric_id")}
    out = []
    for metric in metrics:
        f = shown[metric.id]
        colour = {"ok": "#8be28b", "warning": "#ffcf70", "bad": "#ff8787"}.get(f.status, "#7cc4ff")
        if f.freshness == "stale":
            colour = "#6c757d"
        line = spark.get(metric.id, [])
        if f.partial and metric.aggregate == "sum":
            line = line[:-1]  # a running period's total would show as a false drop at the end
        sig = _hash([metric.id, f.value, f.n, f.change_text, f.period_text, f.shown_status, str(f.data_time),
                     f.freshness, line])
        tile = components.kpi_card(f, variant="wall", sparkline=figures.sparkline_svg(line, colour=colour))
        out.append((sig, tile))
    return out


def _grid_class(count: int) -> str:
    cols = 2 if count <= 4 else 3 if count <= 9 else 4 if count <= 16 else 5
    return f"wall-tiles wall-tiles--c{cols}"


TICKER_MAX = 30  # alerts in the ticker (it scrolls when they do not fit)
TICKER_ORDER = {"open": 0, "snoozed": 1, "acknowledged": 2}


def wall_alerts(metric_ids) -> pd.DataFrame:
    """The episodes of these metrics that are not resolved, for the ticker: open ones first
    (critical first, newest first), then snoozed, then acknowledged (dimmed, with who took
    them). From the episode store: the detector decided they are alerts, the wall does not."""
    frame = episodes.list_episodes(("open", "acknowledged", "snoozed"), limit=2000)
    frame = frame[frame["metric_id"].isin(list(metric_ids))]
    if frame.empty:
        return frame
    frame = frame.assign(_state=frame["state"].map(TICKER_ORDER).fillna(3),
                         _sev=frame["severity"].ne("critical").astype(int))
    return frame.sort_values(["_state", "_sev", "opened_at", "id"], ascending=[True, True, False, False]) \
        .drop(columns=["_state", "_sev"]).reset_index(drop=True)


def _alert_item(row: dict, names: dict) -> html.Li:
    """Two lines, so nothing that matters is cut off: severity, district and since when; then
    the metric and how far out it is. An acknowledged or snoozed alert is dimmed and says who
    took it."""
    metric = registry.get(row["metric_id"])
    where = "Whole city" if row["district_id"] == "city" else names.get(row["district_id"], row["district_id"])
    sev = {"critical": "✖ Critical", "warning": "⚠ Warning"}.get(row["severity"], row["severity"])
    since = pd.Timestamp(row["opened_at"])
    head = [html.Span(sev, className=f"sev sev--{row['severity']}"), " ", html.Span(where, className="alert-where"),
            html.Span(f" · since {since:%H:%M}" if since.date() == datetime.now().date() else f" · since {since:%d %b %H:%M}",
                      className="alert-when")]
    state = row["state"]
    if state == "acknowledged":
        taken = pd.Timestamp(row["acknowledged_at"]) if row.get("acknowledged_at") is not None else None
        head.append(html.Span(f" · ✓ {row.get('acknowledged_by') or '?'}" + (f" {taken:%H:%M}" if taken is not None
                                                                             and not pd.isna(taken) else ""),
                              className="alert-taken"))
    elif state == "snoozed":
        head.append(html.Span(" · ◔ snoozed", className="alert-taken"))
    what = triage.short_far(row, metric)
    return html.Li([html.Div(head, className="alert-head"),
                    html.Div(f"{triage.metric_label(row['metric_id'])}: {what}", className="alert-what"),
                    html.Div(_ticker_facts(row, metric), className="alert-facts-line")],
                   className=f"alert-item alert-item--{state}", **{"data-episode": str(row["id"])})


def _ticker_facts(row: dict, metric) -> str:
    """The period judged and n (against the minimum), in data.facts' words: '13:00 · n = 230 (minimum 5)'."""
    af = facts.of_alert(row, metric)
    return " · ".join(p for p in (af.period_text, af.n_text, "" if af.rated else "not rated") if p)


def screen_size(screen) -> tuple[int, int]:
    """(width, height) the page reported, or (0, 0) when missing or implausible."""
    if not isinstance(screen, dict):
        return 0, 0
    w, h = screen.get("w"), screen.get("h")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 200 <= v <= 20_000 for v in (w, h)):
        return 0, 0
    return int(w), int(h)


def screen_scale(screen) -> float:
    """The screen relative to 1920×1080 (0.6–2.5), from the size the page reported."""
    w, h = screen_size(screen)
    if not w:
        return 1.0
    return round(min(max(min(w / 1920, h / 1080), 0.6), 2.5), 2)


def hold_reason(view: str, alerts: pd.DataFrame, hold_s: int = 0) -> str:
    """Why rotation stays on this view: its open (not acknowledged, not snoozed) critical
    episodes, or ''. The screen holds for at most `hold_s` seconds (the `hold` parameter)."""
    if alerts.empty or hold_s <= 0:
        return ""
    critical = alerts[(alerts["severity"] == "critical") & (alerts["state"] == "open")]
    if critical.empty:
        return ""
    first = critical.iloc[0]
    where = "the city" if first["district_id"] == "city" else common.district_names().get(first["district_id"],
                                                                                             first["district_id"])
    more = f" and {len(critical) - 1} more" if len(critical) > 1 else ""
    limit = f"{hold_s // 60} min" if hold_s % 60 == 0 else f"{hold_s} s"
    return (f"✖ Holding on {wall_layout.view_title(view)} (up to {limit}): open critical alert — "
            f"{triage.metric_label(first['metric_id'])} in {where}{more}")


@dash.callback(
    Output(ids.WALL_TILES, "children"),
    Output(ids.WALL_TILES, "className"),
    Output(ids.WALL_MAP, "figure"),
    Output(ids.WALL_MAP_TITLE, "children"),
    Output(ids.WALL_ALERTS, "children"),
    Output(ids.WALL_HOLD, "data"),
    Output(ids.WALL_HOLD_TEXT, "children"),
    Output(ids.WALL_TITLE, "children"),
    Output(ids.WALL_SIG, "data"),
    Output(ids.WALL_META, "data"),
    Input(ids.WALL_TRIGGER, "data"),
    Input(ids.WALL_VIEW, "data"),
    Input(ids.WALL_SCREEN, "data"),
    State(ids.WALL_CONFIG, "data"),
    State(ids.WALL_SIG, "data"),
)
@guard.requires("wall")
@common.guarded("message", "wall-tiles", figures.empty("No data", figures.WALL), "", [],
                {"view": "", "reason": ""}, "", "City operations", {}, {})
def refresh_wall(_trigger, view, screen, config, sig):
    config = wall_layout.valid_config(config)
    if view not in config["views"]:
        view = config["views"][0]
    sig = _valid_sig(sig)
    same_view = sig.get("view") == view
    shown = wall_layout.view_metrics(view, config)
    available = {m.id: m for m in common.available_metrics()}  # a metric without a source is hidden
    metrics = [available[m.id] for m in shown if m.id in available] or shown
    meta = {"build": wall_layout.BUILD, "scheme": wall_layout.SCHEME}

    tiles = tiles_for(metrics)
    new_sigs = [s for s, _ in tiles]
    old_sigs = sig.get("tiles") if same_view else None
    if old_sigs is not None and len(old_sigs) == len(new_sigs):
        changed = [i for i, (a, b) in enumerate(zip(old_sigs, new_sigs, strict=False)) if a != b]
        if not changed:
            tiles_out = dash.no_update
        else:
            tiles_out = Patch()
            for i in changed:
                tiles_out[i] = tiles[i][1]
    else:
        tiles_out = [t for _, t in tiles]
    cls = _grid_class(len(metrics))
    cls_out = dash.no_update if sig.get("cls") == cls else cls

    alerts = wall_alerts([m.id for m in metrics])
    # The map shows the metric with the most open critical alerts, then the most open ones, else the first.
    live = alerts[alerts["state"] == "open"] if not alerts.empty else alerts
    if not live.empty:
        ranked = live.assign(crit=live["severity"] == "critical").groupby("metric_id")["crit"].agg(["sum", "size"])
        focus_id = ranked.sort_values(["sum", "size"], ascending=False).index[0]
        focus = next(m for m in metrics if m.id == focus_id)
    else:
        focus = metrics[0]
    latest = repository.run("ops/metric_map", metric=focus.id, grain=common.valid_grain("day", focus))
    scale = screen_scale(screen)
    names = lookups.in_layers_of(common.districts(), latest["district_id"])   # the metric's own boundary layer
    shown = names[["district_id"]].merge(latest, on="district_id", how="left").dropna(subset=["value"])
    # Same metric, screen and districts with a value: a new data version only changes the
    # colours, so only the z values are sent (a Patch of a few hundred bytes, not the map).
    map_key = f"{focus.id}@{scale}@{_hash(list(shown['district_id']))}"
    map_version = str(latest.attrs.get("version", ""))
    if same_view and sig.get("map") == map_key and sig.get("map_version") == map_version:
        fig_out, map_title = dash.no_update, dash.no_update
    elif same_view and sig.get("map") == map_key and not shown.empty:
        fig_out, map_title = Patch(), dash.no_update
        fig_out["data"][1]["z"] = [float(v) for v in shown["value"]]
    else:
        fig_out = figures.choropleth(names, latest, focus, template=figures.WALL, show_scale=True)
        # the map's zoom and type follow the screen: a 4K wall shows the same city, not a stamp
        fig_out.update_layout(map_zoom=fig_out.layout.map.zoom + math.log2(scale), font_size=round(20 * scale))
        map_title = f"Map · {focus.label} ({focus.unit})"

    shown_alerts = alerts.head(TICKER_MAX)
    district_names = common.district_names()
    items = [_alert_item(row, district_names) for row in shown_alerts.to_dict("records")] \
        or [html.Li("✓ No open alert")]
    alerts_key = _hash([[r["id"], r["state"], r["severity"], r.get("acknowledged_by"), r.get("message"),
                         r.get("value"), r.get("n"), str(r.get("last_period"))] for r in shown_alerts.to_dict("records")])
    alerts_out = dash.no_update if same_view and sig.get("alerts") == alerts_key else items

    reason = hold_reason(view, alerts, config.get("hold", 0)) if config["rotate"] else ""
    hold = {"view": view, "reason": reason}
    title = config["title"] or wall_layout.view_title(view)
    if config["title"] and view != "all" and len(config["views"]) > 1:
        title = f"{config['title']} · {wall_layout.view_title(view)}"
    new_sig = {"view": view, "tiles": new_sigs, "map": map_key, "map_version": map_version,
               "alerts": alerts_key, "cls": cls,
               "hold": _hash(hold)}
    if same_view and sig.get("hold") == new_sig["hold"]:
        hold_out, hold_text, title_out = dash.no_update, dash.no_update, dash.no_update
    else:
        hold_out, hold_text, title_out = hold, reason, title
    _heartbeat(screen, config, view)
    return tiles_out, cls_out, fig_out, map_title, alerts_out, hold_out, hold_text, title_out, new_sig, meta


def _heartbeat(screen, config: dict, view: str) -> None:
    """Record this screen's successful refresh; a failed write never breaks the wall."""
    if not isinstance(screen, dict) or not isinstance(screen.get("id"), str):
        return
    width, height = screen_size(screen)
    principal = access.current()
    try:
        wall_screens.beat(screen["id"], profile=config["profile"] or "", view=view,
                          width=width, height=height, refresh_s=config["refresh"],
                          owner=users.owner_of(principal), owner_gone=users.owner_gone)
    except Exception:
        log.exception("wall heartbeat failed")


@dash.callback(Output(ids.WALL_SCREENS_TABLE, "children"), Input(ids.WALL_SCREENS_TICK, "n_intervals"))
@guard.requires("read")
@common.guarded("message")
def screens_table(_n):
    rows = []
    for s in wall_screens.screens():
        state = (f"✖ silent since {s['last_ok']:%d %b %H:%M}" if s["silent"] else "✓ reporting")
        rows.append({"screen": s["screen_id"], "profile": s["profile"] or "(URL)", "view": s["view"],
                     "resolution": f"{s['width']}×{s['height']}" if s["width"] else "?",
                     "refresh": f"{s['refresh_s']} s", "last": f"{s['last_ok']:%d %b %H:%M:%S}",
                     "refreshes": s["refreshes"], "state": state})
    frame = pd.DataFrame(rows, columns=["state", "screen", "profile", "view", "resolution", "refresh", "last",
                                        "refreshes"])
    return components.table(frame, {"state": "State", "screen": "Screen", "profile": "Profile", "view": "View",
                                    "resolution": "Resolution", "refresh": "Refresh", "last": "Last refresh",
                                    "refreshes": "Refreshes"},
                            empty="No wall screen has reported yet.")
