"""Events on an hourly Poisson grid: bike trips and parking citations for any interval [t0, t1)
(a month of history or five seconds of live feed). 311 requests are in ``service_requests``."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from data.demo.params import (
    BIKE_TRIPS_PER_STATION_HOUR,
    BIKE_WD,
    BIKE_WE,
    CITATION_WD,
    CITATION_WE,
    FINE_MN96,
    FINE_OTHER,
    MUNI_METER,
    STREET_CLEANING,
    VIOLATION_CODES,
    VIOLATION_P,
    VIOLATIONS,
)
from data.demo.primitives import DAY, HOUR, dict_array, hour_slots, poisson_events, ts_array

if TYPE_CHECKING:
    from data.demo.city import City

def event_slots(city: City, t0: int, t1: int):
    """The hour slots of [t0, t1) (``primitives.hour_slots``: starts, covered [lo, hi), fraction),
    the day info of each slot and its hour of day: the grid every event generator draws on."""
    hours, lo, hi, frac = hour_slots(t0, t1)
    return hours, lo, hi, frac, city.day_info(hours // DAY), (hours % DAY) // HOUR


def bike_trip_events(city: City, t0: int, t1: int, rng: np.random.Generator) -> pa.Table:
    """Trips that ENDED in [t0, t1) (a trip is known once it ends), sorted by start."""
    s = city.stations
    hours, lo, hi, frac, info, hod = event_slots(city, t0, t1)
    prof = np.where(info["off"], BIKE_WE[hod], BIKE_WD[hod])
    lam = (prof * info["bike_season"] * info["weather_bike"] * frac)[:, None] * (
        BIKE_TRIPS_PER_STATION_HOUR * s["popularity"].to_numpy())[None, :]
    cells, ended = poisson_events(rng, lam, lo, hi)
    slot, st = cells // len(s), cells % len(s)
    casual_p = 0.16 + 0.16 * info["off"][slot] + 0.08 * (info["temp"][slot] > 20)
    casual = rng.random(len(cells)) < casual_p
    duration = np.clip(rng.lognormal(np.log(np.where(casual, 1140.0, 660.0)), 0.55), 90, 3 * HOUR).astype(np.int64)
    started = ended - duration
    order = np.argsort(started, kind="stable")
    st, started, ended, casual = st[order], started[order], ended[order], casual[order]
    return pa.table({
        "started_at": ts_array(started), "ended_at": ts_array(ended),
        "station_id": dict_array(st, s["station_id"]),
        "district_id": dict_array(s["d"].to_numpy()[st], city.district_ids),
        "rider_type": dict_array(casual.astype(np.int32), ["member", "casual"]),
    })


def citation_events(city: City, t0: int, t1: int, rng: np.random.Generator) -> pa.Table:
    hours, lo, hi, frac, info, hod = event_slots(city, t0, t1)
    prof = np.where(info["off"], CITATION_WE[hod], CITATION_WD[hod])
    prof = prof * np.where(info["holiday"], 0.6, 1.0) * np.where(info["storm"], 0.25, 1.0)
    lam = (prof * frac)[:, None] * city.citation_rate[None, :]
    cells, issued = poisson_events(rng, lam, lo, hi)
    slot, d = cells // lam.shape[1], cells % lam.shape[1]
    code = rng.choice(len(VIOLATIONS), size=len(cells), p=VIOLATION_P)
    hour = (issued % DAY) // HOUR
    bad_cleaning = (code == STREET_CLEANING) & (info["off"][slot] | (hour < 7) | (hour > 11))
    code = np.where(bad_cleaning, MUNI_METER, code)
    fine = np.where(city.col("districts", "manhattan96")[d], FINE_MN96[code], FINE_OTHER[code])
    order = np.argsort(issued, kind="stable")
    return pa.table({
        "issued_at": ts_array(issued[order]), "district_id": dict_array(d[order], city.district_ids),
        "violation_code": dict_array(code[order], VIOLATION_CODES), "fine": pa.array(fine[order]),
    })
