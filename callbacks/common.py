"""Helpers shared by page callbacks: input validation and the data every page needs."""
from __future__ import annotations

import functools
import logging
from datetime import datetime

import pandas as pd

from data import repository
from data.lookups import (  # noqa: F401  (re-exported for page callbacks)
    available_metrics, db_for_mode, district_names, districts, table_times, valid_districts, valid_grain,
    valid_metric,
)
from data.registry import Metric
from data.snapshot import DataUnavailable
from layouts import components

log = logging.getLogger(__name__)


def period_label(grain: str, period) -> str:
    if period is None or pd.isna(period):
        return ""
    ts = pd.Timestamp(period)
    today = pd.Timestamp(datetime.now()).normalize()
    if grain == "day":
        return "today so far" if ts.normalize() == today else f"{ts:%a %d %b}"
    if grain == "week":
        return f"week of {ts:%d %b}"
    if grain == "month":
        return f"{ts:%B %Y}"
    return f"{ts:%H:00}"


GRAIN_LENGTH = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7),
                "month": pd.Timedelta(days=28)}


def kpi_cards(metrics: list[Metric], *, district: str, grain: str, db: str = "ops") -> list:
    """KPI cards for `metrics` in one district (or 'city') at the latest period of `grain`."""
    latest = repository.run(f"{db}/latest_values", grain=grain, district=district).set_index("metric_id")
    times = table_times(db)
    now = datetime.now()
    cards = []
    for metric in metrics:
        row = latest.loc[metric.id] if metric.id in latest.index else None
        value = None if row is None or pd.isna(row["value"]) else float(row["value"])
        previous = None if row is None or pd.isna(row["previous"]) else float(row["previous"])
        data_time, simulated = times.get(metric.table, (None, False))
        cards.append(components.kpi_card(
            metric, value=value, previous=previous,
            period_label=period_label(grain, None if row is None else row["period"]),
            data_time=data_time, freshness=metric.freshness(data_time, now), simulated=simulated,
            partial=row is not None and pd.Timestamp(row["period"]) + GRAIN_LENGTH[grain] > pd.Timestamp(now),
        ))
    return cards


def guarded(*fallbacks):
    """Turn 'no data published' (and any unexpected error) into a visible message instead of
    a failed callback. `fallbacks` are the values for the outputs; a string item is replaced
    by the message component."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except DataUnavailable as exc:
                message = components.data_unavailable(str(exc))
            except Exception:  # never a traceback to the client; the log has it
                log.exception("callback %s failed", fn.__name__)
                message = components.notice("Something went wrong while loading this view; "
                                            "it has been logged.", color="danger")
            out = tuple(message if f == "message" else f for f in fallbacks)
            return out if len(out) > 1 else out[0]
        return inner
    return wrap


