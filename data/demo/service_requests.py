"""The 311 model: request rates per district and category, close times, survey scores, and the
generators of requests, closures and survey answers (the build and the live feed share them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from data.demo.events import event_slots
from data.demo.params import (
    BORO_HEAT,
    CAT_HOUR_PMF,
    CAT_INDEX,
    CAT_MEDIAN_H,
    CAT_NAMES,
    CAT_RATE,
    CAT_SIGMA,
    CAT_SLA_H,
    CHANNELS,
    DESC_COUNT,
    DESC_START,
    DESCRIPTIONS,
    STALE_HOURS,
    STALE_SHARE,
    SURVEY_DELAY_MEDIAN_H,
    SURVEY_DELAY_SIGMA,
    SURVEY_RATE,
)
from data.demo.primitives import (
    DAY,
    HOUR,
    dict_array,
    gauss,
    hash_n,
    norm_cdf,
    norm_ppf,
    norm_sf,
    poisson_events,
    ts_array,
)

if TYPE_CHECKING:
    from data.demo.city import City

def sr_rates(city: City) -> np.ndarray:
    """Daily 311 requests per district and category (annual mean), shape (D, C)."""
    d = city.districts
    ids = d["district_id"].tolist()
    pop = d["population"].fillna(0).astype(float).to_numpy() / 1000.0
    boro = d["borough"].tolist()
    density = d["density"].to_numpy()
    area = d["area_km2"].to_numpy()
    heat = np.array([BORO_HEAT.get(b, 1.0) * (1.6 if i in ("109", "110", "111", "112") else 1.0) for i, b in zip(ids, boro, strict=False)])
    rel_density = (density / np.median(density[city.active])) if len(city.active) else density
    rel_area = area / np.median(area[city.active]) if len(city.active) else area
    factors = np.stack([
        np.clip(rel_density, 0.2, 5) ** 0.35 * d["jobs"].to_numpy() ** 0.2,    # Noise
        (0.5 + d["car_share"].to_numpy()) * np.clip(rel_density, 0.2, 5) ** 0.15,  # Illegal Parking
        heat,                                                                   # Heat/Hot Water
        np.clip(rel_area, 0.2, 5) ** 0.3,                                        # Street Condition
        np.clip(rel_density, 0.2, 5) ** 0.3,                                     # Sanitation Condition
        (0.6 + d["car_share"].to_numpy()),                                       # Missed Collection
        np.clip(rel_area, 0.2, 5) ** 0.4,                                        # Streetlight
    ], axis=1)
    jitter = np.exp(0.2 * hash_n(city.seed, "sr", [f"{i}|{c}" for i in ids for c in CAT_NAMES])).reshape(len(ids), -1)
    rates = pop[:, None] * CAT_RATE[None, :] * factors * jitter * city.scale
    rates[d["is_joint_area"].to_numpy(bool)] = 0.0
    return rates


def _sr_day_factors(info: dict[str, np.ndarray]) -> np.ndarray:
    """Seasonal, weekly and incident multipliers per day and category, shape (n, C)."""
    warm, dow, off, doy, temp = info["warm"], info["dow"], info["off"], info["doy"], info["temp"]
    weekend = dow >= 5
    generic = np.where(off, 0.85, 1.05)
    heat_season = (doy >= 273) | (doy <= 151)
    f = np.stack([
        (0.7 + 0.6 * warm) * np.where(weekend, 1.25, 0.9),
        np.where(off, 0.8, 1.08),
        np.where(heat_season, 2.4 * np.clip((17 - temp) / 16, 0, 1) ** 1.3 + 0.05, 0.05) * generic,
        (0.7 + 1.3 * gauss(doy, 75, 40)) * generic,
        (0.8 + 0.4 * warm) * generic,
        np.where(info["holiday"], 0.3, 1.0) * generic,
        (0.75 + 0.5 * (1 - warm)) * generic,
    ], axis=1)
    a = info["after_storm"]
    storm = np.ones_like(f)
    storm[:, 0] = np.where(a == 0, 0.35, 1)
    storm[:, 1] = np.where(a == 0, 0.3, 1)
    storm[:, 3] = np.select([a == 0, a == 1, a == 2], [4.5, 3.0, 1.8], 1)
    storm[:, 4] = np.select([a == 0, a == 1], [3.0, 2.0], 1)
    storm[:, 5] = np.select([a == 0, a == 1], [2.0, 1.5], 1)
    storm[:, 6] = np.select([a == 0, a == 1], [4.5, 2.5], 1)
    s = info["strike"]
    strike = np.ones_like(f)
    strike[:, 5] = np.select([s == 0, s == 1, s == 2, s == 3], [7.0, 3.0, 2.0, 1.4], 1)
    strike[:, 4] = np.select([s == 0, s == 1, s == 2, s == 3], [3.0, 1.8, 1.4, 1.2], 1)
    return f * storm * strike


def _close_params(city: City, cat: np.ndarray, dist: np.ndarray, created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log median hours, sigma) of the close-time lognormal of each request."""
    info = city.day_info(created // DAY)
    slow = np.ones(len(cat))
    waste = (cat == CAT_INDEX["Missed Collection"]) | (cat == CAT_INDEX["Sanitation Condition"])
    slow = np.where(waste & (info["strike"] == 0), 3.0, np.where(waste & (info["strike"] <= 3), 2.0, slow))
    slow = np.where((cat == CAT_INDEX["Street Condition"]) & (info["after_storm"] <= 2), 1.5, slow)
    median = CAT_MEDIAN_H[cat] * city.col("districts", "efficiency")[dist] * slow
    return np.log(median), CAT_SIGMA[cat]


def satisfaction_scores(city: City, rng: np.random.Generator, cat: np.ndarray, dist: np.ndarray,
                        hours_to_close: np.ndarray) -> np.ndarray:
    """Survey score 1..5: good when closed well within the SLA, poor when slow."""
    ratio = np.maximum(hours_to_close, 0.01) / CAT_SLA_H[cat]
    cat_offset = np.select([cat == CAT_INDEX["Noise"], cat == CAT_INDEX["Illegal Parking"],
                            cat == CAT_INDEX["Heat/Hot Water"]], [-0.6, -0.4, -0.2], 0.0)
    latent = (4.5 - 0.85 * np.clip(np.log2(ratio) + 2, 0, 4.5) + cat_offset
              + city.col("districts", "satisfaction")[dist] + rng.normal(0, 0.75, len(cat)))
    return np.clip(np.rint(latent), 1, 5).astype(np.int32)


def request_events(city: City, t0: int, t1: int, rng: np.random.Generator, *, as_of: int,
                   first_id: int) -> tuple[pa.Table, pa.Table]:
    """311 requests created in [t0, t1), their closures known by `as_of`, and survey answers
    given by `as_of`. Returns (requests, responses); ids are first_id, first_id + 1, ..."""
    hours, lo, hi, frac, info, hod = event_slots(city, t0, t1)
    per_hour = _sr_day_factors(info) * CAT_HOUR_PMF[:, hod].T * frac[:, None]        # (H, C)
    lam = per_hour[:, None, :] * city.sr_rates[None, :, :]                             # (H, D, C)
    surge = city.effects.sr_multiplier(hours, city.district_ids)
    if surge is not None:
        lam = lam * surge[:, :, None]
    cells, created = poisson_events(rng, lam, lo, hi)
    n_d, n_c = lam.shape[1], lam.shape[2]
    d, c = (cells // n_c) % n_d, cells % n_c
    order = np.argsort(created, kind="stable")
    created, d, c = created[order], d[order], c[order]
    n = len(created)

    mu, sigma = _close_params(city, c, d, created)
    hours_to_close = np.exp(mu + sigma * rng.standard_normal(n))
    stale = rng.random(n) < STALE_SHARE
    hours_to_close = np.where(stale, rng.uniform(*STALE_HOURS, n), hours_to_close)
    closed = created + np.ceil(hours_to_close * HOUR).astype(np.int64)
    is_closed = closed <= as_of
    due = created + (CAT_SLA_H[c] * HOUR).astype(np.int64)
    # phone / online / app; the app's share grows by 5 points a year
    app_share = np.clip(0.22 + 0.05 * (created / DAY - 19723) / 365.25, 0.1, 0.6)
    u = rng.random(n)
    channel = np.where(u < app_share, 2, np.where(u < app_share + 0.22, 1, 0))
    lat, lon = city.sample_points(d, rng) if n else (np.empty(0), np.empty(0))
    desc = DESC_START[c] + (rng.random(n) * DESC_COUNT[c]).astype(np.int64)
    rid = first_id + np.arange(n, dtype=np.int64)
    requests = pa.table({
        "rid": pa.array(rid), "created_at": ts_array(created),
        "closed_at": pa.array(closed.astype("datetime64[s]"), mask=~is_closed),
        "due_at": ts_array(due), "district_id": dict_array(d, city.district_ids),
        "category": dict_array(c, CAT_NAMES), "channel": dict_array(channel, CHANNELS),
        "lat": pa.array(lat), "lon": pa.array(lon), "description": dict_array(desc, DESCRIPTIONS),
    })
    # survey answers
    answer = is_closed & (rng.random(n) < SURVEY_RATE + 0.03 * (channel == 2))
    delay = np.ceil(rng.lognormal(np.log(SURVEY_DELAY_MEDIAN_H), SURVEY_DELAY_SIGMA, n) * HOUR).astype(np.int64)
    responded = closed + delay
    answer &= responded <= as_of
    idx = np.flatnonzero(answer)
    scores = satisfaction_scores(city, rng, c[idx], d[idx], (closed[idx] - created[idx]) / HOUR)
    responses = _responses_table(city, responded[idx], rid[idx], d[idx], c[idx], scores)
    return requests, responses


def _responses_table(city, responded, rid, d, c, scores) -> pa.Table:
    return pa.table({
        "responded_at": ts_array(responded), "rid": pa.array(np.asarray(rid, dtype=np.int64)),
        "district_id": dict_array(d, city.district_ids), "category": dict_array(c, CAT_NAMES),
        "score": pa.array(np.asarray(scores, dtype=np.int32)),
    })


def close_open_requests(city: City, open_requests: pd.DataFrame, t0: int, t1: int,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Which open requests close in [t0, t1): sample each close time from the generator's
    close-time distribution (lognormal, or with STALE_SHARE uniform over STALE_HOURS)
    conditioned on the request being still open at t0. Input columns request_id, created_at
    (datetime), category, district_id. Returns request_id, closed_at (datetime)."""
    if open_requests.empty:
        return pd.DataFrame({"request_id": pd.Series(dtype=str), "closed_at": pd.Series(dtype="datetime64[s]")})
    created = open_requests["created_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    cat = open_requests["category"].map(CAT_INDEX).fillna(0).astype(int).to_numpy()
    lookup = {did: i for i, did in enumerate(city.district_ids)}
    dist = open_requests["district_id"].map(lookup).fillna(0).astype(int).to_numpy()
    mu, sigma = _close_params(city, cat, dist, created)
    n = len(created)
    age = np.maximum((t0 - created) / HOUR, 1e-6)
    surv_ln = norm_sf((np.log(age) - mu) / sigma)                       # P(T > age), lognormal part
    lo, hi = STALE_HOURS
    surv_st = np.clip((hi - np.maximum(age, lo)) / (hi - lo), 0, 1)     # uniform part
    weight_ln = (1 - STALE_SHARE) * surv_ln
    weight_st = STALE_SHARE * surv_st
    total = weight_ln + weight_st
    pick_ln = rng.random(n) * np.where(total > 0, total, 1) < weight_ln
    # lognormal tail beyond age: inverse survival function of a uniform share of surv_ln
    v = np.maximum(rng.random(n) * surv_ln, 1e-300)
    hours_ln = np.maximum(np.exp(mu - sigma * norm_ppf(v)), age)
    start_st = np.minimum(np.maximum(age, lo), hi)
    hours_st = start_st + rng.random(n) * (hi - start_st)
    hours_beyond = age + rng.exponential(5 * 24.0, n)                    # outlived every model
    hours = np.where(total <= 0, hours_beyond, np.where(pick_ln, hours_ln, hours_st))
    closed = created + np.ceil(hours * HOUR).astype(np.int64)
    closed = np.maximum(closed, t0)
    hit = closed < t1
    return pd.DataFrame({"request_id": open_requests["request_id"].to_numpy()[hit],
                         "closed_at": closed[hit].astype("datetime64[s]")})


def survey_answers(city: City, closed_requests: pd.DataFrame, t0: int, t1: int,
                   rng: np.random.Generator) -> pa.Table:
    """Survey answers given in [t0, t1) by requests closed earlier (not yet answered): each answers
    with probability SURVEY_RATE × P(delay lands in the window). Input columns request_id,
    created_at, closed_at, category, district_id."""
    if closed_requests.empty:
        return _responses_table(city, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64),
                                np.empty(0, np.int64), np.empty(0, np.int32))
    closed = closed_requests["closed_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    created = closed_requests["created_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    mu, sd = np.log(SURVEY_DELAY_MEDIAN_H), SURVEY_DELAY_SIGMA

    def cdf(seconds):
        return norm_cdf((np.log(np.maximum(seconds / HOUR, 1e-9)) - mu) / sd)

    p = SURVEY_RATE * np.clip(cdf(t1 - closed) - cdf(np.maximum(t0 - closed, 0)), 0, 1)
    hit = rng.random(len(closed)) < p
    when = np.maximum(closed[hit], t0) + np.floor(rng.random(hit.sum()) * (t1 - np.maximum(closed[hit], t0))).astype(np.int64)
    lookup = {did: i for i, did in enumerate(city.district_ids)}
    cat = closed_requests["category"].map(CAT_INDEX).fillna(0).astype(int).to_numpy()[hit]
    dist = closed_requests["district_id"].map(lookup).fillna(0).astype(int).to_numpy()[hit]
    scores = satisfaction_scores(city, rng, cat, dist, (closed[hit] - created[hit]) / HOUR)
    rid = np.array([int(r[2:]) for r in closed_requests["request_id"].to_numpy()[hit]], dtype=np.int64)
    order = np.argsort(when, kind="stable")
    return _responses_table(city, when[order], rid[order], dist[order], cat[order], scores[order])
