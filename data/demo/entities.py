"""Entities of a city (bike stations, parking facilities, smart bins, traffic segments): their
stored columns for a new city, and their hidden behaviour as a pure function of (seed, id,
district), so the live feed rebuilds the same behaviour from the warehouse alone."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.demo.params import BASE_BINS, BASE_FACILITIES, BASE_SEGMENTS, BASE_STATIONS, PARK_STATION_DISTRICTS, STREETS
from data.demo.primitives import allocate, hash_n, hash_u, prepared_shapes, sample_points, smooth_phases


def _district_index(city_districts: pd.DataFrame, district_ids) -> np.ndarray:
    lookup = {d: i for i, d in enumerate(city_districts["district_id"])}
    return np.array([lookup[d] for d in district_ids], dtype=np.int64)


def augment_entities(districts: pd.DataFrame, seed: int, stations: pd.DataFrame, facilities: pd.DataFrame,
                     bins: pd.DataFrame, segments: pd.DataFrame):
    """Add the hidden behaviour columns; a pure function of ids, districts and seed."""
    stations = stations.sort_values("station_id").reset_index(drop=True)
    facilities = facilities.sort_values("facility_id").reset_index(drop=True)
    bins = bins.sort_values("bin_id").reset_index(drop=True)
    segments = segments.sort_values("segment_id").reset_index(drop=True)

    jobs = districts["jobs"].to_numpy()
    boro = districts["borough"].to_numpy()

    ids = stations["station_id"].tolist()
    d = _district_index(districts, stations["district_id"])
    stations["d"] = d
    stations["role"] = np.clip(np.tanh(np.log(jobs[d] / 0.9)) + 0.25 * hash_n(seed, "role", ids), -1, 1)
    bike_w = districts["bike_w"].to_numpy()
    ref = np.median(bike_w[bike_w > 0]) if (bike_w > 0).any() else 1.0
    park = districts["is_joint_area"].to_numpy(bool)[d]
    stations["popularity"] = np.where(park, 1.2, np.clip(bike_w[d] / ref, 0.15, 6) ** 0.6) * np.exp(0.35 * hash_n(seed, "pop", ids))
    stations["offset"] = 0.08 * hash_n(seed, "dock", ids)
    stations_ph = smooth_phases(seed, "st", ids)

    ids = facilities["facility_id"].tolist()
    d = _district_index(districts, facilities["district_id"])
    facilities["d"] = d
    facilities["business"] = np.clip(jobs[d] / (jobs[d] + 1.0) + 0.2 * (hash_u(seed, "bus", ids) - 0.5), 0.05, 0.95)
    facilities["level"] = np.clip(districts["parking_level"].to_numpy()[d] + 0.03 * hash_n(seed, "lvl", ids), 0.4, 0.99)
    facilities["borough"] = boro[d]
    facilities_ph = smooth_phases(seed, "pk", ids)

    ids = bins["bin_id"].tolist()
    d = _district_index(districts, bins["district_id"])
    bins["d"] = d
    dense = districts["density"].to_numpy()[d] > 15000
    pattern = (hash_u(seed, "days", ids) * 3).astype(int)
    three = np.array([0b0010101, 0b0101010, 0b0010101])      # Mon/Wed/Fri or Tue/Thu/Sat (bit = weekday)
    two = np.array([0b0001001, 0b0010010, 0b0100100])        # Mon/Thu, Tue/Fri, Wed/Sat
    bins["mask"] = np.where(dense, three[pattern], two[pattern])
    bins["coll_hour"] = 5.0 + 6.0 * hash_u(seed, "chour", ids)
    gap = np.where(dense, 56.0, 84.0)
    target = 30.0 + 60.0 * hash_u(seed, "target", ids) ** 1.4   # % full at an average collection
    bins["rate"] = target / gap                                  # % per activity-hour
    bins["residual"] = 1.0 + 6.0 * hash_u(seed, "resid", ids)

    ids = segments["segment_id"].tolist()
    d = _district_index(districts, segments["district_id"])
    segments["d"] = d
    manhattan = boro[d] == "Manhattan"
    u = hash_u(seed, "ff", ids)
    segments["free_flow_kmh"] = np.round(np.where(manhattan, 28 + 12 * u, np.where(u > 0.8, 70 + 20 * u, 38 + 22 * u)), 1)
    segments["base_volume"] = (250 + 900 * hash_u(seed, "vol", ids)) * np.where(manhattan, 1.3, 1.0)
    segments["capacity"] = segments["base_volume"] * np.where(manhattan, 1.45, 2.0) * (0.9 + 0.2 * hash_u(seed, "cap", ids))
    return stations, stations_ph, facilities, facilities_ph, bins, segments


def make_entities(districts: pd.DataFrame, seed: int, scale: float):
    """Stored columns of the entities (counts, capacities, names, locations) of a new city."""
    rng = np.random.default_rng([seed, 1])
    joint = districts["is_joint_area"].to_numpy(bool)
    ids = districts["district_id"].tolist()
    active_min = (~joint).astype(int)
    pop = districts["population"].fillna(0).astype(float).to_numpy()
    area = districts["area_km2"].to_numpy()
    jobs = districts["jobs"].to_numpy()
    cars = districts["car_share"].to_numpy()
    label = districts["label"].str.split("-").str[0].str.strip().tolist() if "label" in districts else districts["name"].tolist()
    boro = districts["borough"].to_numpy()

    # bike stations (+ a few in parks)
    w = districts["bike_w"].to_numpy() * np.sqrt(area)
    n_st = allocate(round(BASE_STATIONS * scale), w, active_min)
    for did, n in PARK_STATION_DISTRICTS.items():
        if did in ids:
            n_st[ids.index(did)] = max(1, round(n * min(scale, 3)))
    st_d = np.repeat(np.arange(len(ids)), n_st)
    lat, lon = sample_points(prepared_shapes(districts["geometry"]), st_d, rng)
    cap = rng.integers(15, 40, len(st_d)) + np.where(boro[st_d] == "Manhattan", 12, 0)
    cross = rng.integers(1, 120, len(st_d))
    street = rng.integers(0, len(STREETS), len(st_d))
    stations = pd.DataFrame({
        "station_id": [f"BS{i + 1:05d}" for i in range(len(st_d))],
        "name": [f"{STREETS[s]} & {c} St" for s, c in zip(street, cross, strict=False)],
        "district_id": [ids[i] for i in st_d], "lat": lat, "lon": lon, "capacity": cap.astype(np.int32),
    })

    # parking facilities: more spaces where people own cars and space is cheap
    w = np.where(joint, 0, pop * cars * area**0.3 + pop * 0.3 * np.sqrt(jobs))
    n_pk = allocate(round(BASE_FACILITIES * scale), w, active_min)
    pk_d = np.repeat(np.arange(len(ids)), n_pk)
    manhattan = boro[pk_d] == "Manhattan"
    garage = rng.random(len(pk_d)) < 0.35
    cap = np.where(garage, rng.integers(100, 450, len(pk_d)),
                   np.where(manhattan, rng.integers(10, 40, len(pk_d)), rng.integers(20, 90, len(pk_d))))
    counter: dict[tuple[int, bool], int] = {}
    names = []
    for di, g in zip(pk_d, garage, strict=False):
        counter[(di, g)] = counter.get((di, g), 0) + 1
        names.append(f"{label[di]} {'Garage' if g else 'Curb Zone'} {counter[(di, g)]}")
    facilities = pd.DataFrame({
        "facility_id": [f"PK{i + 1:05d}" for i in range(len(pk_d))], "name": names,
        "district_id": [ids[i] for i in pk_d], "capacity": cap.astype(np.int32),
        "kind": np.where(garage, "garage", "curb zone"),
    })

    w = np.where(joint, 0, pop**0.7 * jobs**0.3)
    n_bn = allocate(round(BASE_BINS * scale), w, active_min)
    bn_d = np.repeat(np.arange(len(ids)), n_bn)
    bins = pd.DataFrame({"bin_id": [f"BN{i + 1:06d}" for i in range(len(bn_d))], "district_id": [ids[i] for i in bn_d]})

    w = np.where(joint, 0, np.sqrt(area) * (1 + np.sqrt(jobs)))
    n_sg = allocate(round(BASE_SEGMENTS * scale), w, active_min)
    sg_d = np.repeat(np.arange(len(ids)), n_sg)
    segments = pd.DataFrame({"segment_id": [f"SEG{i + 1:05d}" for i in range(len(sg_d))],
                             "district_id": [ids[i] for i in sg_d]})
    return stations, facilities, bins, segments
