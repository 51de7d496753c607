"""The suppression engine (data.privacy): properties over random count tables, proved with
numpy linear algebra, and the same checks on the published fixture snapshot."""
from datetime import datetime

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from data import privacy, snapshot

SMALL_OR_LARGE = st.one_of(st.integers(0, 12), st.integers(0, 400))


@st.composite
def count_tables(draw):
    """Random groups (metric × grain × period) of district counts with the city total."""
    rows = []
    for g in range(draw(st.integers(1, 4))):
        counts = draw(st.lists(SMALL_OR_LARGE, min_size=1, max_size=9))
        metric = draw(st.sampled_from(["trips", "rate", "score"]))
        period = datetime(2026, 1 + g, 1)
        for i, n in enumerate(counts):
            rows.append({"metric_id": metric, "grain": "month", "period": period, "district_id": f"d{i}",
                         "n": n, "numerator": n * 0.5, "denominator": float(n), "value": float(n)})
        if draw(st.booleans()) or len(counts) > 1:  # sometimes a group without a total
            total = sum(counts)
            rows.append({"metric_id": metric, "grain": "month", "period": period, "district_id": "city",
                         "n": total, "numerator": total * 0.5, "denominator": float(total),
                         "value": float(total)})
    frame = pd.DataFrame(rows).drop_duplicates(["metric_id", "grain", "period", "district_id"])
    return frame.sample(frac=1, random_state=draw(st.integers(0, 2**16))).reset_index(drop=True)


def _system(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """City = sum of districts as a constraint matrix, built here independently of privacy."""
    ids = list(group["district_id"])
    if "city" not in ids:
        return np.zeros((0, len(ids))), group["suppressed"].to_numpy(bool)
    return np.array([[-1.0 if d == "city" else 1.0 for d in ids]]), group["suppressed"].to_numpy(bool)


def _uniquely_solvable(a: np.ndarray, suppressed: np.ndarray) -> list[int]:
    """Indices of suppressed cells whose unit vector is in the row space of A restricted to
    the suppressed unknowns (so the published cells and totals pin them down)."""
    cols = np.flatnonzero(suppressed)
    if cols.size == 0 or a.shape[0] == 0:
        return []
    sub = a[:, cols]
    rank = np.linalg.matrix_rank(sub)
    out = []
    for j, cell in enumerate(cols):
        e = np.zeros((1, cols.size))
        e[0, j] = 1
        if np.linalg.matrix_rank(np.vstack([sub, e])) == rank:
            out.append(int(cell))
    return out


@hsettings(max_examples=300, deadline=None)
@given(count_tables(), st.integers(2, 15))
def test_no_published_count_is_small(cells, k):
    out = privacy.suppress(cells, k)
    published = out[~out["suppressed"]]
    n = published["n"].astype(float)
    assert not ((n >= 1) & (n <= k - 1)).any()
    withheld = out[out["suppressed"]]
    assert withheld[["value", "numerator", "denominator", "n"]].isna().all().all()


@hsettings(max_examples=300, deadline=None)
@given(count_tables(), st.integers(2, 15))
def test_no_suppressed_cell_is_determined_by_published_cells_and_totals(cells, k):
    out = privacy.suppress(cells, k)
    for _, group in out.groupby(["metric_id", "grain", "period"]):
        a, suppressed = _system(group)
        assert _uniquely_solvable(a, suppressed) == [], group.to_string()


@hsettings(max_examples=200, deadline=None)
@given(count_tables(), st.integers(2, 15))
def test_published_cells_are_unchanged_and_rows_kept(cells, k):
    out = privacy.suppress(cells, k)
    assert len(out) == len(cells) and list(out["district_id"]) == list(cells["district_id"])
    keep = ~out["suppressed"]
    assert (out.loc[keep, "value"] == cells.loc[keep, "value"]).all()
    small = (cells["n"] >= 1) & (cells["n"] <= k - 1)
    assert out.loc[small, "suppressed"].all()


def test_a_lone_small_district_takes_the_next_smallest_with_records_along():
    cells = pd.DataFrame({
        "metric_id": "m", "grain": "week", "period": datetime(2026, 1, 5),
        "district_id": ["a", "b", "c", "d", "city"], "n": [3, 0, 40, 25, 68],
    }).assign(value=lambda f: f["n"].astype(float), numerator=None, denominator=None)
    out = privacy.suppress(cells, 10).set_index("district_id")
    assert out["suppressed"].to_dict() == {"a": True, "b": False, "c": False, "d": True, "city": False}


def test_a_lone_district_with_nobody_to_hide_behind_withholds_the_total():
    cells = pd.DataFrame({"metric_id": "m", "grain": "week", "period": datetime(2026, 1, 5),
                          "district_id": ["a", "b", "city"], "n": [4, 0, 4], "value": [4.0, 0.0, 4.0],
                          "numerator": None, "denominator": None})
    out = privacy.suppress(cells, 10).set_index("district_id")
    assert out.loc["a", "suppressed"] and out.loc["city", "suppressed"]


def test_the_checker_finds_a_recoverable_cell():
    # city published, one district withheld: the checker must say it is determined
    a = np.array([[-1.0, 1.0, 1.0, 1.0]])
    assert privacy.determined(a, np.array([False, True, False, False])).tolist() == [False, True, False, False]
    assert not privacy.determined(a, np.array([False, True, True, False])).any()


def test_mean_ci_is_a_95_percent_t_interval():
    low, high = privacy.mean_ci([3.0], [1.0], [10], 1, 5)
    assert abs((high[0] - 3.0) - 2.2622 / np.sqrt(10)) < 0.002  # t(0.975, 9) = 2.2622
    assert privacy.t_quantile_975(np.array([1e9]))[0] - 1.95996 < 1e-4


def test_published_snapshot_is_protected(published):
    # through the process's own read-only connection (a second one with another config is refused)
    with snapshot.cursor("public") as (cur, _version):
        frame = cur.execute("SELECT * FROM metric_values").df()
        k = cur.execute("SELECT suppression_k FROM meta").fetchall()[0][0]
    assert frame["suppressed"].any() and (~frame["suppressed"]).any()
    assert privacy.undetermined_violations(frame) == []
    n = frame["n"].astype(float)
    assert not ((n >= 1) & (n <= k - 1)).any()
    score = frame[(frame["metric_id"] == "satisfaction_score") & frame["value"].notna()]
    assert not score.empty and (score["n"] >= k).all()
    assert (score["ci_low"] <= score["value"]).all() and (score["value"] <= score["ci_high"]).all()
    others = frame[frame["metric_id"] != "satisfaction_score"]
    assert others["ci_low"].isna().all()


# --------------------------------------------------------------------------- across grains
# February 2027 starts on Monday 1 Feb and March on Monday 1 Mar: the month is exactly four
# weeks, so its cells are sums of weekly cells and the two grains must be protected together.
FEB_WEEKS = [datetime(2027, 2, 1), datetime(2027, 2, 8), datetime(2027, 2, 15), datetime(2027, 2, 22)]
FEB = datetime(2027, 2, 1)


def _two_grains(weekly: dict[str, list[int]]) -> pd.DataFrame:
    rows = []
    for w, period in enumerate(FEB_WEEKS):
        for d, counts in weekly.items():
            rows.append({"grain": "week", "period": period, "district_id": d, "n": counts[w]})
        rows.append({"grain": "week", "period": period, "district_id": "city", "n": sum(c[w] for c in weekly.values())})
    for d, counts in weekly.items():
        rows.append({"grain": "month", "period": FEB, "district_id": d, "n": sum(counts)})
    rows.append({"grain": "month", "period": FEB, "district_id": "city", "n": sum(map(sum, weekly.values()))})
    frame = pd.DataFrame(rows).assign(metric_id="m")
    return frame.assign(value=frame["n"].astype(float), numerator=np.nan, denominator=np.nan)


def _full_system(frame: pd.DataFrame) -> np.ndarray:
    """City = sum of districts per (grain, period), and per district: four weeks = the month."""
    idx = {key: i for i, key in enumerate(zip(frame["grain"], frame["period"], frame["district_id"], strict=False))}
    rows = []
    for (grain, period), group in frame.groupby(["grain", "period"]):
        row = np.zeros(len(frame))
        for d in group["district_id"]:
            row[idx[(grain, period, d)]] = -1.0 if d == "city" else 1.0
        rows.append(row)
    for d in frame["district_id"].unique():
        row = np.zeros(len(frame))
        for period in FEB_WEEKS:
            row[idx[("week", period, d)]] = 1.0
        row[idx[("month", FEB, d)]] = -1.0
        rows.append(row)
    return np.array(rows)


def test_a_month_made_of_published_weeks_is_protected_too():
    # Week 3: b is small, so the smallest other district (c, 10) is withheld with it. Month: b is
    # small, so a (41 < 70) is withheld. Within each group that is safe, but a's four weeks are
    # published, so a's month = their sum, and then b's month = city - a - c.
    cells = _two_grains({"a": [10, 10, 11, 10], "b": [0, 0, 3, 0], "c": [20, 20, 10, 20]})
    within = privacy.suppress(cells, 10)
    assert _uniquely_solvable(_full_system(within), within["suppressed"].to_numpy()) != []
    out = privacy.suppress(cells, 10, time_additive={"m"})
    assert _uniquely_solvable(_full_system(out), out["suppressed"].to_numpy()) == []


@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=4, max_size=4),
                min_size=1, max_size=6), st.integers(2, 12))
