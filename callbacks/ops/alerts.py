"""Alerts callbacks: statuses come from the registry's target and warning bands."""
import dash
import pandas as pd
from dash import Input, Output

from callbacks import auth, common
from data import repository
from layouts import components, ids


def current_alerts(grain: str = "day") -> pd.DataFrame:
    """Every (metric, district) whose latest value is 'bad' or 'warning', worst first: each
    metric at `grain`, or its finest published grain above it (monthly tonnage by month)."""
    metrics = {m.id: m for m in common.available_metrics()}
    grains = {m.id: common.valid_grain(grain, m, default=grain) for m in metrics.values()}
    latest = pd.concat([repository.run("ops/latest_by_district", grain=g).assign(grain=g)
                        for g in sorted(set(grains.values()))]
                       or [pd.DataFrame(columns=["metric_id", "district_id", "period", "value", "n", "grain"])])
    latest = latest[latest["metric_id"].map(grains) == latest["grain"]]
    names = common.district_names()
    rows = []
    for row in latest.itertuples():
        metric = metrics.get(row.metric_id)
        if metric is None or pd.isna(row.value):
            continue
        status = metric.status(float(row.value))
        if status in ("bad", "warning"):
            gap = abs(float(row.value) - metric.target)
            rows.append({"severity": "critical" if status == "bad" else "warning",
                         "status": components.STATUS_TEXT[status][0] + " " + components.STATUS_TEXT[status][1],
                         "metric_id": metric.id, "metric": metric.label,
                         "district_id": row.district_id, "district": names.get(row.district_id, row.district_id),
                         "value": f"{metric.format_value(row.value)} {metric.unit}",
                         "target": f"{metric.format_value(metric.target)} {metric.unit}",
                         "period": f"{row.period:%Y-%m}" if row.grain == "month" else f"{row.period:%Y-%m-%d}",
                         "grain": row.grain, "gap": gap / (abs(metric.target) or 1)})
    frame = pd.DataFrame(rows, columns=["severity", "status", "metric_id", "metric", "district_id",
                                        "district", "value", "target", "period", "grain", "gap"])
    return frame.sort_values(["severity", "gap"], ascending=[True, False]).reset_index(drop=True)


@dash.callback(Output(ids.ALERTS_TABLE, "children"), Input(ids.ALERTS_TICK, "n_intervals"))
@auth.requires("read")
@common.guarded("message")
def alerts_table(_n):
    frame = current_alerts()
    columns = {"status": "Status", "metric": "Metric", "district": "District", "value": "Value",
               "target": "Target", "period": "Day"}
    return components.table(frame, columns, empty="Nothing is off target. ✓")
