"""What the operator's pages show about alert episodes: the work queue (filtered, sorted,
grouped, each row with its facts and links), the recent values behind each alert's sparkline,
and the other domains' signals in the same district and hours. Episodes come from
``data.episodes`` (the detector decides what is an alert; nothing here does), values from the
ops snapshot through ``data.repository`` (district scoping applies)."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pandas as pd

from data import access, annotations, episodes, facts, lookups, registry, repository

STATES = episodes.STATES
SORTS = {"severity": "critical first, then newest", "newest": "newest first", "oldest": "oldest first",
         "furthest": "furthest out of band first"}
GROUPS = ("none", "district", "domain")
RESOLVED_DAYS = 7      # resolved episodes shown in the queue: the last week's
SPARK_POINTS = 24
GRAIN_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7),
              "month": timedelta(days=31)}
RULE_TEXT = {"threshold": "over its threshold", "anomaly": "outside its expected band",
             "forecast": "forecast to cross its target", "no_data": "no data",
             "release": "the current release does not open; an older one is served"}


SYSTEM_LABELS = {"published_release": "Published data release"}  # episodes that are not a registry metric's


def metric_label(metric_id: str) -> str:
    """What the pages call the metric of an episode (a registry metric, or a system check)."""
    metric = registry.get(metric_id)
    return metric.label if metric is not None else SYSTEM_LABELS.get(metric_id, metric_id)


def _ts(value) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        return None


def ago(then, now: datetime) -> str:
    """'3 h 20 min', '2 d 4 h', '12 min' since `then`."""
    then = _ts(then)
    if then is None:
        return ""
    minutes = max(0, int((pd.Timestamp(now) - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if hours < 10 else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


SEVERITY_TEXT = {"critical": "✖ Critical", "warning": "⚠ Warning"}  # with the icon: colour is never the only signal
STATE_TEXT = {"open": "● Open", "acknowledged": "✓ Acknowledged", "snoozed": "◔ Snoozed", "resolved": "✔ Resolved"}


def short_time(value) -> str:
    """'Mon 03 Dec 14:05' (empty for no time): how the alert pages write a moment."""
    ts = None if value is None or (not isinstance(value, str) and pd.isna(value)) else pd.Timestamp(value)
    return "" if ts is None else f"{ts:%a %d %b %H:%M}"


def state_text(ep) -> str:
    """An episode's state as the pages write it: who acknowledged it and when, until when it is
    snoozed, when it was resolved, and whom it is assigned to."""
    state = ep["state"]
    text = STATE_TEXT.get(state, state)
    if state == "acknowledged" and isinstance(ep.get("acknowledged_by"), str):
        text += f" by {ep['acknowledged_by']} {short_time(ep.get('acknowledged_at'))}"
    elif state == "snoozed":
        text += f" until {short_time(ep.get('snoozed_until'))}"
    elif state == "resolved":
        text += f" {short_time(ep.get('resolved_at'))}"
    if isinstance(ep.get("assignee"), str) and ep["assignee"]:
        text += f" · assigned to {ep['assignee']}"
    return text


def how_far(ep: dict, metric: registry.Metric | None) -> str:
    """How far out the alert's value is, against what it was compared with (band, target or
    forecast), in the metric's format."""
    fmt = (lambda v: metric.format_value(v)) if metric is not None else (lambda v: f"{v:.4g}")
    unit = f" {metric.unit}" if metric is not None and metric.unit else ""
    value, lower, upper, target = (ep.get(k) for k in ("value", "lower", "upper", "target"))
    if ep.get("rule") == "no_data":
        return "no data in the expected time"
    if ep.get("rule") == "release":
        return "the site serves an older release"
    if ep.get("rule") == "forecast" and ep.get("forecast_at") is not None and facts.known(target):
        at = _ts(ep["forecast_at"])
        return f"forecast to reach {fmt(target)}{unit} at {at:%a %H:%M}" if at is not None else ""
    if not facts.known(value):
        return ""
    if facts.known(lower) and facts.known(upper):
        band = f"expected {fmt(lower)}–{fmt(upper)}{unit}"
        if value > upper:
            return f"{fmt(value)}{unit}: {fmt(value - upper)} above the band ({band})"
        if value < lower:
            return f"{fmt(value)}{unit}: {fmt(lower - value)} below the band ({band})"
        return f"{fmt(value)}{unit}: back in the band ({band})"
    if facts.known(target):
        gap = value - target
        return f"{fmt(value)}{unit}: {fmt(abs(gap))} {'over' if gap > 0 else 'under'} the target {fmt(target)}"
    return f"{fmt(value)}{unit}"


