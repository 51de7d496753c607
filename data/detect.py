"""Detection: what is an alert, decided once, where data arrives (never in a page).

For every metric with an ``alert:`` policy in its registry header (data/alert_policy.py), per
district and the city, at the policy's grain, on **complete periods only** (the period that is
still filling is never judged), :func:`evaluate` returns one *detection* per district and rule
with a status for data/episodes.record:

* **threshold** — the registry's target and warning band. A period counts only if it rests on
  at least ``min_n`` records; it must be out of band for ``pending`` periods in a row before
  the rule fires (critical when beyond the warning band), and back in band for ``hysteresis``
  periods before it clears. Periods with too few records are skipped, never judged.
* **anomaly** — against a seasonal baseline from the ``baseline_days`` before the period:
  hour-of-day x (workday, weekend) at hour grain, day of week at day grain. Counts (metrics
  whose aggregate is a sum) are tested as counts: the expected count is the district's robust
  level times the city's seasonal shape, the test is negative binomial (Poisson when not
  over-dispersed, scipy.stats) over windows of 1, 3 and 6 periods, and the window must hold at
  least ``min_n`` records — so 3 reports in a quiet district are not an anomaly, a real burst
  is. Other values use the slot median and a robust scale (1.4826 x MAD of the residuals); the
  band is expected +- sensitivity x scale, and the mean of the last 3 and 6 periods is judged
  the same way against the spread of the baseline's own 3- and 6-period means (the tail split
  between them), so a few periods each a little out are found too. Only the worse direction
  fires (higher values for a metric where lower is better).
* **forecast** — for capacity metrics: the seasonal expectation of the next ``horizon``
  periods plus the current residual and its recent trend; fires while the value is still
  within target when that forecast crosses the target and the usual profile alone would not
  ("Parking occupancy at 85 % in about 2 h").
* **no_data** — a district that normally reports has no record for ``no_data`` periods while
  the source still delivers elsewhere (a silent sensor network, not a quiet night).

Pure functions of a :class:`Panel` (districts x contiguous periods); :func:`run` reads the
warehouse rollups, evaluates every metric and records the episodes (called by the writer
after a publish). ``bench/alerts.py`` replays history through :func:`evaluate`.
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

from data import facts, registry

log = logging.getLogger(__name__)

STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
COUNT_WINDOWS = {"hour": (1, 3, 6), "day": (1, 2), "week": (1,)}
RECENT = {"hour": 6, "day": 2, "week": 1}   # latest periods kept out of the baseline
DEFAULT_MIN_N = 1
STANDING_MIN = 2    # judged periods of the same slot a usual breach needs on record
USUAL_SHARE = 0.25  # a breach seen in at least this share of the same slot's periods is the pattern
DAMPING = 0.85      # forecast: share of today's departure from the usual kept one period later
FORECAST_DEPARTURE = 3.0  # forecast: the value is at least this many sigmas above the usual now
TRIALS_ALPHA = 0.05  # a share of counted units is off target when the target is outside its 95 % bound
MIN_RATIO = 1.5      # a count anomaly is at least half as much again as expected, however significant


def min_n(metric: registry.Metric) -> int:
    """Fewest records a period must rest on before any rule may judge it: the larger of the
    policy's min_n and the metric's own (registry field min_n, data/facts)."""
    policy = metric.alert
    if policy is not None and policy.min_n is not None:
        return max(int(policy.min_n), int(getattr(metric, "min_n", None) or 1))
    return int(getattr(metric, "min_n", None) or DEFAULT_MIN_N)


def is_count(metric: registry.Metric) -> bool:
    return metric.aggregate == "sum"


def align(ts: datetime, grain: str) -> datetime:
    """``facts.align`` for the grains detection runs at (`ts` may be a pandas Timestamp)."""
    if grain not in ("hour", "day", "week"):
        raise ValueError(f"detection runs at hour, day or week grain, not {grain!r}")
    return facts.align(pd.Timestamp(ts).to_pydatetime(), grain)


def last_complete(now: datetime, grain: str) -> datetime:
    """Start of the newest period that has ended by `now`."""
    return align(now, grain) - STEP[grain]


# ------------------------------------------------------------------------------ the panel
@dataclass
class Panel:
    """One metric at one grain: districts x contiguous periods (the city is a district 'city')."""

    grain: str
    districts: list[str]
    periods: pd.DatetimeIndex
    value: np.ndarray      # (D, K) float, NaN where no row
    n: np.ndarray          # (D, K) float, 0 where no row
    present: np.ndarray    # (D, K) bool: a row exists
    source_alive: np.ndarray  # (K,) bool: some district delivered a record in the period
    denominator: np.ndarray | None = None  # (D, K) of a ratio (its resolution: 100 / denominator points)

    def upto(self, period: datetime, days: int) -> "Panel":
        """The columns from `days` before `period` up to and including it (views, no copy)."""
        stop = int(self.periods.searchsorted(pd.Timestamp(period), side="right"))
        start = int(self.periods.searchsorted(pd.Timestamp(period) - pd.Timedelta(days=days), side="left"))
        sl = slice(start, stop)
        return Panel(self.grain, self.districts, self.periods[sl], self.value[:, sl], self.n[:, sl],
                     self.present[:, sl], self.source_alive[sl],
                     None if self.denominator is None else self.denominator[:, sl])


def panel(frame: pd.DataFrame, grain: str, start: datetime, end: datetime, *, count: bool,
          districts=None) -> Panel:
    """A Panel from metric rows (district_id, period, value, n) with periods in [start, end).
    For counts, a district with no row in a period where the source delivered elsewhere
    counted zero (value 0, n 0)."""
    periods = pd.date_range(align(start, grain), align(end, grain), freq=STEP[grain], inclusive="left")
    ids = sorted(set(frame["district_id"]) | set(districts or ()))
    if "city" in ids:
        ids = [d for d in ids if d != "city"] + ["city"]
    D, K = len(ids), len(periods)
    value = np.full((D, K), np.nan)
    n = np.zeros((D, K))
    present = np.zeros((D, K), dtype=bool)
    denominator = np.full((D, K), np.nan) if "denominator" in frame.columns else None
    if len(frame):
        row = pd.Index(ids).get_indexer(frame["district_id"])
        col = periods.get_indexer(pd.to_datetime(frame["period"]))
        ok = (row >= 0) & (col >= 0)
        row, col = row[ok], col[ok]
        value[row, col] = frame["value"].to_numpy(float)[ok]
        n[row, col] = np.nan_to_num(frame["n"].to_numpy(float)[ok])
        present[row, col] = True
        if denominator is not None:
            denominator[row, col] = pd.to_numeric(frame["denominator"], errors="coerce").to_numpy(float)[ok]
    alive = present.any(axis=0)
    if count:
        fill = ~present & alive[None, :]
        value[fill] = 0.0
    return Panel(grain, ids, periods, value, n, present, alive, denominator)


# ------------------------------------------------------------------------------ helpers
def _slots(periods: pd.DatetimeIndex, grain: str) -> np.ndarray:
    if grain == "hour":
        return periods.hour.to_numpy() + 24 * (periods.day_of_week.to_numpy() >= 5)
    if grain == "day":
        return periods.day_of_week.to_numpy()
    return np.zeros(len(periods), dtype=int)


def _coarse(slots: np.ndarray, grain: str) -> np.ndarray:
    return slots % 24 if grain == "hour" else np.zeros_like(slots)


def _tail(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """flags (D, M): 1 out of band, 0 in band, NaN not judged. Per row, the run length of 1s and
    of 0s at the end, judged periods only (the newest must be judged, else both are 0)."""
    D, M = flags.shape
    if M == 0:
        return np.zeros(D, dtype=int), np.zeros(D, dtype=int)
    valid = ~np.isnan(flags)
    idx = np.where(valid, np.arange(M)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(np.where(valid, flags, np.nan), idx, axis=1)   # forward-filled
    last = flags[:, -1]
    differs = ~(filled == last[:, None])                 # NaN (nothing judged yet) differs too
    any_diff = differs.any(axis=1)
    cut = np.where(any_diff, M - 1 - np.argmax(differs[:, ::-1], axis=1), -1)
    after = np.arange(M)[None, :] > cut[:, None]
    run = (valid & after).sum(axis=1)
    run = np.where(valid[:, -1], run, 0)
    return np.where(last == 1, run, 0).astype(int), np.where(last == 0, run, 0).astype(int)


def _run_start(flags: np.ndarray, periods: pd.DatetimeIndex, d: int) -> datetime:
    """Start period of the run of 1s ending at the newest judged period."""
    idx = np.flatnonzero(~np.isnan(flags[d]))
    first = idx[-1]
    for k in idx[::-1]:
        if flags[d, k] != 1:
            break
        first = k
    return periods[first].to_pydatetime()


def _status(out_run: int, ok_run: int, pending: int, hysteresis: int) -> str | None:
    if out_run >= pending:
        return "firing"
    if out_run > 0:
        return "pending"
    if ok_run >= hysteresis:
        return "clear"
    if ok_run > 0:
        return "recovering"
    return None


def _fmt(metric, value) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    unit = metric.unit
    text = metric.format_value(float(value))
    return f"{text} %" if unit == "%" else f"{text} {unit}".strip()


def _when(period: pd.Timestamp, grain: str) -> str:
    return f"{period:%a %d %b %H:00}" if grain == "hour" else f"{period:%a %d %b}"


# ------------------------------------------------------------------------------ baselines
@dataclass
class Baseline:
    expected: np.ndarray   # (D, M + H) expected value for the judged periods and the horizon
    lower: np.ndarray
    upper: np.ndarray
    scale: np.ndarray      # (D,) robust residual scale (continuous) or dispersion (counts)
    every: np.ndarray | None = None     # continuous: (D, K) the slot's usual value of every period
    window_scale: dict | None = None    # continuous: {w: (D,) robust scale of w-period mean residuals}


def _continuous_baseline(p: Panel, M: int, H: int, sens: float, unit_steps: float = 0.5) -> Baseline:
    """Slot medians and a robust residual scale from the baseline (all but the newest RECENT
    periods and the judged ones), for the M judged periods and H periods ahead."""
    K = len(p.periods)
    cut = max(0, K - max(M, RECENT[p.grain]))
    slots = _slots(p.periods, p.grain)
    ahead = pd.date_range(p.periods[-1] + STEP[p.grain], periods=H, freq=STEP[p.grain]) if H else p.periods[:0]
    target_slots = np.concatenate([slots[K - M:], _slots(ahead, p.grain)])
    base_v, base_s = p.value[:, :cut], slots[:cut]
    coarse_base = _coarse(base_s, p.grain)
    expected = np.full((len(p.districts), len(target_slots)), np.nan)
    fitted = np.full(base_v.shape, np.nan)
    every = np.full(p.value.shape, np.nan)
    overall = _nanmedian(base_v) if cut else np.full(len(p.districts), np.nan)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for slot in np.unique(np.concatenate([base_s, target_slots])):
                cols = base_s == slot
                if cols.sum() >= 3:
                    med = _nanmedian(base_v[:, cols])
                else:
                    coarse_cols = coarse_base == _coarse(np.array([slot]), p.grain)[0]
                    med = _nanmedian(base_v[:, coarse_cols]) if coarse_cols.any() else overall
                med = np.where(np.isnan(med), overall, med)
                expected[:, target_slots == slot] = med[:, None]
                fitted[:, cols] = med[:, None]
                every[:, slots == slot] = med[:, None]
            resid = base_v - fitted
            mad = 1.4826 * _nanmedian(np.abs(resid))
    floor = 0.02 * np.abs(np.nan_to_num(overall)) + 1e-6
    if p.denominator is not None and cut and np.isfinite(p.denominator[:, :cut]).any():
        # a share of a few units moves in steps of 100 / units points: half a step (a whole one
        # for counted units) is noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            step = 100.0 / _nanmedian(p.denominator[:, :cut])
        floor = np.fmax(floor, unit_steps * np.nan_to_num(step, nan=0.0))
    scale = np.fmax(np.nan_to_num(mad, nan=np.inf), floor)
    window_scale = {1: scale}
    for w in COUNT_WINDOWS[p.grain][1:]:
        # residuals persist (a full garage stays full), so the spread of w-period means is
        # measured on the baseline's own w-period means, not assumed to shrink by sqrt(w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = _window_sums(resid, w) / w if cut >= w else np.full((len(p.districts), 0), np.nan)
            mad_w = 1.4826 * _nanmedian(np.abs(means))
        window_scale[w] = np.fmax(np.nan_to_num(mad_w, nan=np.inf), floor)
    return Baseline(expected, expected - sens * scale[:, None], expected + sens * scale[:, None], scale,
                    every, window_scale)


def _count_baseline(p: Panel, M: int, sens: float) -> Baseline:
    """Expected counts: each district's robust level (its mean over the baseline with the top
    2 % of periods left out) times the city's seasonal shape (slot mean / overall mean), and a
    dispersion per district (Pearson chi-square / periods, at least 1)."""
    K = len(p.periods)
    cut = max(0, K - max(M + max(COUNT_WINDOWS[p.grain]), RECENT[p.grain]))
    slots = _slots(p.periods, p.grain)
    base_v = p.value[:, :cut]
    base_alive = p.source_alive[:cut]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        city = np.nansum(base_v[:-1] if p.districts[-1] == "city" else base_v, axis=0)
        city = np.where(base_alive, city, np.nan)
        overall = np.nanmean(city) if cut else np.nan
        shape = np.ones(K)
        for slot in np.unique(slots):
            cols = slots[:cut] == slot
            if cols.sum() >= 2 and overall and np.isfinite(overall) and overall > 0:
                shape[slots == slot] = max(np.nanmean(city[cols]) / overall, 0.05)
        high = np.nanquantile(base_v, 0.98, axis=1, keepdims=True) if cut else np.zeros((len(p.districts), 1))
        trimmed = np.where(base_v <= high, base_v, np.nan)
        level = np.nanmean(trimmed / shape[None, :cut], axis=1) if cut else np.full(len(p.districts), np.nan)
        lam_base = np.nan_to_num(level)[:, None] * shape[None, :cut]
        # dispersion of w-period sums (a wet day raises every hour of it: sums vary more than hours)
        dispersion = {}
        for w in COUNT_WINDOWS[p.grain]:
            if cut < w + 1:
                dispersion[w] = np.ones(len(p.districts))
                continue
            xs = _window_sums(np.nan_to_num(base_v), w)
            mus = _window_sums(lam_base, w)
            pearson = np.nanmean(np.where(mus > 0, (xs - mus) ** 2 / mus, np.nan), axis=1)
            dispersion[w] = np.clip(np.nan_to_num(pearson, nan=1.0), 1.0, 100.0)
    level = np.nan_to_num(level)
    lam = level[:, None] * shape[None, :]
    alpha = stats.norm.sf(sens)
    lo = _count_ppf(alpha, lam[:, K - M:], dispersion[1])
    hi = _count_ppf(1 - alpha, lam[:, K - M:], dispersion[1])
    return Baseline(lam, lo, hi, dispersion)


def _beyond_target(value: np.ndarray, units: np.ndarray, target: float, *, worse_high: bool) -> np.ndarray:
    """Whether a share of `units` (value = 100 x k / units) is beyond `target` by more than
    chance: the target lies outside the one-sided 95 % binomial bound of k out of units
    (P(X >= k | units, target) < 0.05 when higher is worse). 10 of 11 spaces is not over 85 %;
    400 of 442 is."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(value) & np.isfinite(units) & (units > 0)
        size = np.where(ok, np.round(units), 1).astype(np.int64)
        k = np.where(ok, np.round(np.nan_to_num(value) * size / 100.0), 0).astype(np.int64)
        q = min(max(float(target) / 100.0, 0.0), 1.0)
        pv = stats.binom.sf(k - 1, size, q) if worse_high else stats.binom.cdf(k, size, q)
    return ok & (pv < TRIALS_ALPHA)