def test_no_suppressed_cell_is_determined_across_weeks_and_months(weekly, k):
    cells = _two_grains({f"d{i}": counts for i, counts in enumerate(weekly)})
    out = privacy.suppress(cells, k, time_additive={"m"})
    n = out.loc[~out["suppressed"], "n"].astype(float)
    assert not ((n >= 1) & (n <= k - 1)).any()
    assert _uniquely_solvable(_full_system(out), out["suppressed"].to_numpy()) == [], out.to_string()


def test_cross_grain_answers_are_reused_only_for_identical_spans(monkeypatch):
    """The live feed republishes every few seconds: a closed week/month span with the same
    cells reuses its answer (no SVD at all); any change in a cell is computed afresh."""
    cells = _two_grains({"a": [10, 10, 11, 10], "b": [0, 0, 3, 0], "c": [20, 20, 10, 20]})
    privacy._SPANS.clear()
    first = privacy.suppress(cells, 10, time_additive={"m"})
    assert len(privacy._SPANS) == 1

    def no_svd(*_a, **_k):
        raise AssertionError("recomputed a span that was already answered")

    with monkeypatch.context() as m:
        m.setattr(np.linalg, "svd", no_svd)
        again = privacy.suppress(cells, 10, time_additive={"m"})
    assert (again["suppressed"] == first["suppressed"]).all()
    changed = _two_grains({"a": [10, 10, 11, 10], "b": [0, 0, 3, 0], "c": [20, 20, 12, 20]})
    cached = privacy.suppress(changed, 10, time_additive={"m"})
    assert len(privacy._SPANS) == 2
    privacy._SPANS.clear()
    fresh = privacy.suppress(changed, 10, time_additive={"m"})
    assert (cached["suppressed"] == fresh["suppressed"]).all()
    assert _uniquely_solvable(_full_system(cached), cached["suppressed"].to_numpy()) == []
