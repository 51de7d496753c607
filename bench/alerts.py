"""Alert benchmark: the new detector and today's rule, replayed on the same labelled history.

    python -m bench.alerts [--days 91] [--scale 1.0] [--seed N] [--end 2026-11-24T06] [--json]

A demo city is built in a temporary var dir with its labelled incidents (data/demo/incidents.py,
table ``labelled_incidents``). The history is then replayed hour by hour as the live feed
would deliver it (step at hh:30: records up to that time, nothing later): at every step

* the **new detector** (data/detect.py) judges every metric with an alert policy on its
  complete periods (an hourly metric every hour, a daily one at midnight, a weekly one on
  Mondays) and records episodes in a real ops store (data/episodes.py); an *alert* is an
  episode opened (or reopened);
* **today's rule** (callbacks/ops/alerts.current_alerts: the latest value at day grain,
  the partial current day included, against the target) is computed for every metric with a
  target; an *alert* is a (metric, district) entering the bad/warning state (a row appearing
  on /alerts), which is the most generous way to count it.

Scoring, both the same way: an alert is **true** when a labelled incident of that metric was
under way in that district (or, for a city-wide alert, anywhere) between its start and 6 h
after its end; alerts during a recorded city-wide incident (storm, strike, borough sensor
outage, up to two days after) in its domain are counted apart as explained. **Recall**: the
labelled incidents (after the baseline warm-up) with a true alert in their district;
**time to detect**: hours from the incident's start to that alert (a period is an hour for
every labelled metric); **false alerts per 100 district-days** over every district and the
city. At the end of the replay (a shift start, 06:30) the alerts an operator would find are
counted: open episodes vs today's rows, and how many rest on fewer records than the metric's
minimum n.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

GRACE = timedelta(hours=6)
# which metrics a recorded (not labelled) demo incident moves (data/demo/incidents.py): alerts on them
# during it are explained, neither true nor false
RECORDED_EFFECTS = {
    "storm": lambda m: True,
    "strike": lambda m: m.domain == "waste" or m.id.startswith("sr_") or m.id == "satisfaction_score",
    "sensor_outage": lambda m: m.domain == "parking",
}
EXPLAINED_AFTER = timedelta(days=2)


def _series(con, metric, grain, start, end):
    return con.execute(metric.sql, {"grain": grain, "start": start, "end": end}).df()


class TodaysRule:
    """The latest day value of every metric with a target at replay time `now`, the partial
    current day included (what /alerts shows today). Additive metrics (sum, ratio, mean) are
    summed from their hourly rows up to the last full hour (checked against the metric's own
    day SQL on a partial day; otherwise the day SQL runs at every step); day-dated sources give
    yesterday."""

    def __init__(self, con, metrics, start, end):
        self.con, self.metrics = con, metrics
        self.hourly, self.scale, self.cache = {}, {}, {}
        for m in metrics:
            if not _day_available(m) or m.aggregate == "median" or m.aggregate == "level":
                continue
            rows = _series(con, m, "hour", start, end + timedelta(hours=1))
            day = start.replace(hour=0) + timedelta(days=3)
            upto = day + timedelta(hours=14)  # a partial day, as the rule sees it
            check = _series(con, m, "day", day, upto).set_index("district_id")
            got = self._combine(m, rows[(rows["period"] >= day) & (rows["period"] < upto)])
            joined = check.join(got.add_suffix("_h"), how="inner")
            if len(joined) and np.allclose(joined["value"], joined["value_h"], rtol=1e-6, equal_nan=True):
                self.hourly[m.id] = rows.sort_values("period").reset_index(drop=True)

    def _combine(self, m, rows):
        g = rows.groupby("district_id")
        if m.aggregate == "sum":
            out = g.agg(value=("value", "sum"), n=("n", "sum"))
        else:
            out = g.agg(num=("numerator", "sum"), den=("denominator", "sum"), n=("n", "sum"))
            k = self.scale.get(m.id)
            if k is None:
                ok = rows[(rows["denominator"] > 0) & (rows["numerator"] > 0)]
                k = float(np.median(ok["value"] / (ok["numerator"] / ok["denominator"]))) if len(ok) else 1.0
                self.scale[m.id] = k
            out["value"] = np.where(out["den"] > 0, k * out["num"] / out["den"].where(out["den"] > 0), np.nan)
        return out[["value", "n"]]

    def rows(self, now: datetime) -> list[tuple[str, str, float, int]]:
        """At `now` (hh:30), the records up to hh:00: the same information the detector has."""
        now = now.replace(minute=0, second=0, microsecond=0)
        day0 = now.replace(hour=0)
        out = []
        for m in self.metrics:
            if m.id in self.hourly:
                h = self.hourly[m.id]
                lo, hi = h["period"].searchsorted(pd.Timestamp(day0)), h["period"].searchsorted(pd.Timestamp(now))
                frame = self._combine(m, h.iloc[lo:hi]).reset_index()
            elif _day_available(m):
                frame = _series(self.con, m, "day", day0, now)
            else:  # day-dated sources: yesterday is the latest day that has arrived
                key = (m.id, day0)
                if key not in self.cache:
                    self.cache[key] = _series(self.con, m, "day", day0 - timedelta(days=1), day0)
                frame = self.cache[key]
            for r in frame.itertuples():
                if r.value == r.value:
                    out.append((m.id, r.district_id, float(r.value), int(r.n or 0)))
        return out


def _day_available(metric) -> bool:
    """Whether a partial current day can be computed (timestamped records, hourly cadence)."""
    return metric.cadence <= timedelta(hours=1)


class Scorer:
    def __init__(self, labels: pd.DataFrame, recorded: pd.DataFrame, metrics):
        self.labels = labels
        self.recorded = recorded
        self.metrics = metrics

    def classify(self, metric_id: str, district_id: str, at: datetime) -> tuple[str, str | None]:
        """('true', incident id) | ('explained', None) | ('false', None)."""
        lab = self.labels
        hit = lab[lab["metrics"].map(lambda ms: metric_id in ms) & (lab["starts_at"] <= at)
                  & (lab["ends_at"] + GRACE >= at)]
        if district_id != "city":
            hit = hit[hit["district_id"] == district_id]
        if len(hit):
            return "true", str(hit["incident_id"].iloc[0])
        metric = self.metrics[metric_id]
        rec = self.recorded
        rec = rec[(rec["starts_at"] <= at) & (rec["ends_at"] + EXPLAINED_AFTER >= at)]
        rec = rec[[RECORDED_EFFECTS.get(kind, lambda m: True)(metric) for kind in rec["kind"]]]
        if len(rec):
            return "explained", None
        return "false", None


def _summary(name, alerts: list[dict], labels: pd.DataFrame, district_days: float) -> dict:
    frame = pd.DataFrame(alerts, columns=["metric_id", "district_id", "at", "rule", "kind", "incident", "n"])
    true = frame[frame["kind"] == "true"]
    false = frame[frame["kind"] == "false"]
    judged = len(true) + len(false)
    detected = {}
    for row in true.itertuples():
        detected.setdefault(row.incident, row.at)
    eligible = labels[labels["eligible"]]
    ttd = [max(0.0, (detected[i] - s).total_seconds() / 3600) for i, s in zip(eligible["incident_id"],
                                                                             eligible["starts_at"], strict=False) if i in detected]
    per_kind = {}
    for kind, group in eligible.groupby("kind"):
        times = [(detected[i] - s).total_seconds() / 3600 for i, s in zip(group["incident_id"], group["starts_at"], strict=False)
                 if i in detected]
        per_kind[kind] = (f"{sum(i in detected for i in group['incident_id'])}/{len(group)}"
                          + (f" (TTD {np.median(times):.0f})" if times else ""))
    small = eligible[eligible["small_district"]]
    per_kind["small districts"] = f"{sum(i in detected for i in small['incident_id'])}/{len(small)}"
    return {
        "detector": name, "alerts": int(len(frame)), "true": int(len(true)), "false": int(len(false)),
        "explained": int((frame["kind"] == "explained").sum()),
        "precision": round(len(true) / judged, 3) if judged else float("nan"),
        "recall": round(sum(i in detected for i in eligible["incident_id"]) / len(eligible), 3) if len(eligible) else float("nan"),
        "median_ttd_periods": float(np.median(ttd)) if ttd else float("nan"),
        "false_per_100_district_days": round(100 * len(false) / district_days, 2),
        "recall_by_kind": per_kind,
        "false_by_metric": false.groupby(["metric_id", "rule"]).size().sort_values(ascending=False).head(8).to_dict(),
        "breakdown": _breakdown(frame, eligible, detected),
    }


def _breakdown(frame: pd.DataFrame, eligible: pd.DataFrame, detected: dict) -> pd.DataFrame:
    """Per metric x rule: true, false and explained alerts, the false ones on fewer than 5
    records, and (per labelled metric) the incidents missed."""
    if not len(frame):
        return pd.DataFrame(columns=["true", "false", "explained", "false_n<5", "missed"])
    n = frame["n"] if "n" in frame.columns else pd.Series(np.nan, index=frame.index)
    f = frame.assign(small=(frame["kind"] == "false") & (n.fillna(1e9) < 5))
    out = f.pivot_table(index=["metric_id", "rule"], columns="kind", values="at", aggfunc="count", fill_value=0)
    out = out.reindex(columns=["true", "false", "explained"], fill_value=0)
    out["false_n<5"] = f[f["small"]].groupby(["metric_id", "rule"]).size()
    missed = eligible[~eligible["incident_id"].isin(detected)]
    per_metric = missed.explode("metrics").groupby("metrics").size()
    first = {}
    for m, r in out.index:
        first.setdefault(m, r)
    out["missed"] = [per_metric.get(m, 0) if first[m] == r else 0 for m, r in out.index]
    for m, k in per_metric.items():
        if m not in first:
            out.loc[(m, "(no alert)"), :] = 0
            out.loc[(m, "(no alert)"), "missed"] = k
    return out.fillna(0).astype(int)


def _oracle(missed: pd.DataFrame, panels: dict, metrics) -> pd.DataFrame:
    """For each missed incident on a count metric: the requests in its exact hours, the mean of
    the same hours over the 14 days before, and the Poisson chance of as many with nothing
    changed. No detector can know the hours in advance; a chance above the policy's tail
    (sensitivity) even so means the incident cannot be told from noise at that false-alert rate."""
    from scipy import stats

    rows = []
    for inc in missed.itertuples():
        for mid in inc.metrics:
            m, p = metrics.get(mid), panels.get(mid)
            if m is None or p is None or m.aggregate != "sum" or inc.district_id not in p.districts:
                continue
            d = p.districts.index(inc.district_id)
            cols = (p.periods >= inc.starts_at) & (p.periods < inc.ends_at)
            x = float(np.nansum(p.value[d, cols]))
            before = [float(np.nansum(p.value[d, (p.periods >= inc.starts_at - timedelta(days=k))
                                                 & (p.periods < inc.ends_at - timedelta(days=k))])) for k in range(1, 15)]
            mu = float(np.mean(before))
            rows.append({"incident": inc.incident_id, "hours": int(cols.sum()), "size": inc.size, "observed": int(x),
                         "expected": round(mu, 1), "chance": float(f"{stats.poisson.sf(x - 1, mu):.2g}") if mu > 0 else 0.0,
                         "policy tail": float(f"{stats.norm.sf(m.alert.sensitivity):.2g}")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--end", default="2026-11-24T06", help="last hour of data (a shift starts 30 min later)")
    parser.add_argument("--warmup-days", type=int, default=15, help="days of history before detection starts")
    parser.add_argument("--settle-days", type=int, default=14,
                        help="days detection runs before alerts are scored (standing conditions open first)")
    parser.add_argument("--holdout-days", type=int, default=30,
                        help="the last days of the scored window, reported apart (held-out check)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--list", choices=("false", "true", "all", "missed"), default=None,
                        help="also list the new detector's alerts of that kind (or the missed incidents)")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="cityops-bench-alerts-")
    os.environ["CITYOPS_VAR_DIR"] = tmp
    from data import access, demo, detect, episodes, registry, warehouse

    end = datetime.strptime(args.end, "%Y-%m-%dT%H")
    t0 = time.perf_counter()
    db = Path(tmp) / "warehouse.duckdb"
    summary = demo.build(db, seed=args.seed, days=args.days, end=end, scale=args.scale, progress=False)
    con = warehouse.connect(db)
    start = end - timedelta(days=args.days)
    build_s = time.perf_counter() - t0

    labels = con.execute("SELECT incident_id, kind, district_id, starts_at, ends_at, metrics, size, small_district "
                         "FROM labelled_incidents ORDER BY starts_at").df()
    labels["metrics"] = labels["metrics"].map(list)
    detect_from = start + timedelta(days=args.warmup_days)
    score_from = detect_from + timedelta(days=args.settle_days)
    labels["eligible"] = (labels["starts_at"] >= score_from) & (labels["ends_at"] <= end)
    recorded = con.execute("SELECT kind, domain, district_id, starts_at, ends_at FROM incidents").df()
    metrics = registry.metrics()
    policed = [m for m in metrics.values() if m.alert is not None]
    targeted = [m for m in metrics.values() if m.target is not None]
    districts = con.execute("SELECT district_id FROM districts WHERE NOT is_joint_area ORDER BY 1").df()["district_id"].tolist()
    scorer = Scorer(labels, recorded, metrics)

    # the detector's inputs: each policed metric at its grain over the whole history (a period
    # is only ever judged once complete, so no later record reaches an earlier judgement)
    panels = {}
    for m in policed:
        frame = _series(con, m, m.alert.grain, start, end + timedelta(days=1))
        panels[m.id] = detect.panel(frame, m.alert.grain, start, end + timedelta(days=8), count=detect.is_count(m),
                                    districts=districts + ["city"])
    todays = TodaysRule(con, targeted, start, end)
    steps = pd.date_range(detect_from + timedelta(minutes=30), end + timedelta(minutes=30), freq="1h")
    new_alerts, old_alerts = [], []
    previous_old: set = set()
    old_rows_at_end = None
    t1 = time.perf_counter()
    eval_s = record_s = old_s = 0.0
    with access.system():
        for now in steps:
            now = now.to_pydatetime()
            detections = []
            a = time.perf_counter()
            for m in policed:
                grain = m.alert.grain
                newest = detect.last_complete(now, grain)
                if grain != "hour" and detect.last_complete(now - timedelta(hours=1), grain) == newest:
                    continue  # nothing new completed for this grain in the last hour
                detections.extend(detect.evaluate(m, panels[m.id], now))
            b = time.perf_counter()
            for change in episodes.record(detections, now=now, version="bench"):
                if change["action"] in ("opened", "reopened") and now >= score_from:
                    ep = episodes.get(change["episode_id"])
                    kind, inc = scorer.classify(change["metric_id"], change["district_id"], now)
                    new_alerts.append({"metric_id": change["metric_id"], "district_id": change["district_id"], "at": now,
                                       "rule": change["rule"], "kind": kind, "incident": inc, "n": ep["n"],
                                       "message": ep["message"]})
            c = time.perf_counter()
            # today's rule: latest day value (partial day included) vs target
            if now < score_from - timedelta(hours=1):
                eval_s += b - a
                record_s += time.perf_counter() - b
                continue
            current: set = set()
            rows = []
            for mid, district, value, n in todays.rows(now):
                if metrics[mid].status(value) in ("bad", "warning"):
                    current.add((mid, district))
                    rows.append((mid, district, n))
            for key in (current - previous_old) if now >= score_from else ():
                kind, inc = scorer.classify(key[0], key[1], now)
                old_alerts.append({"metric_id": key[0], "district_id": key[1], "at": now, "rule": "latest vs target",
                                   "kind": kind, "incident": inc})
            previous_old = current
            old_rows_at_end = rows
            d = time.perf_counter()
            eval_s += b - a
            record_s += c - b
            old_s += d - c
        open_now = episodes.list_episodes()
    replay_s = time.perf_counter() - t1
    days_scored = (end - score_from).total_seconds() / 86400
    district_days = (len(districts) + 1) * days_scored
    new = _summary("new detector", new_alerts, labels, district_days)
    old = _summary("today's rule", old_alerts, labels, district_days)
    # held out: the last --holdout-days of the scored window, judged apart from the days before
    # (the detector's constants were chosen looking at the earlier part only)
    split = end - timedelta(days=args.holdout_days)
    parts = {}
    for part, keep_a, keep_l, days in (
            ("earlier", lambda t: t < split, labels["starts_at"] < split, (split - score_from).total_seconds() / 86400),
            (f"last {args.holdout_days} d", lambda t: t >= split, labels["starts_at"] >= split,
             (end - split).total_seconds() / 86400)):
        dd = (len(districts) + 1) * max(days, 1e-9)
        parts[part] = (_summary("new", [a for a in new_alerts if keep_a(a["at"])], labels[keep_l], dd),
                       _summary("old", [a for a in old_alerts if keep_a(a["at"])], labels[keep_l], dd))
    below_new = int(sum(int(r.n or 0) < detect.min_n(metrics[r.metric_id]) for r in open_now.itertuples()
                        if r.rule != "no_data"))
    below_old = int(sum(n < detect.min_n(metrics[mid]) for mid, _d, n in old_rows_at_end or []))
    shift = {"at": f"{steps[-1]:%a %d %b %H:%M}", "new_open_alerts": int(len(open_now)),
             "new_below_min_n": below_new, "old_rows": len(old_rows_at_end or []), "old_below_min_n": below_old,
             "new_by_rule": open_now.groupby("rule").size().to_dict(),
             "new_by_metric": open_now.groupby("metric_id").size().sort_values(ascending=False).to_dict()}
    con.close()

    print(f"alert benchmark: demo seed={summary['seed']} days={args.days} scale={args.scale:g} end={end:%Y-%m-%dT%H}, "
          f"{summary['total_rows']:,} rows, {len(labels)} labelled incidents ({int(labels['eligible'].sum())} scored "
          f"after a {args.warmup_days}-day warm-up), {len(districts)} districts + city, "
          f"{len(steps)} hourly steps; build {build_s:.1f} s, replay {replay_s:.1f} s "
          f"(detect {eval_s:.1f} s, record {record_s:.1f} s, today's rule {old_s:.1f} s)")
    print(f"labelled incidents scored: {labels[labels['eligible']].groupby('kind').size().to_dict()}")
    print()
    cols = ("precision", "recall", "median_ttd_periods", "false_per_100_district_days", "alerts", "true", "false",
            "explained")
    print(f"{'':<28}" + "".join(f"{c:>16}" for c in ("new detector", "today's rule", "goal")))
    goals = {"precision": "≥ 0.8", "recall": "≥ 0.9", "median_ttd_periods": "≤ 2",
             "false_per_100_district_days": f"≤ {old['false_per_100_district_days'] / 10:.2f}"}
    for c in cols:
        print(f"{c:<28}{new[c]!s:>16}{old[c]!s:>16}{goals.get(c, ''):>16}")
    ratio = (old["false_per_100_district_days"] / new["false_per_100_district_days"]
             if new["false_per_100_district_days"] else float("inf"))
    print(f"{'false alerts: today / new':<28}{ratio:>16.1f}{'':>16}{'≥ 10':>16}")
    print()
    print("split (held-out check)          precision  recall  median TTD  false/100 dd  today's false/100 dd  ratio")
    for part, (a, b) in parts.items():
        r = b["false_per_100_district_days"] / a["false_per_100_district_days"] if a["false_per_100_district_days"] else float("inf")
        print(f"  {part:<30}{a['precision']!s:>10}{a['recall']!s:>8}{a['median_ttd_periods']!s:>12}"
              f"{a['false_per_100_district_days']!s:>14}{b['false_per_100_district_days']!s:>22}{r:>7.1f}")
    print()
    print("new detector by metric and rule (false_n<5: false alerts on fewer than 5 records; missed: labelled incidents)")
    print(new["breakdown"].to_string())
    print()
    print(f"recall by kind   new: {new['recall_by_kind']}")
    print(f"                 old: {old['recall_by_kind']}")
    print(f"false alerts by metric/rule   new: {new['false_by_metric']}")
    print(f"                              old: {old['false_by_metric']}")
    print()
    print(f"at the shift start ({shift['at']}): new detector {shift['new_open_alerts']} open alerts "
          f"{shift['new_by_rule']}, {shift['new_below_min_n']} on fewer records than the metric's minimum n; "
          f"today's rule {shift['old_rows']} rows, {shift['old_below_min_n']} on fewer than the minimum n")
    print(f"  open alerts by metric: {shift['new_by_metric']}")
    missed = labels[labels["eligible"] & ~labels["incident_id"].isin({a["incident"] for a in new_alerts if a["kind"] == "true"})]
    oracle = _oracle(missed, panels, metrics)
    if len(oracle):
        print()
        print("missed count incidents, tested with hindsight (their exact hours, the same hours of the 14 days before "
              "as the expected count, Poisson):")
        print(oracle.to_string(index=False))
    if args.list == "missed":
        found = {a["incident"] for a in new_alerts if a["kind"] == "true"}
        print(labels[labels["eligible"] & ~labels["incident_id"].isin(found)].to_string())
    elif args.list:
        for a in new_alerts:
            if args.list == "all" or a["kind"] == args.list:
                print(f"  {a['kind']:<9} {a['at']:%m-%d %H:%M} {a['district_id']:>5} {a['rule']:<9} {a['message']}")
    if args.json:
        for r in (new, old):
            r["breakdown"] = {" / ".join(k): v for k, v in r["breakdown"].to_dict("index").items()}
            r["false_by_metric"] = {" / ".join(k): v for k, v in r["false_by_metric"].items()}
        print(json.dumps({"new": new, "old": old, "shift": shift}, default=str, indent=1))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
