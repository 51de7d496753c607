"""Incidents of the demo city: the injected (recorded) ones, the labelled ground truth of
``bench/alerts.py``, and their effects on the generators as functions of time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from data.demo.params import INCIDENT_PLAN, LABELLED_RATES, LABELLED_SHAPES, OUTAGE_BOROUGH, SMALL_SURGE_SIZE
from data.demo.primitives import DAY, to_s


@dataclass(frozen=True)
class Incident:
    incident_id: str
    kind: str
    title: str
    domain: str | None
    district_id: str | None
    starts_at: datetime
    ends_at: datetime
    borough: str | None = None     # sensor outage: the affected borough (not stored)


def plan_incidents(end: datetime, days: int) -> list[Incident]:
    """The injected incidents of a build ending at `end` covering `days` days."""
    start = end - timedelta(days=days)
    end_day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for kind, offset, start_hour, hours in INCIDENT_PLAN:
        if days < 60:
            offset = max(1, round(offset * days / 60))
        s = end_day - timedelta(days=offset) + timedelta(hours=start_hour)
        e = s + timedelta(hours=hours)
        if s < start or e > end:
            continue
        stamp = s.strftime("%Y%m%d")
        if kind == "storm":
            out.append(Incident(f"demo-storm-{stamp}", "storm", "Severe storm: high winds and flooding",
                                None, None, s, e))
        elif kind == "sensor_outage":
            out.append(Incident(f"demo-outage-parking-{OUTAGE_BOROUGH.lower().replace(' ', '-')}-{stamp}",
                                "sensor_outage", f"Parking sensors offline in {OUTAGE_BOROUGH} (vendor outage)",
                                "parking", None, s, e, OUTAGE_BOROUGH))
        elif kind == "strike":
            out.append(Incident(f"demo-strike-waste-{stamp}", "strike",
                                "Sanitation strike: collections suspended citywide", "waste", None, s, e))
    return out


@dataclass(frozen=True)
class LabelledIncident:
    incident_id: str
    kind: str               # surge / parking_surge / parking_drift / parking_outage
    district_id: str
    starts_at: datetime
    ends_at: datetime
    metrics: tuple[str, ...]
    size: float             # surge: x the usual rate; parking: + share of spaces (0.2 = +20 points)
    size_unit: str
    small_district: bool = False


def plan_labelled(seed: int, start: datetime, end: datetime, districts: pd.DataFrame,
                  sr_volume: np.ndarray | None = None) -> list[LabelledIncident]:
    """Labelled incidents in [start, end), deterministic with `seed`: Poisson numbers per kind
    (LABELLED_RATES), random start times, districts (311 surges: two in three weighted by
    request volume, one in three in any district, so small districts get some), sizes and
    durations; an incident overlapping another on the same district and metric is left out.
    `sr_volume` is the daily 311 rate per row of `districts` (small districts: the lowest third)."""
    rng = np.random.default_rng([int(seed), 12])
    active = np.flatnonzero(~districts["is_joint_area"].to_numpy(bool))
    ids = districts["district_id"].to_numpy()
    if len(active) == 0 or end <= start:
        return []
    volume = np.ones(len(ids)) if sr_volume is None else np.asarray(sr_volume, dtype=float)
    small_cut = np.quantile(volume[active], 1 / 3)
    span_h = (end - start) / timedelta(hours=1)
    out: list[LabelledIncident] = []
    taken: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for kind, (rate, metrics) in LABELLED_RATES.items():
        start_hours, duration_hours, sizes, unit = LABELLED_SHAPES[kind]
        count = int(rng.poisson(rate * span_h / 24))
        for _k in range(count):
            day_h = float(rng.uniform(0, span_h))
            base = start + timedelta(hours=int(day_h) - int(day_h) % 24)
            if kind == "surge":
                d = _surge_district(rng, active, volume)
                small = bool(volume[d] <= small_cut)
                size = float(rng.uniform(*(SMALL_SURGE_SIZE if small else sizes)))
            else:
                d, small = int(rng.choice(active)), False
                size = float(rng.uniform(*sizes)) if sizes else 1.0
            s = base + timedelta(hours=int(rng.integers(*start_hours)))
            e = s + timedelta(hours=int(rng.integers(*duration_hours)))
            if s < start or e > end:
                continue
            key = (str(ids[d]), metrics[0])
            margin = timedelta(hours=24)
            if any(s < b + margin and a - margin < e for a, b in taken.get(key, [])):
                continue
            taken.setdefault(key, []).append((s, e))
            out.append(LabelledIncident(f"label-{kind}-{ids[d]}-{s:%Y%m%d%H}", kind, str(ids[d]), s, e,
                                        metrics, round(size, 3), unit, small))
    out.sort(key=lambda i: (i.starts_at, i.incident_id))
    return out


def _surge_district(rng: np.random.Generator, active: np.ndarray, volume: np.ndarray) -> int:
    """Where a 311 surge happens: two in three weighted by request volume, one in three anywhere."""
    w = volume[active] / volume[active].sum()
    return int(rng.choice(active, p=w)) if rng.random() < 2 / 3 else int(rng.choice(active))


class Effects:
    """Incident effects as functions of time (day indices or seconds)."""

    def __init__(self, incidents: list[Incident], labelled: list[LabelledIncident] | None = None):
        self.incidents = list(incidents)
        self.labelled = list(labelled or [])
        self.storm_days = np.array(sorted({to_s(i.starts_at) // DAY for i in incidents if i.kind == "storm"}),
                                   dtype=np.int64)
        self.strikes = [(to_s(i.starts_at), to_s(i.ends_at)) for i in incidents if i.kind == "strike"]
        self.outages = [(to_s(i.starts_at), to_s(i.ends_at), i.borough, i.domain)
                        for i in incidents if i.kind == "sensor_outage" and i.borough]

    @classmethod
    def from_rows(cls, rows) -> "Effects":
        """From `incidents` table rows (kind, starts_at, ends_at, title); outages need no replay."""
        incidents = [Incident(f"row{i}", kind, title, None, None, s, e) for i, (kind, s, e, title) in enumerate(rows)
                     if kind in ("storm", "strike")]
        return cls(incidents)

    def days_after_storm(self, days: np.ndarray) -> np.ndarray:
        """0 on a storm day, 1 the day after, ...; large when no storm precedes."""
        out = np.full(np.shape(days), 999, dtype=np.int64)
        for sd in self.storm_days:
            delta = days - sd
            out = np.where((delta >= 0) & (delta < out), delta, out)
        return out

    def strike_day(self, days: np.ndarray) -> np.ndarray:
        """0 on strike days, k on the k-th day after the strike, large otherwise."""
        out = np.full(np.shape(days), 999, dtype=np.int64)
        for s, e in self.strikes:
            first, last = s // DAY, (e - 1) // DAY
            during = (days >= first) & (days <= last)
            after = np.where(days > last, days - last, 999)
            out = np.where(during, 0, np.minimum(out, after))
        return out

    def _labelled(self, kind: str):
        for i in self.labelled:
            if i.kind == kind:
                yield i, to_s(i.starts_at), to_s(i.ends_at)

    def sr_multiplier(self, hours: np.ndarray, district_ids: list[str]) -> np.ndarray | None:
        """311 rate multiplier per (hour slot, district) from labelled surges; None if none."""
        out = None
        index = {d: k for k, d in enumerate(district_ids)}
        for inc, s, e in self._labelled("surge"):
            during = (hours >= s) & (hours < e)
            if inc.district_id in index and during.any():
                out = np.ones((len(hours), len(district_ids))) if out is None else out
                out[during, index[inc.district_id]] *= inc.size
        return out

    def parking_shift(self, t: np.ndarray, fac_district: np.ndarray, district_ids: list[str]) -> np.ndarray | None:
        """Added occupancy share per (time, facility) from labelled parking surges (a step)
        and drifts (a linear ramp to `size` at the end); None if none."""
        out = None
        for kind in ("parking_surge", "parking_drift"):
            for inc, s, e in self._labelled(kind):
                during = (t >= s) & (t < e)
                if not during.any() or inc.district_id not in district_ids:
                    continue
                cols = fac_district == district_ids.index(inc.district_id)
                ramp = np.where(during, inc.size if kind == "parking_surge" else inc.size * (t - s) / max(e - s, 1), 0.0)
                out = np.zeros((len(t), len(fac_district))) if out is None else out
                out[:, cols] += ramp[:, None]
        return out

    def parking_offline(self, ts: np.ndarray, district_of_row: np.ndarray, district_ids: list[str]) -> np.ndarray:
        """True for readings silenced by a labelled parking outage."""
        out = np.zeros(len(ts), dtype=bool)
        for inc, s, e in self._labelled("parking_outage"):
            if inc.district_id in district_ids:
                out |= (ts >= s) & (ts < e) & (district_of_row == district_ids.index(inc.district_id))
        return out

    def in_strike(self, seconds: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(seconds), dtype=bool)
        for s, e in self.strikes:
            out |= (seconds >= s) & (seconds < e)
        return out
