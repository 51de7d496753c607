"""Daily facts: transit ridership and waste tonnage per district for whole days."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from data.demo.params import STREAMS, TRANSIT_DOW, WASTE_DOW
from data.demo.primitives import dict_array, gauss

if TYPE_CHECKING:
    from data.demo.city import City

def transit_days(city: City, days: np.ndarray, rng: np.random.Generator) -> pa.Table:
    d = city.districts
    act = city.active
    info = city.day_info(days)
    pop = d["population"].fillna(0).astype(float).to_numpy()[act]
    jobs = d["jobs"].to_numpy()[act]
    base = {"subway": pop * 0.33 * jobs**0.8 * d["subway"].to_numpy()[act],
            "bus": pop * 0.11 * (0.6 + d["car_share"].to_numpy()[act]) * (1.3 - 0.6 * d["subway"].to_numpy()[act])}
    season = 1.0 - 0.06 * gauss(info["doy"], 222, 20) - 0.05 * (gauss(info["doy"], 360, 4) + gauss(info["doy"], -5, 4))
    weekday = ~info["off"]
    recovery = np.where(weekday, 0.77 + 0.05 * info["years"], 0.88 + 0.04 * info["years"])
    weather = np.where(info["storm"], 0.55, np.where(info["snow"], 0.9, np.where(info["heavy"], 0.94,
                                                                                  np.where(info["rain"], 0.97, 1.0))))
    out = []
    for m, mode in enumerate(("subway", "bus")):
        dow_f = np.where(info["holiday"], TRANSIT_DOW[mode][6], TRANSIT_DOW[mode][info["dow"]])
        baseline = base[mode][None, :] * (dow_f * season)[:, None] * rng.lognormal(0, 0.01, (len(days), len(act)))
        ratio = np.clip(recovery - (0.04 if mode == "bus" else 0.0), 0.7, 1.02)[:, None] * weather[:, None]
        riders = baseline * ratio * rng.lognormal(0, 0.02, baseline.shape)
        out.append((np.repeat(days, len(act)), np.tile(act, len(days)), np.full(baseline.size, m),
                    np.rint(riders).ravel(), np.rint(baseline).ravel()))
    day_, dist, mode, riders, baseline = (np.concatenate(x) for x in zip(*out, strict=False))
    order = np.lexsort((mode, dist, day_))
    return pa.table({
        "day": pa.array(day_[order].astype("datetime64[D]")), "district_id": dict_array(dist[order], city.district_ids),
        "mode": dict_array(mode[order], ["subway", "bus"]),
        "riders": pa.array(riders[order].astype(np.int64)), "baseline_riders": pa.array(baseline[order].astype(np.int64)),
    })


def waste_days(city: City, days: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Tons collected per day, district and stream."""
    d = city.districts
    act = city.active
    info = city.day_info(days)
    prev_holiday = city.holidays(days - 1)
    pop = d["population"].fillna(0).astype(float).to_numpy()[act]
    dow_f = WASTE_DOW[info["dow"]] * np.where(info["holiday"], 0.1, 1.0) * np.where(prev_holiday, 1.8, 1.0)
    s = info["strike"]
    strike_f = np.select([s == 0, s == 1, s == 2, s == 3], [0.12, 1.9, 1.5, 1.2], 1.0)
    day_f = dow_f * info["waste_season"] * strike_f
    refuse = (pop * 1.25e-3)[None, :] * day_f[:, None] * rng.lognormal(0, 0.05, (len(days), len(act)))
    div = d["diversion"].to_numpy()[act]
    recyclable = refuse * (div / (1 - div))[None, :]
    org_share = d["organics_share"].to_numpy()[act]
    leaves = 1 + 1.6 * gauss(info["doy"], 315, 18) + 0.2 * info["warm"]
    organics = recyclable * org_share[None, :] * leaves[:, None]
    rest = recyclable * (1 - org_share)[None, :]
    paper = rest * 0.52 * rng.lognormal(0, 0.06, rest.shape)
    mgp = rest * 0.48 * rng.lognormal(0, 0.06, rest.shape)
    organics = organics * rng.lognormal(0, 0.08, rest.shape)
    tons = np.stack([refuse, paper, mgp, organics], axis=2)           # (days, districts, streams)
    n_days, n_d, n_s = tons.shape
    return pa.table({
        "day": pa.array(np.repeat(days, n_d * n_s).astype("datetime64[D]")),
        "district_id": dict_array(np.tile(np.repeat(act, n_s), n_days), city.district_ids),
        "stream": dict_array(np.tile(np.arange(n_s), n_days * n_d), STREAMS),
        "tons": pa.array(np.round(tons, 2).ravel()),
    })
