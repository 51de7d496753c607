"""Sensor readings (parking occupancy, bike docks, bin fill, traffic counts) as functions of time:
a profile plus smooth entity-specific noise, so a live reading at any second continues the
hourly history."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from data.demo.params import (
    DOCK_BALANCE_WD,
    DOCK_BALANCE_WE,
    PARK_BUS_WD,
    PARK_BUS_WE,
    PARK_RES_WD,
    PARK_RES_WE,
    TRAFFIC_WD,
    TRAFFIC_WE,
    WASTE_ACTIVITY,
)
from data.demo.primitives import DAY, HOUR, dict_array, interp24, smooth_noise, ts_array

if TYPE_CHECKING:
    from data.demo.city import City

_WASTE_CUM = np.concatenate([[0.0], np.cumsum(WASTE_ACTIVITY)])   # activity-hours since midnight


def _waste_activity_hours(t_hours: np.ndarray) -> np.ndarray:
    """Cumulative waste-activity hours since the epoch (24 per day, weighted by WASTE_ACTIVITY)."""
    day = np.floor(t_hours / 24.0)
    hod = t_hours - day * 24.0
    h0 = np.floor(hod).astype(np.int64)
    return day * 24.0 + _WASTE_CUM[h0] + (hod - h0) * WASTE_ACTIVITY[h0 % 24]


def _grid(t: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Time-major (ts, entity) index pairs for len(t) times and n entities."""
    return np.repeat(t, n), np.tile(np.arange(n, dtype=np.int64), len(t))


