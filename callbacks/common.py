"""Helpers shared by page callbacks: input validation and the data every page needs."""
from __future__ import annotations

import functools
import logging
from datetime import datetime

import pandas as pd

from data import access, facts, i18n, ops_store
from data.lookups import (  # noqa: F401  (re-exported for page callbacks)
    available_metrics,
    db_for_mode,
    district_names,
    districts,
    table_times,
    valid_districts,
    valid_grain,
    valid_metric,
)
from data.registry import Metric
from data.snapshot import DataUnavailable
from layouts import components

log = logging.getLogger(__name__)


def period_label(grain: str, period, lang: str | None = None) -> str:
    """'week of 14 Sep' (ops); with `lang` (public site) in that language with the year."""
    if period is None or pd.isna(period):
        return ""
    ts = pd.Timestamp(period)
    if lang is not None and grain in ("day", "week", "month"):
        return (i18n.t("kpi_week_of", lang, date=i18n.date(ts, lang)) if grain == "week"
                else i18n.date(ts, lang, day=grain == "day"))
    today = pd.Timestamp(datetime.now()).normalize()
    year = "" if ts.year == today.year else f" {ts.year}"  # real data can be years old
    if grain == "day":
        return "today so far" if ts.normalize() == today else f"{ts:%a %d %b}{year}"
    if grain == "week":
        return f"week of {ts:%d %b}{year}"
    if grain == "month":
        return f"{ts:%B %Y}"
    return f"{ts:%H:00}"


GRAIN_LENGTH = facts.GRAIN_LENGTH
period_end = facts.period_end


def kpi_cards(metrics: list[Metric], *, district: str, grain: str, db: str = "ops",
              lang: str | None = None, href=None) -> list:
    """KPI cards for `metrics` in one district (or 'city') at the latest period of `grain`
    (or of the metric's finest published grain above it), from data.facts: the ops site
    compares the latest period with the same elapsed part of its reference, the public site
    (complete periods only) with the period before. `lang`: translated cards (public site);
    `href(metric)`: a link for each card's label."""
    read = facts.latest_public if db == "public" else facts.latest
    shown = read(metrics, grain=grain, district=district)
    return [components.kpi_card(shown[m.id], lang=lang, href=href(m) if href else None) for m in metrics]


def guarded(*fallbacks):
    """Turn 'no data published' (and a busy ops store, a refused record-level read, any
    unexpected error) into a visible message instead of a failed callback. `fallbacks` are the
    values returned for the outputs then, in order: each item equal to the string
    ``"message"`` becomes the message component, every other item is returned as it is."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except DataUnavailable as exc:
                message = components.data_unavailable(str(exc))
            except ops_store.Busy:  # a lock on the ops store (users, annotations): say so, fast
                message = components.notice("This view could not be loaded: the ops store is busy; "
                                            "try again in a moment.", color="warning")
            except access.AccessDenied:  # e.g. record-level data behind an aggregate view
                message = components.notice("Your account may not see this data.", color="secondary")
            except Exception:  # never a traceback to the client; the log has it
                log.exception("callback %s failed", fn.__name__)
                message = components.notice("Something went wrong while loading this view; "
                                            "it has been logged.", color="danger")
            out = tuple(message if f == "message" else f for f in fallbacks)
            return out if len(out) > 1 else out[0]
        return inner
    return wrap


