"""The city model: districts and their character, the entities with their hidden behaviour, the
calendar and weather of each day, and the same city rebuilt from a warehouse (for the live feed)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from data import settings
from data.demo.entities import augment_entities, make_entities
from data.demo.incidents import Effects, Incident
from data.demo.params import (
    BORO_BIKE,
    BORO_CARS,
    BORO_DIVERSION,
    BORO_JOBS,
    BOUNDARIES,
    CITATIONS_PER_DAY,
    JOBS,
    MANHATTAN_96,
    SUBWAY_ACCESS,
)
from data.demo.primitives import gauss, hash_n, hash_u, prepared_shapes, sample_points, us_holidays
from data.demo.service_requests import sr_rates


@dataclass
class City:
    """Districts and entities with their (hash-derived) behaviour parameters."""

    seed: int
    scale: float
    districts: pd.DataFrame
    stations: pd.DataFrame
    facilities: pd.DataFrame
    bins: pd.DataFrame
    segments: pd.DataFrame
    effects: Effects = field(default_factory=lambda: Effects([]))

    def __post_init__(self):
        d = self.districts
        self.district_ids = d["district_id"].tolist()
        self.active = np.flatnonzero(~d["is_joint_area"].to_numpy())    # people live here
        self._shapes = None
        self._holiday_cache: dict[tuple[int, int], np.ndarray] = {}

    # -- geometry
    def shapes(self):
        if self._shapes is None:
            self._shapes = prepared_shapes(self.districts["geometry"])
        return self._shapes

    def sample_points(self, district_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Uniform random points inside each given district (see ``primitives.sample_points``)."""
        return sample_points(self.shapes(), district_idx, rng)

    # -- calendar and weather
    def holidays(self, days: np.ndarray) -> np.ndarray:
        y0 = int(str(np.datetime64(int(days.min()), "D"))[:4])
        y1 = int(str(np.datetime64(int(days.max()), "D"))[:4])
        key = (y0, y1)
        if key not in self._holiday_cache:
            self._holiday_cache[key] = us_holidays(y0, y1)
        return np.isin(days, self._holiday_cache[key])

    def day_info(self, days: np.ndarray) -> dict[str, np.ndarray]:
        """Calendar, weather and incident factors per day index (computed once per unique day)."""
        days = np.asarray(days, dtype=np.int64)
        if days.size == 0:
            days = np.zeros(1, dtype=np.int64)
            return {k: v[:0] for k, v in self.day_info(days).items()}
        uniq, inverse = np.unique(days, return_inverse=True)
        dow = (uniq + 3) % 7                                   # 1970-01-01 was a Thursday
        holiday = self.holidays(uniq)
        off = (dow >= 5) | holiday
        d64 = uniq.astype("datetime64[D]")
        doy = (d64 - d64.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        years = (uniq - 19723) / 365.25                         # years since 2024-01-01
        temp = 12.8 - 11.8 * np.cos(2 * np.pi * (doy - 20) / 365.25) + 7.0 * (hash_u(self.seed, "temp", uniq) - 0.5)
        rain_u = hash_u(self.seed, "rain", uniq)
        heavy_u = hash_u(self.seed, "heavy", uniq)
        rain = rain_u < 0.28
        heavy = rain & (heavy_u < 0.3)
        snow = rain & (temp < 1.5)
        after_storm = self.effects.days_after_storm(uniq)
        storm = after_storm == 0
        strike = self.effects.strike_day(uniq)
        weather_bike = np.where(snow, 0.22, np.where(heavy, 0.38, np.where(rain, 0.62, 1.0)))
        weather_bike = np.where(storm, 0.03, weather_bike)
        traffic_volume = np.where(snow, 0.85, np.where(heavy, 0.93, np.where(rain, 0.97, 1.0)))
        traffic_volume = np.where(storm, 0.55, traffic_volume)
        traffic_speed = np.where(snow, 0.78, np.where(heavy, 0.88, np.where(rain, 0.95, 1.0)))
        traffic_speed = np.where(storm, 0.7, traffic_speed)
        info = {
            "dow": dow, "off": off, "holiday": holiday, "doy": doy, "temp": temp, "years": years,
            "rain": rain, "heavy": heavy, "snow": snow, "storm": storm, "after_storm": after_storm,
            "strike": strike,
            "bike_season": np.clip(0.28 + 0.72 * (temp - 1.0) / 23.0, 0.2, 1.1),
            "weather_bike": weather_bike,
            "traffic_volume": traffic_volume * (0.96 + 0.04 * np.clip((temp - 2) / 20, 0, 1)),
            "traffic_speed": traffic_speed,
            "parking_season": 1.0 + 0.05 * gauss(doy, 350, 12) - 0.05 * gauss(doy, 222, 15),
            "waste_season": 1.0 + 0.12 * gauss(doy, 358, 10) + 0.03 * np.clip((temp - 15) / 10, 0, 1),
            "warm": np.clip((temp - 4.0) / 20.0, 0, 1),
        }
        return {k: v[inverse] for k, v in info.items()}

    # -- per-district constants
    def col(self, frame: str, name: str) -> np.ndarray:
        return getattr(self, frame)[name].to_numpy()


def load_boundaries(path: Path = BOUNDARIES) -> pd.DataFrame:
    """The shipped district outlines as a frame matching the `districts` table (+ `label`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for feat in data["features"]:
        p = feat["properties"]
        rows.append({
            "district_id": p["district_id"], "name": p["name"], "borough": p["borough"],
            "population": p["population"], "area_km2": p["area_km2"],
            "geometry": json.dumps(feat["geometry"], separators=(",", ":")),
            "is_joint_area": bool(p["is_joint_area"]),
            "label": p.get("neighbourhoods") or p["name"],
        })
    frame = pd.DataFrame(rows).sort_values("district_id").reset_index(drop=True)
    frame["population"] = frame["population"].astype("Int64")
    return frame


def _jitter(seed: int, salt: str, ids, sd: float) -> np.ndarray:
    """Lognormal factors around 1 (log-sd `sd`), stable per district: each district's own quirk."""
    return np.exp(sd * hash_n(seed, salt, ids))


def district_profile(districts: pd.DataFrame, seed: int) -> pd.DataFrame:
    """District behaviour: a pure function of the districts table and the seed."""
    d = districts.copy().reset_index(drop=True)
    ids = d["district_id"].tolist()
    joint = d["is_joint_area"].to_numpy(bool)
    pop = d["population"].fillna(0).astype(float).to_numpy()
    area = d["area_km2"].astype(float).to_numpy()
    boro = d["borough"].tolist()
    density = pop / np.maximum(area, 0.1)
    jobs = np.array([JOBS.get(i, BORO_JOBS.get(b, 0.5)) for i, b in zip(ids, boro, strict=False)]) * _jitter(seed, "jobs", ids, 0.15)
    cars = np.clip(np.array([BORO_CARS.get(b, 0.5) for b in boro]) + 0.06 * (hash_u(seed, "cars", ids) - 0.5), 0.1, 0.95)
    d["density"] = density
    d["jobs"] = jobs
    d["car_share"] = cars
    d["bike_w"] = np.where(joint, 0.0, np.sqrt(density / 1e4) * jobs**0.7 * np.array([BORO_BIKE.get(b, 0.5) for b in boro]))
    # Parking pressure: rank of density and jobs mapped to a peak occupancy level 0.6..0.97.
    pressure = 0.5 * np.log(np.maximum(density, 1)) + 0.7 * np.log(jobs)
    rank = pd.Series(np.where(joint, -np.inf, pressure)).rank(method="first").to_numpy() - 1
    n_active = max(int((~joint).sum()), 2)
    rank = np.clip(rank - joint.sum(), 0, None)
    d["parking_level"] = np.where(joint, 0.0, 0.60 + 0.37 * (rank / (n_active - 1)) ** 1.5)
    d["diversion"] = np.clip(np.array([BORO_DIVERSION.get(b, 0.19) for b in boro]) + 0.05 * (hash_u(seed, "div", ids) - 0.5), 0.135, 0.265)
    d["organics_share"] = 0.06 + 0.12 * hash_u(seed, "org", ids)
    d["efficiency"] = np.clip(_jitter(seed, "eff", ids, 0.25), 0.65, 1.6)          # multiplies 311 close times
    d["satisfaction"] = 0.35 * hash_n(seed, "sat", ids)
    d["subway"] = np.array([SUBWAY_ACCESS.get(i, SUBWAY_ACCESS.get(b, 1.0)) for i, b in zip(ids, boro, strict=False)])
    d["manhattan96"] = np.isin(ids, list(MANHATTAN_96))
    d["citation_w"] = np.where(joint, 0.0, pop * (0.4 + jobs) ** 0.8 * (0.5 + cars) * _jitter(seed, "cit", ids, 0.15))
    return d


def make_city(districts: pd.DataFrame, seed: int, scale: float, incidents: list[Incident],
              entities=None) -> City:
    """A City from a districts frame; entities are generated (new build) or given (from a warehouse)."""
    prof = district_profile(districts, seed)
    if entities is None:
        entities = make_entities(prof, seed, scale)
    stations, st_ph, facilities, pk_ph, bins, segments = augment_entities(prof, seed, *entities)
    city = City(seed, scale, prof, stations, facilities, bins, segments, Effects(incidents))
    city.station_phases = st_ph
    city.facility_phases = pk_ph
    city.sr_rates = sr_rates(city)
    city.citation_rate = (prof["citation_w"].to_numpy() / max(prof["citation_w"].sum(), 1e-9)
                          * CITATIONS_PER_DAY * scale / 24.0)
    return city


def params_text(seed: int, scale: float, days: int | None = None, end: datetime | None = None) -> str:
    """What a demo batch's `file` records; the live feed reads seed and scale back from it."""
    text = f"data.demo seed={seed} scale={scale:g}"
    if days is not None:
        text += f" days={days}"
    if end is not None:
        text += f" end={end:%Y-%m-%dT%H}"
    return text


def city_from_warehouse(con) -> City:
    """Rebuild the City of a demo warehouse (for the live feed)."""
    seed, scale = int(settings.get("demo_seed")), 1.0
    rows = con.execute("SELECT file FROM load_batches WHERE file LIKE 'data.demo %' ORDER BY batch_id LIMIT 1").fetchall()
    row = rows[0] if rows else None
    if row:
        for part in row[0].split():
            key, _, value = part.partition("=")
            if key == "seed":
                seed = int(value)
            elif key == "scale":
                scale = float(value)
    districts = con.execute("SELECT district_id, name, borough, population, area_km2, geometry, is_joint_area "
                            "FROM districts ORDER BY district_id").df()
    districts["population"] = districts["population"].astype("Int64")
    stations = con.execute("SELECT station_id, name, district_id, lat, lon, capacity FROM bike_stations").df()
    facilities = con.execute("SELECT facility_id, name, district_id, capacity, kind FROM parking_facilities").df()
    bins = con.execute("SELECT bin_id, any_value(district_id) AS district_id FROM bin_fill "
                       "WHERE ts >= (SELECT max(ts) FROM bin_fill) - INTERVAL 3 DAY GROUP BY bin_id").df()
    segments = con.execute("SELECT segment_id, any_value(district_id) AS district_id FROM traffic_counts "
                           "WHERE ts >= (SELECT max(ts) FROM traffic_counts) - INTERVAL 3 DAY GROUP BY segment_id").df()
    incidents = con.execute("SELECT kind, starts_at, ends_at, title FROM incidents WHERE simulated").fetchall()
    city = make_city(districts, seed, scale, [], entities=(stations, facilities, bins, segments))
    city.effects = Effects.from_rows(incidents)
    return city
