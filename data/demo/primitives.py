"""Shared helpers of the demo generator: time units, stable hashes, shape functions, Arrow columns.

No parameter of the simulated city lives here (that is ``params``): these are the tools every
generator uses, so a reading taken by the live feed and the same reading in the history are
computed by one function.
"""
from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import shapely

HOUR = 3600
DAY = 86400
EPOCH = datetime(1970, 1, 1)


def to_s(value: datetime | np.datetime64) -> int:
    """Seconds since 1970-01-01 of a naive datetime."""
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    return int((value - EPOCH) // timedelta(seconds=1))


def to_dt(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=int(seconds))


def ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))


def dict_array(indices: np.ndarray, values) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), pa.array(list(values)))


def hash_u(seed: int, salt: str, keys) -> np.ndarray:
    """Uniform [0, 1) numbers, a stable function of (seed, salt, key): same city every time."""
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}|{salt}|{key}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def hash_n(seed: int, salt: str, keys) -> np.ndarray:
    """Standard normal numbers, stable in (seed, salt, key)."""
    inv = NormalDist().inv_cdf
    return np.array([inv(min(max(u, 1e-9), 1 - 1e-9)) for u in hash_u(seed, salt, keys)])


def interp24(profile: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Value of an hourly profile at fractional hours of day (linear between hours, wraps)."""
    h0 = np.floor(hour).astype(np.int64)
    w = hour - h0
    return profile[h0 % 24] * (1 - w) + profile[(h0 + 1) % 24] * w


def us_holidays(first_year: int, last_year: int) -> np.ndarray:
    """Day indices (days since 1970-01-01) of the main US public holidays."""
    days = []
    for y in range(first_year, last_year + 1):
        may31 = date(y, 5, 31)
        sep1 = date(y, 9, 1)
        nov1 = date(y, 11, 1)
        days += [date(y, 1, 1), date(y, 7, 4), date(y, 12, 25),
                 may31 - timedelta(days=may31.weekday()),                       # Memorial Day
                 sep1 + timedelta(days=(7 - sep1.weekday()) % 7),               # Labor Day
                 nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)]          # Thanksgiving
    return np.array([(d - date(1970, 1, 1)).days for d in days], dtype=np.int64)


def allocate(total: int, weights: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Integer counts proportional to weights (largest remainder), at least `minimum` each."""
    weights = np.where(minimum > 0, np.maximum(weights, 1e-9), weights)
    raw = weights / weights.sum() * max(total, 0)
    counts = np.floor(raw).astype(int)
    rest = total - counts.sum()
    if rest > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return np.maximum(counts, minimum)


def norm_cdf(z: np.ndarray) -> np.ndarray:
    cdf = np.vectorize(NormalDist().cdf, otypes=[float])
    return cdf(z) if np.size(z) else np.asarray(z, dtype=float)


def norm_sf(z: np.ndarray) -> np.ndarray:
    """Upper tail 1 - Phi(z), accurate far into the tail."""
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(np.asarray(z, dtype=float) / math.sqrt(2))


def norm_ppf(p: np.ndarray) -> np.ndarray:
    ppf = np.vectorize(NormalDist().inv_cdf, otypes=[float])
    return ppf(np.clip(p, 1e-300, 1 - 1e-16)) if np.size(p) else np.asarray(p, dtype=float)


def gauss(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2)


def smooth_phases(seed: int, salt: str, ids) -> np.ndarray:
    return np.stack([2 * np.pi * hash_u(seed, f"{salt}{k}", ids) for k in range(4)], axis=1)


_NOISE_PERIODS_H = np.array([0.61, 2.3, 7.9, 29.0])
_NOISE_AMPS = np.array([0.25, 0.35, 0.5, 0.6]) / np.sqrt(np.sum(np.array([0.25, 0.35, 0.5, 0.6]) ** 2) / 2)


def smooth_noise(phases: np.ndarray, t_hours: np.ndarray) -> np.ndarray:
    """Smooth entity-specific noise, unit variance, shape (len(t), len(entities))."""
    out = np.zeros((len(t_hours), len(phases)))
    for k in range(4):
        out += _NOISE_AMPS[k] * np.sin(2 * np.pi * t_hours[:, None] / _NOISE_PERIODS_H[k] + phases[None, :, k])
    return out


def hour_slots(t0: int, t1: int):
    """Hour slots covering [t0, t1): start of each hour, the covered part [lo, hi) and its fraction."""
    hours = np.arange(t0 // HOUR, -(-t1 // HOUR), dtype=np.int64) * HOUR
    lo = np.maximum(hours, t0)
    hi = np.minimum(hours + HOUR, t1)
    return hours, lo, hi, (hi - lo) / HOUR


def poisson_events(rng, lam: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Draw Poisson counts per (slot, ...) cell; return the slot-major flat cell index and times."""
    counts = rng.poisson(lam).ravel()
    cells = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    slot = cells // (lam.size // lam.shape[0]) if lam.size else cells
    when = lo[slot] + np.floor(rng.random(len(cells)) * (hi - lo)[slot]).astype(np.int64)
    return cells, when


def floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def prepared_shapes(geojson) -> np.ndarray:
    """Shapely geometries of GeoJSON strings, prepared for fast point-in-polygon tests."""
    geoms = shapely.from_geojson(list(geojson))
    shapely.prepare(geoms)
    return geoms


def sample_points(geoms: np.ndarray, district_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points inside each given district (rejection sampling, vectorised); `geoms`
    are the prepared district shapes, indexed like the districts frame."""
    lon = np.empty(len(district_idx))
    lat = np.empty(len(district_idx))
    for d in np.unique(district_idx):
        where = np.flatnonzero(district_idx == d)
        geom = geoms[d]
        x0, y0, x1, y1 = shapely.bounds(geom)
        ratio = max(shapely.area(geom) / ((x1 - x0) * (y1 - y0)), 0.02)
        xs, ys, need = [], [], len(where)
        while need > 0:
            n = int(need / ratio * 1.3) + 16
            cx = rng.uniform(x0, x1, n)
            cy = rng.uniform(y0, y1, n)
            inside = shapely.contains_xy(geom, cx, cy)
            xs.append(cx[inside][:need])
            ys.append(cy[inside][:need])
            need -= int(min(inside.sum(), need))
        lon[where] = np.round(np.concatenate(xs), 6)
        lat[where] = np.round(np.concatenate(ys), 6)
    return lat, lon
