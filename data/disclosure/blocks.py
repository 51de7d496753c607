"""The blocks of a release: the counted quantities of the metric cells (``quantity_cells``),
the families of linked quantities, one block's equations, and one block's protection
(``_protect_block``, solved by ``data.disclosure.feasible``); with the answers kept per block
between publishes (``_BLOCKS`` in memory, ``data.audit_cache`` on disk). ``data.privacy``
walks the blocks of a release (``audit_release``)."""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import pandas as pd

from data.disclosure.checks import TOTAL_ID
from data.disclosure.feasible import audit_block


def block_month(period: pd.Series, grain: pd.Series) -> pd.Series:
    """The month a cell's block belongs to: a month's own; a week's is the month of its Sunday."""
    period = pd.to_datetime(period)
    sunday = period + pd.Timedelta(days=6)
    return pd.Series(np.where(grain == "week", sunday.dt.to_period("M").dt.to_timestamp(),
                              period.dt.to_period("M").dt.to_timestamp()), index=period.index)


def quantity_cells(cells: pd.DataFrame, metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per counted figure (quantity, grain, period, district) with its true value, and
    the link table (metric cell row -> quantity row). `metrics`: id -> registry.Metric."""
    parts = []
    for metric_id, frame in cells.groupby("metric_id", sort=False):
        m = metrics[metric_id]
        counted = m.counted()
        for column, quantity in counted.items():
            if column == "complement":
                value = pd.to_numeric(frame["denominator"], errors="coerce") - pd.to_numeric(frame["numerator"], errors="coerce")
            else:
                value = pd.to_numeric(frame[column], errors="coerce")
            # the straddling week's days in the month of its Monday (see ``week_floors``)
            if column == "complement" and {"head_denominator", "head_numerator"} <= set(frame.columns):
                head = pd.to_numeric(frame["head_denominator"], errors="coerce") - pd.to_numeric(frame["head_numerator"], errors="coerce")
            elif f"head_{column}" in frame.columns:
                head = pd.to_numeric(frame[f"head_{column}"], errors="coerce")
            else:
                head = pd.Series(np.nan, index=frame.index)
            parts.append(pd.DataFrame({
                "row": frame.index, "q": quantity, "grain": frame["grain"], "period": frame["period"],
                "district_id": frame["district_id"], "truth": value.to_numpy(float), "head": head.to_numpy(float),
                "part": column in ("numerator", "complement") and "complement" in counted,
                "level": m.aggregate == "level", "metric_id": metric_id, "column": column,
            }))
    links = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["row", "q", "grain", "period", "district_id", "truth", "head", "part", "level", "metric_id", "column"])
    links = links[links["truth"].notna()]
    qcells = links.drop_duplicates(["q", "grain", "period", "district_id"]).reset_index(drop=True)
    qcells = qcells.drop(columns=["row", "metric_id", "column"])
    qcells["qid"] = np.arange(len(qcells))
    links = links.merge(qcells[["q", "grain", "period", "district_id", "qid"]], on=["q", "grain", "period", "district_id"])
    return qcells, links[["row", "qid"]]


def families(metrics: dict) -> dict[str, int]:
    """Quantity -> family number: quantities linked by an identity (parts of a whole, a stock)
    are audited together."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for m in metrics.values():
        counted = m.counted()
        names = list(counted.values()) + [q for _, q in m.stock]
        for q in names:
            find(q)
        for q in names[1:]:
            parent[find(q)] = find(names[0])
    roots = sorted({find(q) for q in parent})
    return {q: roots.index(find(q)) for q in parent}


def block_equations(block: pd.DataFrame, metrics: dict) -> list[dict[int, float]]:
    """Coefficient rows (over positions in `block`) an outsider can write down, plus the ones
    that reach outside the block (kept with their exact constants; see the section comment)."""
    pos = {key: i for i, key in enumerate(zip(block["q"], block["grain"], block["period"], block["district_id"], strict=False))}
    rows: list = [*_city_rows(block, pos), *_month_week_rows(block, pos)]  # a dict (equality) or (dict, "eq" | "ge")
    for m in metrics.values():
        counted = m.counted()
        if "complement" in counted:
            rows.extend(_complement_rows(block, pos, counted))
        if m.stock:
            rows.extend(_stock_rows(block, pos, dict(m.stock), counted["n"]))
            rows.extend(_stock_month_end_rows(block, pos, counted["n"]))
    return rows


def _city_rows(block: pd.DataFrame, pos: dict) -> list[dict[int, float]]:
    """city = sum of the districts, per quantity, grain and period."""
    rows = []
    for (q, grain, period), group in block.groupby(["q", "grain", "period"], sort=False):
        ids = list(group["district_id"])
        if TOTAL_ID in ids and len(ids) > 1:
            rows.append({pos[(q, grain, period, d)]: (-1.0 if d == TOTAL_ID else 1.0) for d in ids})
    return rows


def _month_week_rows(block: pd.DataFrame, pos: dict) -> list[tuple[dict[int, float], str]]:
    """The month = its weeks, give or take the straddling days, per additive quantity and
    district (and block month)."""
    rows = []
    additive = block[~block["level"].to_numpy(bool)]
    by = ["q", "district_id"] + (["_bm"] if "_bm" in block else [])
    # a cell's key is unique in a block (``quantity_cells``), so its position is pos[its key]
    position = np.array([pos[key] for key in zip(additive["q"], additive["grain"], additive["period"],
                                                  additive["district_id"], strict=False)], dtype=np.int64)
    group_of = additive.groupby(by, sort=False).ngroup().to_numpy()
    grain = additive["grain"].to_numpy()
    order = np.argsort(group_of, kind="stable")
    order = order[group_of[order] >= 0]
    starts = np.flatnonzero(np.r_[True, np.diff(group_of[order]) != 0])
    for members in np.split(order, starts[1:]) if len(order) else []:
        is_month = grain[members] == "month"
        is_week = grain[members] == "week"
        if is_month.any() and is_week.any():
            row = dict.fromkeys(position[members[is_month]].tolist(), 1.0)
            row.update(dict.fromkeys(position[members[is_week]].tolist(), -1.0))
            # exact, with the true constant: month - its weeks = (the days of the next block's
            # straddling week that fall in this month) - (the days of this block's first week
            # that fall in the month before). The attacker is assumed to know how every
            # straddling week splits between its two months (stricter than the truth: the split
            # is published nowhere), so a block protected under it stays protected whatever a
            # later release publishes of the next month; the first week's own floor (it holds at
            # least its days of the month before) is a bound (``week_floors``).
            rows.append((row, "eq"))
    return rows


def _complement_rows(block: pd.DataFrame, pos: dict, counted: dict) -> list[dict[int, float]]:
    """whole = part + other part, wherever the block holds all three."""
    rows = []
    whole, a, b = counted["denominator"], counted["numerator"], counted["complement"]
    sub = block[block["q"] == whole]
    for grain, period, d in zip(sub["grain"], sub["period"], sub["district_id"], strict=False):
        ka, kb = (a, grain, period, d), (b, grain, period, d)
        if ka in pos and kb in pos:
            rows.append({pos[(whole, grain, period, d)]: 1.0, pos[ka]: -1.0, pos[kb]: -1.0})
    return rows


def _stock_rows(block: pd.DataFrame, pos: dict, flow: dict, level: str) -> list[dict[int, float]]:
    """level(end) = level(start) + in - out, per grain and district, over every period of the
    block in calendar order (a level with no row is 0, known)."""
    rows = []
    sub = block[block["q"] == level]
    if "_context" in block:
        ctx = block[block["_context"].eq(True)]
        context = set(zip(ctx["q"], ctx["grain"], ctx["period"], strict=False))
    else:
        context = set()
    grains_periods = {g: sorted(set(block.loc[block["grain"] == g, "period"])) for g in set(block["grain"])}
    for (grain, d), _group in sub.groupby(["grain", "district_id"], sort=False):
        previous = None
        for p in grains_periods[grain]:
            if (level, grain, p) in context:  # the last level of the block before: a start only
                previous = p
                continue
            if previous is None:  # nothing known before the first period: no equation
                previous = p
                continue
            row = {}
            if (level, grain, p, d) in pos:
                row[pos[(level, grain, p, d)]] = 1.0
            if (level, grain, previous, d) in pos:
                row[pos[(level, grain, previous, d)]] = -1.0
            for role, sign in (("in", -1.0), ("out", 1.0)):
                key = (flow[role], grain, p, d)
                if key in pos:
                    row[pos[key]] = row.get(pos[key], 0.0) + sign
            if row:
                rows.append(row)
            previous = p
    return rows


def _stock_month_end_rows(block: pd.DataFrame, pos: dict, level: str) -> list[dict[int, float]]:
    """A month's end level = its last week's, per district (and block month), context left out."""
    rows = []
    sub = block[block["q"] == level]
    live = sub[~sub["_context"].astype(bool)] if "_context" in sub else sub
    for _key, group in live.groupby(["district_id"] + (["_bm"] if "_bm" in live else []), sort=False):
        d = _key[0] if isinstance(_key, tuple) else _key
        months = group[group["grain"] == "month"]["period"]
        weeks = sorted(group[group["grain"] == "week"]["period"])
        if len(months) and weeks:
            rows.append({pos[(level, "month", months.iloc[0], d)]: 1.0, pos[(level, "week", weeks[-1], d)]: -1.0})
    return rows


_BLOCKS: "OrderedDict[str, np.ndarray]" = OrderedDict()
_FAILED: dict[str, list] = {}


def _audit_salt(metrics: dict, k: int, width: float) -> bytes:
    """What writes a block's equations and checks besides its cells: the metric definitions
    (what each counts, its stock identity, level or not), k, the width and the auditor version."""
    from data.audit_cache import AUDIT_VERSION

    spec = sorted((mid, sorted(m.counted().items()), sorted(m.stock), m.aggregate) for mid, m in metrics.items())
    return repr((AUDIT_VERSION, k, float(width), spec)).encode()


def _known(key: str, store, size: int) -> tuple[np.ndarray, list[dict]] | None:
    """A kept answer for `key` (memory first, then `store`), if its mask fits the block."""
    if key in _BLOCKS:
        return _BLOCKS[key], list(_FAILED.get(key, []))
    kept = store.get(key) if store is not None else None
    if kept is None or kept[0].shape != (size,):
        return None
    _remember_block(key, *kept)
    return kept[0], list(kept[1])


def _keep(key: str, store, mask: np.ndarray, failures: list[dict]) -> None:
    _remember_block(key, mask, failures)
    if store is not None:
        store.put(key, mask, failures)


def _remember_block(key: str, mask: np.ndarray, failures: list[dict]) -> None:
    _BLOCKS[key] = mask
    if failures:
        _FAILED[key] = failures
    while len(_BLOCKS) > 20_000:
        old, _ = _BLOCKS.popitem(last=False)
        _FAILED.pop(old, None)


def _with_block_before(block: pd.DataFrame, qcells: pd.DataFrame, family: int, month, levels: np.ndarray) -> pd.DataFrame:
    """A stock's block with the block before it. A stock chains the months: the level at the
    end of the month before is the start of this one, so this block's figures narrow the
    withheld cells of the block before. That block takes part whole, as released (frozen; its
    withheld cells must stay protected, primary ones by the width), and the chain starts at the
    last level of the block before it, taken as known (its true figure: stricter than the truth)."""
    previous = month - pd.offsets.MonthBegin(1)
    prev = qcells[(qcells["_family"] == family) & (qcells["_block"] == previous)]
    before = qcells[levels & (qcells["_family"] == family) & (qcells["_block"] < previous)]
    parts = [block, prev.assign(_context=False, _prev=True, _bm=previous)]
    if len(before):
        last = before.groupby(["q", "grain"])["period"].transform("max") == before["period"]
        parts.append(before[last.to_numpy()].assign(_context=True, _prev=False, _bm=previous))
    return pd.concat(parts)


def _protect_block(block: pd.DataFrame, label: str, metrics: dict, withheld: np.ndarray, cells: dict, *,
                   k: int, width: float) -> list[dict]:
    """Audit one block (updating `withheld` in place for its own cells). A metric whose cells
    cannot be protected is held (all its cells withheld) and the rest audited again, up to four
    times. Returns a report per held group of metrics."""
    truth = cells["truth"]
    failures = []
    members = dict(metrics)
    original = withheld.copy()
    for _attempt in range(4):
        part_block = block[block["q"].isin({q for m in members.values() for q in m.counted().values()})]
        if part_block.empty:
            break
        pidx = part_block.index.to_numpy()
        saved = original[pidx].copy()
        equations = block_equations(part_block.reset_index(drop=True), members)
        context = part_block["_context"].to_numpy(bool)
        prev = part_block["_prev"].to_numpy(bool)
        # the block before: its withheld small counts keep their protection width
        small = (truth[pidx] >= 1) & (truth[pidx] <= k - 1) & saved
        result = audit_block(truth[pidx], equations, saved & ~context,
                             primary=(cells["primary"][pidx] & ~context) | (prev & small),
                             count=cells["count"][pidx], frozen=cells["frozen"][pidx] | context | prev, k=k, width=width,
                             floor=cells["floor"][pidx], groups=part_block["district_id"].to_numpy())
        own = ~context & ~prev
        withheld[pidx[own]] = result.withheld[own]
        if result.ok:
            break
        bad = part_block.iloc[list(result.failing)]
        first = bad.iloc[:3]
        examples = ", ".join(f"{q} {g} {p:%Y-%m-%d} {d}" for q, g, p, d in
                             zip(first["q"], first["grain"], first["period"], first["district_id"], strict=False))
        failing_q = set(bad["q"])
        held = {mid for mid, m in members.items() if set(m.counted().values()) & failing_q}
        failures.append({"block": label, "quantities": sorted(failing_q), "metrics": sorted(held),
                         "reason": result.reason + (f" (e.g. {examples})" if examples else "")})
        withheld[pidx[own]] = True
        for mid in held:
            members.pop(mid, None)
        if not held:
            break
    return failures


def week_floors(qcells: pd.DataFrame) -> np.ndarray:
    """A lower bound per quantity cell (NaN: none): a week that straddles two months holds at
    least its days of the month of its Monday (``head``, from the day figures). Where that split
    is not known the week's own figure is the bound (stricter: it can then only be larger)."""
    period = pd.to_datetime(qcells["period"])
    straddles = ((qcells["grain"] == "week") & ~qcells["level"].astype(bool)
                 & (period.dt.month != (period + pd.Timedelta(days=6)).dt.month)).to_numpy(bool)
    truth = qcells["truth"].to_numpy(float)
    head = qcells["head"].to_numpy(float) if "head" in qcells else np.full(len(qcells), np.nan)
    # late data can make today's head larger than the week as released: the smaller of the two
    # is still at least the head as it was then
    bound = np.where(np.isfinite(head), np.fmin(head, truth), truth)
    return np.where(straddles, bound, np.nan)


def _block_key(block: pd.DataFrame, withheld, primary, frozen, salt: bytes = b"") -> str:
    columns = ["q", "grain", "period", "district_id", "truth"] + [c for c in ("head", "_context", "_prev") if c in block]
    cells = pd.util.hash_pandas_object(block[columns], index=False).to_numpy()
    digest = hashlib.blake2b(cells.tobytes(), digest_size=16)
    digest.update(salt)
    for flags_ in (withheld, primary, frozen):
        digest.update(np.asarray(flags_, bool).tobytes())
    return digest.hexdigest()


def primary_quantities(qcells: pd.DataFrame, k: int) -> np.ndarray:
    """Counts in [1, k-1], parts of a whole (on time / late) included."""
    truth = qcells["truth"].to_numpy(float)
    return (truth >= 1) & (truth <= k - 1)