def _window_sums(a: np.ndarray, w: int) -> np.ndarray:
    """Sums of w consecutive columns, every w columns (non-overlapping windows)."""
    usable = (a.shape[1] // w) * w
    return a[:, a.shape[1] - usable:].reshape(a.shape[0], -1, w).sum(axis=2)


def _count_params(mean, dispersion):
    """Negative binomial (n, p) with the given mean and variance = dispersion x mean."""
    mean = np.maximum(mean, 1e-9)
    if np.ndim(dispersion) == 1 and np.ndim(mean) == 2:
        dispersion = dispersion[:, None]
    dispersion = np.maximum(dispersion, 1.0 + 1e-6)
    return mean / (dispersion - 1.0), 1.0 / dispersion


def _count_ppf(q, mean, dispersion):
    return stats.nbinom.ppf(q, *_count_params(mean, dispersion))


def _count_sf(x, mean, dispersion):
    """P(X >= x)."""
    return stats.nbinom.sf(np.asarray(x) - 1, *_count_params(mean, dispersion))


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN (NaN for an all-NaN row); numpy's nanmedian is slow on many
    small rows."""
    if a.shape[1] == 0:
        return np.full(a.shape[0], np.nan)
    ordered = np.sort(a, axis=1)                     # NaN sort last
    count = (~np.isnan(a)).sum(axis=1)
    lo = np.clip((count - 1) // 2, 0, a.shape[1] - 1)
    hi = np.clip(count // 2, 0, a.shape[1] - 1)
    rows = np.arange(a.shape[0])
    med = (ordered[rows, lo] + ordered[rows, hi]) / 2
    return np.where(count > 0, med, np.nan)


# ------------------------------------------------------------------------------ rules
class _Judging:
    """What every rule of one evaluation shares: the metric and its policy, the panel, the M
    newest periods being judged (value, n, periods), and the detections found so far."""

    def __init__(self, metric: registry.Metric, p: Panel):
        self.metric, self.policy, self.p = metric, metric.alert, p
        self.need = min_n(metric)
        policy = self.policy
        M = max(max(policy.pending.values()), policy.hysteresis, policy.no_data) + 2
        self.M = M = min(M, len(p.periods))
        self.value, self.n, self.periods = p.value[:, -M:], p.n[:, -M:], p.periods[-M:]
        self.judged = self.n >= self.need
        self.sign = 1.0 if metric.direction == "lower" else -1.0  # +: higher values are worse
        self.common = {"metric_id": metric.id, "grain": p.grain, "period": self.periods[-1].to_pydatetime()}
        self.out: list[dict] = []

    def when(self) -> str:
        """The newest judged period, as a message names it."""
        return _when(self.periods[-1], self.p.grain)

    def fmt(self, value) -> str:
        return _fmt(self.metric, value)

    def emit(self, rule, flags, d, *, severity, message, expected=None, lower=None, upper=None, target=None,
             forecast_at=None, records=None, flag_periods=None, standing=False):
        """Add district d's detection for `rule` from its flags; `message` is called only when
        there is one (most districts have none)."""
        policy, value = self.policy, self.value
        out_run, ok_run = _tail(flags[d:d + 1])
        status = _status(int(out_run[0]), int(ok_run[0]), policy.pending_for(rule), policy.hysteresis)
        if standing:
            status = "pending"
        if status is None:
            return
        message = message()
        if standing:
            message += " — usual at this time (off target in many such periods on record)"
        first = _run_start(flags, flag_periods if flag_periods is not None else self.periods, d) \
            if status in ("firing", "pending") else None
        self.out.append({**self.common, "district_id": self.p.districts[d], "rule": rule, "status": status,
                         "severity": severity, "value": None if np.isnan(value[d, -1]) else float(value[d, -1]),
                         "n": int(self.n[d, -1] if records is None else records), "expected": expected, "lower": lower,
                         "upper": upper, "target": target, "message": message, "forecast_at": forecast_at,
                         "first_period": first, "reopen_within": STEP[self.p.grain] * policy.hysteresis})


def evaluate(metric: registry.Metric, p: Panel, now: datetime) -> list[dict]:
    """The detections of `metric` for the newest period of `p` complete at `now` (later
    columns of `p`, if any, are ignored): one dict per district and rule, for
    data/episodes.record. Pure: no I/O."""
    policy = metric.alert
    if policy is None or p.grain != policy.grain or not len(p.periods):
        return []
    newest = last_complete(now, p.grain)
    p = p.upto(newest, policy.baseline_days + 1)
    if not len(p.periods) or p.periods[-1] != pd.Timestamp(newest):
        return []  # no column for the newest complete period: nothing to judge
    j = _Judging(metric, p)
    rules = policy.rules
    if "threshold" in rules and metric.target is not None:
        _threshold(j)
    base = _baseline(j) if "anomaly" in rules or "forecast" in rules else None
    if "anomaly" in rules and base is not None:
        (_count_anomaly if is_count(metric) else _continuous_anomaly)(j, base)
    if "forecast" in rules and base is not None and metric.target is not None and not is_count(metric):
        _forecast(j, base)
    if "no_data" in rules:
        _no_data(j)
    return j.out


def _threshold(j: _Judging) -> None:
    """Off target (critical beyond the warning level) for `pending` periods in a row that are
    news: a breach that is usual for its slot (off target in at least a quarter of the same
    slot's judged periods before it) neither counts towards the pending run nor keeps an alert
    open. Otherwise a district off target every workday would turn its first unusual weekend
    day into an alert after one period (Friday's usual breach counted as the first), and an
    alert opened by an unusual breach would stay open for as long as the usual ones last."""
    metric, p = j.metric, j.p
    full = p.value
    sign_t = 1 if metric.direction == "higher" else -1
    with np.errstate(invalid="ignore"):
        off = sign_t * (full - metric.target) < 0
        bad_all = off & ~(sign_t * (full - metric.warning) >= 0) if metric.warning is not None else off
    ok_judged = (p.n >= j.need) & ~np.isnan(full)
    # usual is judged on the plain values: a garage over its target on most workday middays is
    # the pattern even when only some of those breaches are beyond chance on its spaces
    usual, known = np.zeros(off.shape, dtype=bool), np.zeros(off.shape, dtype=bool)
    for slots in _kind_slots(p.periods, p.grain):
        usual_s, known_s = _usual_breaches(off & ok_judged, ok_judged, slots)
        usual, known = usual | usual_s, known | known_s
    if j.policy.trials and p.denominator is not None:
        significant = _beyond_target(full, p.denominator, metric.target, worse_high=sign_t < 0)
        off, bad_all, usual = off & significant, bad_all & significant, usual & significant
    flags = np.where(ok_judged, (off & ~usual).astype(float), np.nan)
    for d in range(len(p.districts)):
        if np.isnan(flags[d, -1]):
            continue
        bad = bool(bad_all[d, -1])
        where = "beyond the warning level" if bad else "off target"
        # a usual breach and no unusual one in the window (where the slot's history tells):
        # reported as the pattern it is, nothing to open and nothing to resolve
        standing = bool(usual[d, -1]) and not np.nansum(np.where(known[d], flags[d], 0.0))
        j.emit("threshold", flags, d, severity="critical" if bad else "warning",
               message=partial(_threshold_message, j, d, where),
               target=metric.target, flag_periods=p.periods, standing=standing)


def _kind_slots(periods: pd.DatetimeIndex, grain: str) -> list[np.ndarray]:
    """The slots a usual breach is judged by, any of which makes it usual: the hour of a
    workday or weekend day at hour grain; at day grain the weekday (bins fill before their
    collection day) and the kind of day, workday or weekend (two weeks hold only two of each
    weekday, too few to tell a district congested every workday; they hold ten workdays)."""
    if grain == "day":
        return [_slots(periods, grain), (periods.day_of_week.to_numpy() >= 5).astype(int)]
    return [_slots(periods, grain)]


def _usual_breaches(off: np.ndarray, judged: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per district and period: whether the period is off target and the same slot's judged
    periods before it (at least STANDING_MIN) were off target in at least USUAL_SHARE of them
    (Midtown garages full at 10:00 on workdays; a district that always misses its target on
    workdays); and whether the slot had that much history (known) at all."""
    usual = np.zeros(off.shape, dtype=bool)
    known = np.zeros(off.shape, dtype=bool)
    for slot in np.unique(slots):
        cols = np.flatnonzero(slots == slot)
        seen = np.cumsum(judged[:, cols], axis=1) - judged[:, cols]
        seen_off = np.cumsum(off[:, cols], axis=1) - off[:, cols]
        known[:, cols] = seen >= STANDING_MIN
        usual[:, cols] = off[:, cols] & known[:, cols] & (seen_off >= USUAL_SHARE * seen)
    return usual, known


def _threshold_message(j: _Judging, d: int, where: str) -> str:
    value, target = _apart(j.metric, float(j.value[d, -1]), j.metric.target)
    return (f"{j.metric.label}: {value} in {j.when()}, {where} "
            f"(target {target}), on {int(j.n[d, -1])} records")


def _apart(metric, value: float, target: float) -> tuple[str, str]:
    """The value and its target as a message shows them, with as many more decimals (up to 3)
    as it takes for a breach not to read "20.0 %, off target (target 20.0 %)"."""
    shown = _fmt(metric, value), _fmt(metric, target)
    spec = metric.format.replace("~", "")
    match = re.fullmatch(r"(,?)\.(\d+)f", spec) or re.fullmatch(r"(,?)()d", spec)
    if match is None or shown[0] != shown[1] or not np.isfinite(value) or value == target:
        return shown
    decimals = int(match.group(2) or 0)
    for extra in range(1, 4):
        spec_ = f"{match.group(1)}.{decimals + extra}f"
        texts = format(value, spec_), format(target, spec_)
        if texts[0] != texts[1]:
            unit = metric.unit
            return tuple(f"{t} %" if unit == "%" else f"{t} {unit}".strip() for t in texts)
    return shown


def _baseline(j: _Judging) -> Baseline:
    """The usual values the anomaly and forecast rules compare with (counts as counts)."""
    policy = j.policy
    H = policy.horizon if "forecast" in policy.rules else 0
    if is_count(j.metric):
        return _count_baseline(j.p, j.M, policy.sensitivity)
    # counted units (policy trials): one unit more or less (a car, a reading) is noise
    return _continuous_baseline(j.p, j.M, H, policy.sensitivity, 1.0 if policy.trials else 0.5)


def _count_anomaly(j: _Judging, base: Baseline) -> None:
    """A count beyond chance in the best of the grain's windows (1, 3, 6 hours...), holding at
    least min_n records and at least MIN_RATIO times the expected count."""
    p, M, policy, value = j.p, j.M, j.policy, j.value
    alpha = stats.norm.sf(policy.sensitivity)
    lam = base.expected
    pvals, totals, best_w = _count_windows(j, base)
    alive = p.source_alive[-M:][None, :] & ~np.isnan(value)
    flags = np.where(alive, (pvals < alpha / len(COUNT_WINDOWS[p.grain])).astype(float), np.nan)
    zs = stats.norm.isf(np.maximum(pvals[:, -1], 1e-300))
    for d in range(len(p.districts)):
        if np.isnan(flags[d, -1]):
            continue
        w = int(best_w[d, -1])
        mu = float(lam[:, -w:][d].sum()) if flags[d, -1] == 1 else float(lam[d, -1])
        x = int(totals[d, -1]) if flags[d, -1] == 1 else int(np.nan_to_num(value[d, -1]))
        j.emit("anomaly", flags, d, severity="critical" if zs[d] >= 2 * policy.sensitivity else policy.severity,
               message=partial(_count_message, j, pvals[d, -1], w, mu, x), expected=float(lam[d, -1]),
               lower=float(base.lower[d, -1]), upper=float(base.upper[d, -1]), records=x)


def _count_windows(j: _Judging, base: Baseline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per district and judged period, over the windows ending there: the smallest p-value,
    the count of its window and the window's length."""
    p, M, value = j.p, j.M, j.value
    lam = base.expected
    K = len(p.periods)
    full_v = p.value
    pvals = np.ones(value.shape)
    totals = np.zeros(value.shape)
    best_w = np.ones(value.shape, dtype=int)
    for col in range(M):
        k = K - M + col
        for w in COUNT_WINDOWS[p.grain]:
            if k - w + 1 < 0:
                continue
            x = np.nansum(full_v[:, k - w + 1:k + 1], axis=1)
            mu = lam[:, k - w + 1:k + 1].sum(axis=1)
            pv = _count_sf(x, mu, base.scale[w])
            pv = np.where((x >= j.need) & (x >= MIN_RATIO * mu), pv, 1.0)
            better = pv < pvals[:, col]
            pvals[:, col] = np.where(better, pv, pvals[:, col])
            totals[:, col] = np.where(better, x, totals[:, col])
            best_w[:, col] = np.where(better, w, best_w[:, col])
    return pvals, totals, best_w


def _count_message(j: _Judging, pval: float, w: int, mu: float, x: int) -> str:
    grain = j.p.grain
    return (f"{j.metric.label}: {x} in "
            f"{f'the last {w} {grain}s' if w > 1 else j.when()}, about {mu:.1f} "
            f"expected (chance {max(pval, 1e-9):.1g} if nothing had changed), on {x} records")


def _continuous_anomaly(j: _Judging, base: Baseline) -> None:
    """The mean of the last 1, 3 or 6 periods (the grain's windows) beyond the slot's usual by
    at least `sensitivity` robust scales of such means, in the worse direction (the tail split
    between the windows): one reading far out, or a few hours each a little out (a parking
    surge of +13 points where an hour varies by 4)."""
    p, M, policy, value = j.p, j.M, j.policy, j.value
    exp = base.expected[:, :M]
    windows = COUNT_WINDOWS[p.grain]
    # one period: the policy's sensitivity; the longer windows, a further look at the same
    # periods, share that tail between them (each at sf(sensitivity) / their number)
    z_long = stats.norm.isf(stats.norm.sf(policy.sensitivity) / max(len(windows) - 1, 1))
    z, best_w = _continuous_windows(j, base, {w: policy.sensitivity if w == 1 else z_long for w in windows})
    flags = np.where(j.judged & ~np.isnan(value), (z >= 1.0).astype(float), np.nan)
    for d in range(len(p.districts)):
        if np.isnan(flags[d, -1]):
            continue
        j.emit("anomaly", flags, d, severity="critical" if z[d, -1] >= 2 else policy.severity,
               message=partial(_continuous_message, j, base, exp, d, int(best_w[d, -1]) if flags[d, -1] == 1 else 1),
               expected=float(exp[d, -1]), lower=float(base.lower[d, M - 1]), upper=float(base.upper[d, M - 1]))


def _continuous_windows(j: _Judging, base: Baseline, z_at: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per district and judged period, over the windows ending there whose periods are all
    judged: the largest z of the window's mean residual (in the worse direction, in robust
    scales of the baseline's means over as many periods) as a share of that window's z_at
    (1 or more: anomalous), and that window's length."""
    p, M = j.p, j.M
    K = len(p.periods)
    judged_all = (p.n >= j.need) & ~np.isnan(p.value)
    resid = j.sign * (p.value - base.every)
    windows = COUNT_WINDOWS[p.grain]
    best = np.full((len(p.districts), M), -np.inf)
    best_w = np.ones((len(p.districts), M), dtype=int)
    for col in range(M):
        k = K - M + col
        for w in windows:
            if k - w + 1 < 0:
                continue
            cols = slice(k - w + 1, k + 1)
            ok = judged_all[:, cols].all(axis=1) & np.isfinite(base.every[:, cols]).all(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                zw = np.where(ok, resid[:, cols].mean(axis=1) / base.window_scale[w] / z_at[w], -np.inf)
            better = zw > best[:, col]
            best[:, col] = np.where(better, zw, best[:, col])
            best_w[:, col] = np.where(better, w, best_w[:, col])
    return best, best_w


def _continuous_message(j: _Judging, base: Baseline, exp: np.ndarray, d: int, w: int = 1) -> str:
    M = j.M
    if w > 1:
        mean = float(np.mean(j.p.value[d, -w:]))
        usual = float(np.mean(base.every[d, -w:]))
        return (f"{j.metric.label}: {j.fmt(mean)} on average over the last {w} {j.p.grain}s, usually "
                f"{j.fmt(usual)} (now {j.fmt(j.value[d, -1])}), on {int(j.p.n[d, -w:].sum())} records")
    return (f"{j.metric.label}: {j.fmt(j.value[d, -1])} in {j.when()}, usually "
            f"{j.fmt(exp[d, -1])} (band {j.fmt(base.lower[d, M - 1])}–"
            f"{j.fmt(base.upper[d, M - 1])}), on {int(j.n[d, -1])} records")


def _forecast(j: _Judging, base: Baseline) -> None:
    """Still within target, but the usual profile plus today's departure and its trend
    crosses the target within the horizon."""
    p, policy, periods = j.p, j.policy, j.periods
    exp = base.expected[:, :j.M]
    flags, when = _forecast_flags(j, base)
    target = j.metric.target
    for d in range(len(p.districts)):
        if np.isnan(flags[d, -1]):
            continue
        k = int(when[d, -1]) or 1
        at = (periods[-1] + STEP[p.grain] * (k + 1)).to_pydatetime()
        unit = {"hour": "h", "day": "days", "week": "weeks"}[p.grain]
        j.emit("forecast", flags, d, severity=policy.severity, message=partial(_forecast_message, j, exp, d, k, unit),
               expected=float(exp[d, -1]), target=target, forecast_at=at if flags[d, -1] == 1 else None)


def _forecast_flags(j: _Judging, base: Baseline) -> tuple[np.ndarray, np.ndarray]:
    """Per district and judged period: the flag (1 forecast to cross, 0 not, NaN not judged)
    and the step at which the forecast first crosses (0 for none)."""
    p, M, value, sign, judged = j.p, j.M, j.value, j.sign, j.judged
    H = j.policy.horizon
    exp = base.expected[:, :M]
    ahead = base.expected[:, M:M + H]
    resid = value - exp
    flags = np.full(value.shape, np.nan)
    when = np.zeros(value.shape, dtype=int)
    target = j.metric.target
    for col in range(M):
        r = resid[:, col]
        lo = max(0, col - 3)
        past = resid[:, lo:col + 1]
        slope = np.zeros(len(p.districts))
        if col - lo >= 2:
            xs = np.arange(col - lo + 1) - (col - lo) / 2
            slope = np.nansum(past * xs[None, :], axis=1) / np.sum(xs ** 2)
        slope = np.where(sign * slope > 0, slope, 0.0)
        # the usual profile of the H periods after period col
        prof = np.concatenate([exp[:, col + 1:], ahead], axis=1)[:, :H]
        steps = np.arange(1, prof.shape[1] + 1)
        sigma = base.scale[:, None] * np.sqrt(steps)[None, :]
        fc = prof + r[:, None] * DAMPING ** steps[None, :] + slope[:, None] * steps[None, :]
        # crosses even one sigma short of the forecast, where usual variation would not
        crosses = sign * (fc - sign * sigma - target) >= 0
        usual = sign * (prof + sign * 2 * sigma - target) >= 0
        hit = crosses & ~usual
        first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)
        inband = sign * (value[:, col] - target) < 0
        ok = judged[:, col] & ~np.isnan(value[:, col]) & inband & (sign * r >= FORECAST_DEPARTURE * base.scale)
        flags[:, col] = np.where(judged[:, col] & ~np.isnan(value[:, col]) & inband,
                                 np.where(ok & (first > 0), 1.0, 0.0), np.nan)
        when[:, col] = first
    return flags, when


def _forecast_message(j: _Judging, exp: np.ndarray, d: int, k: int, unit: str) -> str:
    return (f"{j.metric.label} at {j.fmt(j.metric.target)} in about {k} {unit} (now {j.fmt(j.value[d, -1])}, "
            f"usually {j.fmt(exp[d, -1])} at this time), on {int(j.n[d, -1])} records")


def _no_data(j: _Judging) -> None:
    """A district that usually reports is silent while the source delivers elsewhere (the city
    is judged even when nothing arrives)."""
    p, M, policy, periods, metric = j.p, j.M, j.policy, j.periods, j.metric
    usual = p.present[:, :-M].mean(axis=1) >= 0.5 if p.present.shape[1] > M else np.zeros(len(p.districts), bool)
    alive = p.source_alive[-M:]
    for d in range(len(p.districts)):
        if not usual[d]:
            continue
        is_city = p.districts[d] == "city"
        missing = ~p.present[d, -M:]
        flag = np.where(alive | is_city, missing.astype(float), np.nan)[None, :]
        if np.isnan(flag[0, -1]):
            continue
        gap = int(_tail(flag)[0][0])
        msg = (f"{metric.label}: no records for {gap} {p.grain}s (since {_when(periods[-gap], p.grain)}) while "
               "other districts keep reporting" if gap else f"{metric.label}: records arriving again")
        status = _status(gap, int(_tail(flag)[1][0]), policy.no_data, policy.hysteresis)
        if status is None:
            continue
        j.out.append({**j.common, "district_id": p.districts[d], "rule": "no_data", "status": status,
                      "severity": policy.severity, "value": None, "n": 0, "expected": None, "lower": None,
                      "upper": None, "target": None, "message": msg, "forecast_at": None,
                      "first_period": periods[-gap].to_pydatetime() if gap else None})


# ------------------------------------------------------------------------------ the writer's step
def run(con, now: datetime, *, version: str | None = None, record: bool = True) -> dict:
    """Evaluate every metric with an alert policy on the warehouse rollups (metric_values) as of
    the data time `now`, and record the episodes. Returns counts per status."""
    from data import episodes

    detections: list[dict] = []
    for metric in registry.metrics().values():
        policy = metric.alert
        if policy is None or policy.grain not in STEP:
            continue
        newest = last_complete(now, policy.grain)
        start = newest - timedelta(days=policy.baseline_days + 1)
        frame = con.execute(
            "SELECT district_id, period, value, n, denominator FROM metric_values WHERE metric_id = $m AND grain = $g "
            "AND period >= $s AND period <= $e", {"m": metric.id, "g": policy.grain, "s": start, "e": newest}).df()
        if frame.empty:
            continue
        p = panel(frame, policy.grain, start, newest + STEP[policy.grain], count=is_count(metric))
        detections.extend(evaluate(metric, p, now))
    changes = episodes.record(detections, now=now, version=version) if record else []
    summary: dict = {}
    for d in detections:
        summary[d["status"]] = summary.get(d["status"], 0) + 1
    summary["changes"] = len(changes)
    return summary