def short_far(ep: dict, metric: registry.Metric | None) -> str:
    """The wall's short form: '41.0 % (expected 12.0–20.0 %)', '97 % (target 85)'."""
    fmt = (lambda v: metric.format_value(v)) if metric is not None else (lambda v: f"{v:.4g}")
    unit = f" {metric.unit}" if metric is not None and metric.unit else ""
    value, lower, upper, target = (ep.get(k) for k in ("value", "lower", "upper", "target"))
    if ep.get("rule") in ("no_data", "forecast", "release") or not facts.known(value):
        return how_far(ep, metric)
    if facts.known(lower) and facts.known(upper):
        return f"{fmt(value)}{unit} (expected {fmt(lower)}–{fmt(upper)})"
    if facts.known(target):
        return f"{fmt(value)}{unit} (target {fmt(target)})"
    return f"{fmt(value)}{unit}"


def explore_href(ep: dict) -> str:
    """The explorer at the alert's metric, district and time: the week before it up to now."""
    grain = ep.get("grain") if ep.get("grain") in ("hour", "day", "week", "month") else "day"
    last = _ts(ep.get("last_period")) or _ts(ep.get("opened_at")) or pd.Timestamp(datetime.now())
    first = _ts(ep.get("first_period")) or last
    span = {"hour": timedelta(days=3), "day": timedelta(days=28), "week": timedelta(days=120),
            "month": timedelta(days=730)}[grain]
    start = (first - span).date()
    if grain == "hour":
        start = max(start, last.date() - timedelta(days=29))  # the explorer shows hours for up to a month
    params = {"metric": ep.get("metric_id"), "range": "custom", "start": start.isoformat(),
              "end": last.date().isoformat(), "grain": grain}
    if ep.get("district_id") not in (None, "city"):
        params["districts"] = ep["district_id"]
    return "/explore?" + urlencode(params)


def out_of_band(ep: dict) -> float:
    """How far out, relative to the band's width (or the target): for sorting."""
    value, lower, upper, target = (ep.get(k) for k in ("value", "lower", "upper", "target"))
    if facts.known(value) and facts.known(lower) and facts.known(upper):
        width = max(abs(upper - lower), 1e-9)
        return max(value - upper, lower - value, 0) / width
    if facts.known(value) and facts.known(target):
        return abs(value - target) / (abs(target) or 1.0)
    return 0.0


def queue(*, states=("open", "acknowledged", "snoozed"), domain=None, district=None, severity=None,
          sort="severity", now: datetime | None = None, limit: int = 300) -> pd.DataFrame:
    """The work queue: episodes the caller may see, filtered (`states`, `domain`, `district`,
    `severity`, all validated by the caller), sorted; resolved ones of the last week only.
    One row per episode with the page's text columns added."""
    now = now or datetime.now()
    frame = episodes.list_episodes(states, domain=domain, districts=[district] if district else None, limit=2000)
    if severity in episodes.SEVERITIES:
        frame = frame[frame["severity"] == severity]
    if "resolved" in states and not frame.empty:
        old = frame["state"].eq("resolved") & (frame["resolved_at"] < pd.Timestamp(now - timedelta(days=RESOLVED_DAYS)))
        frame = frame[~old]
    metrics = registry.metrics()
    names = lookups.district_names()
    rows = []
    for ep in frame.to_dict("records"):
        metric = metrics.get(ep["metric_id"])
        ep["metric"] = metric_label(ep["metric_id"])
        ep["unit"] = metric.unit if metric else ""
        ep["domain_label"] = registry.DOMAIN_LABELS.get(ep.get("domain") or "", ep.get("domain") or "")
        ep["district"] = "Whole city" if ep["district_id"] == "city" else names.get(ep["district_id"], ep["district_id"])
        ep["since"] = ago(ep["opened_at"], now)
        ep["how_far"] = how_far(ep, metric)
        ep["facts"] = facts.of_alert(ep, metric).line  # the same words as the cards (data.facts)
        ep["out"] = out_of_band(ep)
        ep["explore"] = explore_href(ep)
        ep["href"] = f"/alerts/{ep['id']}"
        rows.append(ep)
    out = pd.DataFrame(rows, columns=[*episodes.COLUMNS, "metric", "unit", "domain_label", "district", "since",
                                      "how_far", "facts", "out", "explore", "href"])
    if out.empty:
        return out
    live_first = out["state"].map({"open": 0, "snoozed": 1, "acknowledged": 2, "resolved": 3})
    crit = out["severity"].ne("critical").astype(int)
    opened = out["opened_at"]
    if sort == "newest":
        keys, asc = [opened], [False]
    elif sort == "oldest":
        keys, asc = [opened], [True]
    elif sort == "furthest":
        keys, asc = [out["out"], opened], [False, False]
    else:
        keys, asc = [live_first, crit, opened], [True, True, False]
    order = pd.DataFrame({f"k{i}": k.values for i, k in enumerate(keys)}, index=out.index)
    order = order.sort_values(list(order.columns), ascending=asc, kind="stable").index
    return out.loc[order].head(limit).reset_index(drop=True)