def _clock(city: City, t) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """`t` as int64 seconds, the day info (calendar, weather, incidents) of each time, and its
    fractional hour of day: what every sensor's profile is read at."""
    t = np.asarray(t, dtype=np.int64)
    return t, city.day_info(t // DAY), (t % DAY) / HOUR


def _shape_at(off: np.ndarray, working_day: np.ndarray, off_day: np.ndarray, hod: np.ndarray) -> np.ndarray:
    """An hourly profile at fractional hours: the off-day shape on weekends and public holidays."""
    return np.where(off, interp24(off_day, hod), interp24(working_day, hod))


def parking_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Occupancy of every facility at each time in `t` (seconds); outage windows are left out."""
    f = city.facilities
    t, info, hod = _clock(city, t)
    bus = _shape_at(info["off"], PARK_BUS_WD, PARK_BUS_WE, hod)
    res = _shape_at(info["off"], PARK_RES_WD, PARK_RES_WE, hod)
    mix = f["business"].to_numpy()
    shape = bus[:, None] * mix[None, :] + res[:, None] * (1 - mix)[None, :]
    day_factor = info["parking_season"] * np.where(info["storm"], 0.7, 1.0)
    frac = (f["level"].to_numpy()[None, :] * shape * day_factor[:, None]
            + 0.045 * smooth_noise(city.facility_phases, t / HOUR) + rng.normal(0, 0.008, (len(t), len(f))))
    shift = city.effects.parking_shift(t, f["d"].to_numpy(), city.district_ids)
    if shift is not None:
        frac = frac + shift
    cap = f["capacity"].to_numpy()
    occupied = np.clip(np.rint(frac * cap[None, :]), 0, cap[None, :]).astype(np.int32).ravel()
    ts, e = _grid(t, len(f))
    keep = np.ones(len(ts), dtype=bool)
    boro = f["borough"].to_numpy()
    for s, end, borough, _domain in city.effects.outages:
        keep &= ~(((ts >= s) & (ts < end)) & (boro[e] == borough))
    d = f["d"].to_numpy()
    if city.effects.labelled:
        keep &= ~city.effects.parking_offline(ts, d[e], city.district_ids)
    ts, e, occupied = ts[keep], e[keep], occupied[keep]
    return pa.table({
        "ts": ts_array(ts), "facility_id": dict_array(e, f["facility_id"]),
        "district_id": dict_array(d[e], city.district_ids), "capacity": pa.array(cap[e].astype(np.int32)),
        "occupied": pa.array(occupied),
    })


def bike_status_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    s = city.stations
    t, info, hod = _clock(city, t)
    balance = _shape_at(info["off"], DOCK_BALANCE_WD, DOCK_BALANCE_WE, hod)
    riding = info["bike_season"] * info["weather_bike"]          # bikes out riding are not docked
    frac = (0.62 - 0.1 * riding[:, None] + 0.5 * s["role"].to_numpy()[None, :] * balance[:, None] * riding[:, None]
            + s["offset"].to_numpy()[None, :] + 0.09 * smooth_noise(city.station_phases, t / HOUR))
    cap = s["capacity"].to_numpy()
    disabled_docks = rng.integers(0, 2, (len(t), len(s)))
    disabled_bikes = rng.integers(0, 2, (len(t), len(s)))
    usable = cap[None, :] - disabled_docks - disabled_bikes
    bikes = np.clip(np.rint(np.clip(frac, 0, 1) * usable), 0, usable).astype(np.int32)
    docks = (usable - bikes).astype(np.int32)
    ts, e = _grid(t, len(s))
    d = s["d"].to_numpy()
    return pa.table({
        "ts": ts_array(ts), "station_id": dict_array(e, s["station_id"]),
        "district_id": dict_array(d[e], city.district_ids), "capacity": pa.array(cap[e].astype(np.int32)),
        "bikes_available": pa.array(bikes.ravel()), "docks_available": pa.array(docks.ravel()),
    })


def bin_fill_levels(city: City, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill % of every bin at each time, shape (len(t), n_bins): rises since the last collection."""
    b = city.bins
    t = np.asarray(t, dtype=np.int64)
    lookback = 21
    d0 = int(t.min() // DAY) - lookback
    d1 = int(t.max() // DAY)
    days = np.arange(d0, d1 + 1)
    info = city.day_info(days)
    coll_hour = b["coll_hour"].to_numpy()
    weekday_ok = ((b["mask"].to_numpy()[None, :] >> info["dow"][:, None]) & 1).astype(bool)
    coll_s = days[:, None] * DAY + (coll_hour[None, :] * HOUR).astype(np.int64)
    collected = weekday_ok & ~info["holiday"][:, None] & ~city.effects.in_strike(coll_s)
    idx = np.where(collected, np.arange(len(days))[:, None], -1)
    last_incl = np.maximum.accumulate(idx, axis=0)                 # last collection day <= day
    last_before = np.vstack([np.full((1, len(b)), -1), last_incl[:-1]])
    row = (t // DAY - d0).astype(np.int64)
    hod = (t % DAY) / HOUR
    today = collected[row] & (hod[:, None] >= coll_hour[None, :])
    last_day = np.where(today, row[:, None], last_before[row])
    last_hours = (d0 + np.maximum(last_day, 0)) * 24.0 + coll_hour[None, :]
    last_hours = np.where(last_day < 0, (d0 - 30) * 24.0, last_hours)
    eff = _waste_activity_hours(t / HOUR)[:, None] - _waste_activity_hours(last_hours)
    season = city.day_info(t // DAY)["waste_season"]
    fill = (b["residual"].to_numpy()[None, :] + b["rate"].to_numpy()[None, :] * eff * season[:, None]
            + rng.normal(0, 1.2, (len(t), len(b))))
    return np.clip(np.round(fill, 1), 0.0, 100.0)


def bin_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    b = city.bins
    fill = bin_fill_levels(city, t, rng)
    ts, e = _grid(np.asarray(t, dtype=np.int64), len(b))
    return pa.table({
        "ts": ts_array(ts), "bin_id": dict_array(e, b["bin_id"]),
        "district_id": dict_array(b["d"].to_numpy()[e], city.district_ids), "fill_pct": pa.array(fill.ravel()),
    })


def traffic_readings(city: City, t: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Hourly counts: ts = start of the counted hour."""
    g = city.segments
    t, info, hod = _clock(city, t)
    prof = _shape_at(info["off"], TRAFFIC_WD, TRAFFIC_WE, hod)
    volume = (g["base_volume"].to_numpy()[None, :] * (prof * info["traffic_volume"])[:, None]
              * rng.lognormal(0, 0.08, (len(t), len(g))))
    vc = volume / g["capacity"].to_numpy()[None, :]
    ff = g["free_flow_kmh"].to_numpy()
    speed = ff[None, :] / (1 + 0.6 * vc**4) * info["traffic_speed"][:, None] * (1 + rng.normal(0, 0.03, volume.shape))
    speed = np.round(np.clip(speed, 3.0, ff[None, :] * 1.08), 1)
    ts, e = _grid(t, len(g))
    return pa.table({
        "ts": ts_array(ts), "segment_id": dict_array(e, g["segment_id"]),
        "district_id": dict_array(g["d"].to_numpy()[e], city.district_ids),
        "volume": pa.array(np.rint(volume).astype(np.int32).ravel()),
        "free_flow_kmh": pa.array(ff[e]), "speed_kmh": pa.array(speed.ravel()),
    })