STANDING_NOTE = ("Standing status, not alerts: off target over the latest complete week, for metrics "
                 "whose trouble builds over weeks (resident satisfaction, requests closed on time, median "
                 "hours to close, transit riders). They are reviewed, not raised as early warnings, so they "
                 "open no alert episode and do not hold the wall.")


def standing(now: datetime | None = None) -> pd.DataFrame:
    """The standing off-target status: for each metric marked `standing` in the registry, the
    districts (and the city) whose latest complete week is off target, rated by data.facts
    (no rating below the metric's min_n: those are counted apart, never listed as off target).
    Columns: metric_id, metric, district_id, district, period_text, value_text, target_text,
    n, status, gap (how far from the target, in the metric's unit; for sorting)."""
    from data import facts

    metrics = [m for m in registry.metrics().values() if m.standing]
    columns = ["metric_id", "metric", "district_id", "district", "period_text", "value_text", "target_text", "n",
               "status", "gap"]
    if not metrics:
        return pd.DataFrame(columns=columns)
    now = now or datetime.now()
    frame = repository.run("ops/standing_off_target", metrics=[m.id for m in metrics])
    names = lookups.district_names()
    rows, unrated = [], 0
    by_id = {m.id: m for m in metrics}
    for r in frame.to_dict("records"):
        metric = by_id[r["metric_id"]]
        period = pd.Timestamp(r["period"]).to_pydatetime()
        f = facts.make(metric, district=r["district_id"], grain="week", period=period,
                       through=facts.period_end(period, "week"), value=r["value"], n=r["n"], reference=None,
                       data_time=None, now=now)
        if f.status is None:
            unrated += 1
            continue
        if f.status not in ("bad", "warning"):
            continue
        rows.append({"metric_id": metric.id, "metric": metric.label, "district_id": r["district_id"],
                     "district": "Whole city" if r["district_id"] == "city" else names.get(r["district_id"], r["district_id"]),
                     "period_text": f.period_text, "value_text": f"{metric.format_value(f.value)} {metric.unit}",
                     "target_text": f"{metric.format_value(metric.target)} {metric.unit}", "n": f.n,
                     "status": f.status, "gap": abs(f.value - metric.target)})
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["unrated"] = unrated
    return out.sort_values(["metric", "status", "gap"], ascending=[True, True, False]).reset_index(drop=True) \
        if not out.empty else out


def recent_values(frame: pd.DataFrame, now: datetime | None = None) -> dict[int, list[float]]:
    """Episode id → the last SPARK_POINTS values of its metric in its district (at its grain),
    up to its last period: one query per metric and grain."""
    out: dict[int, list[float]] = {}
    if frame.empty:
        return out
    for (metric_id, grain), group in frame.groupby(["metric_id", "grain"], dropna=False):
        if grain not in GRAIN_STEP or registry.get(metric_id) is None:
            continue
        last = max((_ts(v) for v in group["last_period"] if _ts(v) is not None), default=None)
        if last is None:
            continue
        start = last - GRAIN_STEP[grain] * (SPARK_POINTS * 2)
        series = repository.run("ops/metric_series", metric=metric_id, grain=grain,
                                districts=sorted(set(group["district_id"])), start=start.to_pydatetime(),
                                end=(last + GRAIN_STEP[grain]).to_pydatetime())
        for ep in group.itertuples():
            own = series[series["district_id"] == ep.district_id]
            end = _ts(ep.last_period)
            if end is not None:
                own = own[own["period"] <= end]
            out[int(ep.id)] = [float(v) for v in own["value"].tail(SPARK_POINTS)]
    return out


def series_around(ep: dict) -> pd.DataFrame:
    """The alert's metric in its district around the episode: from a stretch before it to its
    last period (period, value, n)."""
    grain = ep.get("grain") if ep.get("grain") in GRAIN_STEP else "day"
    first = _ts(ep.get("first_period")) or _ts(ep.get("opened_at"))
    last = _ts(ep.get("last_period")) or first
    if first is None or registry.get(ep["metric_id"]) is None:
        return pd.DataFrame(columns=["district_id", "period", "value", "n"])
    before = GRAIN_STEP[grain] * {"hour": 48, "day": 28, "week": 16, "month": 12}[grain]
    return repository.run("ops/metric_series", metric=ep["metric_id"], grain=grain, districts=[ep["district_id"]],
                          start=(first - before).to_pydatetime(), end=(last + GRAIN_STEP[grain] * 2).to_pydatetime())


def window(ep: dict) -> tuple[datetime, datetime]:
    """The hours the alert covers (its first period to the end of its last), at least six
    hours and at most a week, for the cross-domain view."""
    grain = ep.get("grain") if ep.get("grain") in GRAIN_STEP else "day"
    first = _ts(ep.get("first_period")) or _ts(ep.get("opened_at")) or pd.Timestamp(datetime.now())
    last = (_ts(ep.get("last_period")) or first) + GRAIN_STEP[grain]
    if last - first < timedelta(hours=6):
        first = last - timedelta(hours=6)
    if last - first > timedelta(days=7):
        first = last - timedelta(days=7)
    return first.to_pydatetime(), last.to_pydatetime()


def signals(ep: dict) -> dict[str, pd.DataFrame]:
    """The other domains' signals in the alert's district and hours, against the same hours a
    week earlier: every metric (hourly where published, else daily) as value, week-earlier
    value and n; the other alerts in the district then; recorded incidents and annotations
    overlapping the hours. Frames are scoped like every ops query."""
    start, end = window(ep)
    district = ep["district_id"]
    metrics = [m for m in (lookups.available_metrics() or list(registry.metrics().values()))
               if m.id != ep["metric_id"]]
    rows = []
    for grain in ("hour", "day"):
        chosen = [m for m in metrics if grain in m.grains and (grain == "hour" or "hour" not in m.grains)]
        if not chosen:
            continue
        lo = start if grain == "hour" else datetime.combine(start.date(), datetime.min.time())
        hi = end if grain == "hour" else datetime.combine((end - timedelta(seconds=1)).date(), datetime.min.time()) + timedelta(days=1)
        now_f = repository.run("ops/metric_history", metrics=[m.id for m in chosen], grain=grain, district=district,
                               start=lo, end=hi)
        week_f = repository.run("ops/metric_history", metrics=[m.id for m in chosen], grain=grain, district=district,
                                start=lo - timedelta(days=7), end=hi - timedelta(days=7))
        for m in chosen:
            cur, ref = now_f[now_f["metric_id"] == m.id], week_f[week_f["metric_id"] == m.id]
            if cur.empty:
                continue
            # like with like: only the periods that have a value both now and a week earlier
            both = set(cur["period"]) & {p + pd.Timedelta(days=7) for p in ref["period"]}
            agg = "sum" if m.aggregate == "sum" else "mean"
            if both:
                cur = cur[cur["period"].isin(both)]
                ref = ref[(ref["period"] + pd.Timedelta(days=7)).isin(both)]
            value = float(getattr(cur["value"], agg)())
            before = float(getattr(ref["value"], agg)()) if both else None
            rows.append({"domain": m.domain, "domain_label": registry.DOMAIN_LABELS[m.domain], "metric_id": m.id,
                         "metric": m.label, "unit": m.unit, "grain": grain, "periods": len(cur),
                         "value": value, "week_before": before,
                         "value_text": f"{m.format_value(value)} {m.unit}",
                         "week_before_text": f"{m.format_value(before)} {m.unit}" if before is not None else "–",
                         "change": None if before in (None, 0) else (value - before) / abs(before)})
    metric_frame = pd.DataFrame(rows, columns=["domain", "domain_label", "metric_id", "metric", "unit", "grain",
                                               "periods", "value", "week_before", "value_text",
                                               "week_before_text", "change"])
    others = episodes.list_episodes(("open", "acknowledged", "snoozed", "resolved"), districts=[district])
    if not others.empty:
        # by the periods the alerts are about (data time), not by when they were opened
        first = others["first_period"].fillna(others["last_period"])
        last = others["last_period"].fillna(first) + pd.Timedelta(days=1)
        others = others[(others["id"] != ep["id"]) & (first < pd.Timestamp(end)) & (last > pd.Timestamp(start))]
    incidents = repository.run("ops/incidents", start=start, end=end)
    notes = access.scope_frame(annotations.between(start, end))
    both = pd.concat([incidents, notes.drop(columns=["created_by"], errors="ignore")], ignore_index=True) \
        if not notes.empty else incidents
    if not both.empty:
        both = both[both["district_id"].isna() | both["district_id"].isin([district, "city"])]
    requests = pd.DataFrame()
    principal = access.current()
    if district != "city" and principal is not None and principal.can("records"):
        try:
            requests = repository.run("ops/alert_requests", district=district, start=start, end=end)
        except access.AccessDenied:
            requests = pd.DataFrame()
    return {"metrics": metric_frame, "alerts": others.reset_index(drop=True), "incidents": both.reset_index(drop=True),
            "requests": requests, "window": pd.DataFrame({"start": [start], "end": [end]})}
