"""The release auditor's solver side: each withheld count's feasible interval under a block's
equations (linear and integer programs through HiGHS), and ``audit_block``, which adds
complementary suppression until every interval is wide enough. The blocks themselves (which
cells, which equations) are built in ``data.disclosure.blocks``."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data.disclosure.checks import TOTAL_ID

# =========================================================================== release auditor
# The suppression above protects one group's equation at a time. An outsider uses all of them
# at once: city = sum of districts, weeks and months through their day-level overlaps, the
# identities between metrics (one count published by two metrics, backlog(end) =
# backlog(start) + opened - closed), "a withheld row is at least 1", and every release still
# online. The auditor below builds that joint system per *block* and computes each withheld
# count's feasible interval with a linear-programming solver (HiGHS, through highspy); it adds
# complementary suppression until every withheld count's interval is at least `width` wide
# (primary cells) and no withheld count is pinned to one value (every cell).
#
# Blocks. A block is one calendar month of one *family* of linked quantities: the month's cells
# and the cells of every week that ends (its Sunday) in that month, all districts and the city.
# Cells outside the block are treated as known to the attacker at their true values (stricter
# than the truth: an outsider knows only what is published), so each equation that reaches
# outside the block keeps its exact constant, e.g. month = weeks of the block - the days of the
# first week before the 1st + the days after the last Sunday. A block protected under that
# assumption stays protected whatever is published in other blocks, which is what lets blocks be
# solved one at a time, in parallel with nothing, and kept between publishes (releases are final):
# in memory, and in the var dir (``data.audit_cache``) so that a new publish process answers an
# unchanged block (a closed month, a held-back one) without solving it again.
#
# Cost. Within a block, city = sum of districts links every withheld cell into a few components
# whose size grows with the number of districts, and so would each program solved on them; the
# cells are therefore decided on small sub-systems first (``LOCAL_PARTNERS``), and only the
# undecided ones on their whole component. The decisions, hence the withheld cells, are the same.
AUDIT_EPS = 1e-6
BIG = 1e9


@dataclass
class BlockResult:
    withheld: np.ndarray
    ok: bool
    reason: str = ""
    lps: int = 0
    failing: tuple = ()


def _highs():
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h, highspy


def _highs_model(equations: list[tuple], lower: np.ndarray, upper: np.ndarray):
    """A HiGHS instance holding the equations and bounds of ``feasible_intervals`` (no costs)."""
    h, highspy = _highs()
    h.setOptionValue("presolve", "off")
    nvar = len(lower)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = nvar
    lp.num_row_ = len(equations)
    lp.col_cost_ = np.zeros(nvar)
    lp.col_lower_ = np.asarray(lower, float)
    # a finite cap instead of infinity: no program is unbounded (simplex statuses after an
    # unbounded solve proved unreliable), and a cap far above any count changes no check
    lp.col_upper_ = np.where(np.isfinite(upper), upper, BIG)
    starts, index, value = [0], [], []
    rhs = np.array([e[1] for e in equations], float)
    ge = np.array([len(e) > 2 and e[2] == "ge" for e in equations], bool)
    by_col: list[list[tuple[int, float]]] = [[] for _ in range(nvar)]
    for r, eq in enumerate(equations):
        for c, a in eq[0].items():
            by_col[c].append((r, a))
    for col in by_col:
        for r, a in col:
            index.append(r)
            value.append(a)
        starts.append(len(index))
    lp.row_lower_ = rhs
    lp.row_upper_ = np.where(ge, inf, rhs)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, np.int32)
    lp.a_matrix_.index_ = np.array(index, np.int32)
    lp.a_matrix_.value_ = np.array(value, float)
    h.passModel(lp)
    return h, highspy


def feasible_intervals(equations: list[tuple], lower: np.ndarray, upper: np.ndarray,
                       targets: list[int], needed: np.ndarray | None = None,
                       record=None, spread: bool = True) -> dict[int, tuple[float, float]]:
    """Min and max of each target variable subject to ``sum coef * x = rhs`` for every equation
    ``(coefs, rhs)`` (``sum coef * x >= rhs`` for ``(coefs, rhs, "ge")``) and ``lower <= x <= upper`` (HiGHS dual simplex: one model, re-solved with changed costs
    from the last basis).

    With `needed` (a width per variable), a variable is certified as soon as two feasible points
    found on the way (every solve's optimum is one) differ in it by that much; its own two
    programs are then skipped and its interval is reported as those points' span (a lower bound
    of the true width, which is all the check needs; `spread`: look for such points first, see
    ``_spread_points``). `record`, if given, is called with every optimum found (a feasible
    point of the system)."""
    h, highspy = _highs_model(equations, lower, upper)
    nvar = len(lower)
    seen_lo = np.full(nvar, np.inf)
    seen_hi = np.full(nvar, -np.inf)
    optimal = highspy.HighsModelStatus.kOptimal

    def solve(cost: np.ndarray):
        h.changeColsCost(nvar, np.arange(nvar, dtype=np.int32), cost)
        h.run()
        status = h.getModelStatus()
        if status == optimal:
            x = np.asarray(h.getSolution().col_value)
            np.minimum(seen_lo, x, out=seen_lo)
            np.maximum(seen_hi, x, out=seen_hi)
            if record is not None:
                record(x)
            return status, float(cost @ x)
        return status, None

    if needed is not None and spread:  # spread-out points first: most variables move between them
        _spread_points(solve, nvar, lambda: int((seen_hi - seen_lo >= needed - AUDIT_EPS).sum()), len(targets))
    out = {}
    for j in targets:
        if needed is not None and seen_hi[j] - seen_lo[j] >= needed[j] - AUDIT_EPS:
            out[j] = (seen_lo[j], seen_hi[j])
            continue
        bounds = []
        for sign in (1.0, -1.0):
            cost = np.zeros(nvar)
            cost[j] = sign
            status, value_ = solve(cost)
            if status == optimal:
                bounds.append(sign * value_)
            elif status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
                bounds.append(-sign * math.inf)  # the truth is feasible, so "or infeasible" is unbounded
            else:  # cannot happen with true constants; count the cell as pinned (fail safe)
                bounds.append(float(lower[j]))
            if needed is not None and seen_hi[j] - seen_lo[j] >= needed[j] - AUDIT_EPS:
                break
        if len(bounds) == 1:
            out[j] = (seen_lo[j], seen_hi[j])
        else:
            out[j] = (bounds[0], bounds[1])
    return out


def _spread_points(solve, nvar: int, certified, targets: int, extra: int = 16) -> None:
    """Solve with all-ones costs both ways, then with a few random-sign costs (fixed seed: the
    same block gives the same answer) while each still certifies enough variables. Every optimum
    is an ordinary feasible point, so this only skips programs whose answer is known to pass."""
    solve(np.ones(nvar))
    solve(-np.ones(nvar))
    rng = np.random.default_rng(0)
    for _ in range(extra):
        before = certified()
        solve(rng.choice([-1.0, 1.0], nvar))
        if certified() - before < max(2, targets // 50):
            break


def audit_block(truth: np.ndarray, equations: list[dict[int, float]], start: np.ndarray, *,
                primary: np.ndarray, count: np.ndarray, frozen: np.ndarray, k: int, width: float,
                max_rounds: int = 60, floor: np.ndarray | None = None, groups: np.ndarray | None = None) -> BlockResult:
    """Withhold more cells of one block until it is protected.

    `truth`: the true value of every cell (quantity) in the block; `equations`: coefficient rows
    that hold for the truth (their constants are recomputed from it); `start`: cells withheld
    already (primary, and those withheld by earlier releases); `primary`: cells that must be
    protected by `width`; `count`: cells that count records (a withheld one is at least 1, so
    only cells with records are chosen as complements); `frozen`: cells released before, whose
    status must not change. `floor`: a known lower bound per cell (NaN: none), e.g. a straddling
    week holds at least its days of the month before. `groups`: the district of every cell, if
    known (only to choose the small sub-systems tried first, see ``LOCAL_PARTNERS``). Returns
    the withheld mask, whether every check passed, and why not.
    """
    n = len(truth)
    floor = np.full(n, np.nan) if floor is None else np.asarray(floor, float)
    withheld = np.asarray(start, bool).copy()
    eqs, member = _with_constants(truth, equations)
    audit = _BlockAudit(truth, eqs, member, primary, count, floor, width, groups)
    failing: list[int] = []
    for _round in range(max_rounds):
        root_of, comps = _components(n, eqs, withheld)
        failing = [c for cells in comps.values() for c in audit.failing(cells)]
        if not failing:
            return BlockResult(withheld, True, lps=audit.lps)
        if not _add_complements(failing, root_of, comps, withheld, audit, frozen):
            break
    # fall back: every cell that may still change
    fallback = withheld | (~frozen & ((truth >= 1) | ~np.asarray(count, bool)))
    if (fallback != withheld).any():
        again = audit_block(truth, equations, fallback, primary=primary, count=count, frozen=np.ones(n, bool),
                            k=k, width=width, max_rounds=1, floor=floor, groups=groups)
        return BlockResult(again.withheld, again.ok, again.reason or "", audit.lps + again.lps, again.failing)
    return BlockResult(withheld, False, f"{len(failing)} withheld cells stay narrower than the protection width",
                       audit.lps, tuple(failing))


def _with_constants(truth: np.ndarray, equations: list) -> tuple[list[tuple], list[list[int]]]:
    """The non-empty equations as (row, constant from the truth, kind), and per cell the
    equations it appears in."""
    eqs = []
    for eq in equations:
        row, kind = (eq, "eq") if isinstance(eq, dict) else eq
        if row:
            eqs.append((row, float(sum(a * truth[c] for c, a in row.items())), kind))
    member: list[list[int]] = [[] for _ in range(len(truth))]
    for r, eq in enumerate(eqs):
        for c in eq[0]:
            member[c].append(r)
    return eqs, member


def _components(n: int, eqs: list[tuple], withheld: np.ndarray) -> tuple[dict[int, int], dict[int, list[int]]]:
    """The withheld cells linked by shared equations: each cell's root, and each root's cells."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for eq in eqs:
        cells = [c for c in eq[0] if withheld[c]]
        for c in cells[1:]:
            parent[find(c)] = find(cells[0])
    root_of: dict[int, int] = {}
    comps: dict[int, list[int]] = {}
    for c in np.flatnonzero(withheld):
        root = root_of[int(c)] = find(int(c))
        comps.setdefault(root, []).append(int(c))
    return root_of, comps


# A component's cells are certified first on small sub-systems: the withheld cells of one
# district, of the city and of the few (``LOCAL_PARTNERS``) districts sharing the most (by true value)
# equations with them, every other cell fixed at its true value. Every point feasible there is
# feasible in the whole system (the equations not touching the sub-system hold at the truth), so
# a cell's interval there lies inside its true one: a cell wide enough there is wide enough, and
# one that is not is solved on its whole component as before. The verdicts are those of the
# whole-component programs; only their cost changes: the small programs do not grow with the
# number of districts, while a component (linked by city = sum of districts) grows with it.
LOCAL_PARTNERS = (4, 16)  # partner districts tried, fewer first
SPREAD_MIN = 8  # fewer targets than this: their own programs at once, no spread-out points first


class _BlockAudit:
    """The intervals an outsider can derive for the withheld cells of one block, solved once
    per component. Withholding more cells only widens every interval (fewer fixed values), so a
    cell that passed once passes for good and is not solved again; for the same reason every
    feasible point found stays feasible, and the span of those seen certifies cells outright."""

    def __init__(self, truth, eqs, member, primary, count, floor, width, groups=None):
        self.truth, self.eqs, self.member = truth, eqs, member
        self.primary, self.count, self.floor, self.width = primary, count, floor, width
        self.groups = groups
        self.passed = np.zeros(len(truth), bool)
        self.cache: dict[tuple, dict[int, tuple[float, float]]] = {}
        self.lps = 0
        self.seen_lo = np.asarray(truth, float).copy()  # the truth is a feasible point
        self.seen_hi = self.seen_lo.copy()
        # each cell's lower bound: 1 for a count with records (a withheld row is at least 1), 0
        # (or its value, if negative) otherwise, and at least its floor
        values = np.asarray(truth, float)
        self.lower = np.fmax(np.where(np.asarray(count, bool) & (values >= 1), 1.0, np.where(values < 0, values, 0.0)),
                             np.asarray(floor, float))

    def failing(self, cells: list[int]) -> list[int]:
        """The cells of one component not yet passed whose interval is narrower than they need
        (one record, or the width for a primary cell); the others pass."""
        todo = [c for c in cells if not self.passed[c]]
        if not todo:
            return []
        key = tuple(cells)
        result = self.cache.get(key)
        if result is None:
            result = self.cache[key] = self._intervals(cells, todo)
        out = []
        for c in todo:
            if self._wide(c, *result[c]):
                self.passed[c] = True
            else:
                out.append(c)
        return out

    def _wide(self, c: int, lo: float, hi: float) -> bool:
        """Whether an interval [lo, hi] of cell `c` is wide enough (in whole records)."""
        lo_i = math.ceil(lo - AUDIT_EPS)
        hi_i = math.floor(hi + AUDIT_EPS) if math.isfinite(hi) and hi < BIG / 2 else math.inf
        return not (hi_i - lo_i < 1 or (self.primary[c] and hi_i - lo_i < self.width))

    def _seen_wide(self, c: int) -> bool:
        return self._wide(c, self.seen_lo[c], self.seen_hi[c])

    def _intervals(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """The feasible interval of each cell in `todo`, or a part of it wide enough, or a
        superset of it too narrow: from small sub-systems (``LOCAL_PARTNERS``), else from the
        whole component."""
        narrow = self._local(cells, todo) if self.groups is not None and len(cells) > 1 else {}
        out, rest = {}, []
        for c in todo:
            if self._seen_wide(c):
                out[c] = (self.seen_lo[c], self.seen_hi[c])
            elif c in narrow:
                out[c] = narrow[c]
            else:
                rest.append(c)
        if rest:
            out.update(self._solve(cells, rest))
        return out

    def _local(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """Per district of `todo`: its cells on the sub-system of that district, the city and its
        partners, every other cell fixed (the points found are recorded: they are feasible); then
        those not wide enough there on the relaxation made of the same equations alone, every
        withheld cell in them free (a superset of the feasible set: an interval too narrow there
        is too narrow). Returns the cells found too narrow, with their interval there."""
        groups = self.groups
        by_group: dict[object, list[int]] = {}
        for c in cells:
            by_group.setdefault(groups[c], []).append(c)
        members = set(cells)
        narrow = {}
        for group in dict.fromkeys(groups[c] for c in todo):
            targets = [c for c in by_group[group] if not self.passed[c] and not self._seen_wide(c)]
            if not targets:
                continue
            weight: dict[object, float] = {}
            for r in {r for c in by_group[group] for r in self.member[c]}:
                for y in self.eqs[r][0]:
                    if y in members and groups[y] != group:
                        weight[groups[y]] = weight.get(groups[y], 0.0) + max(float(self.truth[y]), 0.0)
            ranked = sorted(weight, key=lambda g: (g != TOTAL_ID, -weight[g], str(g)))
            for size in LOCAL_PARTNERS:
                chosen = by_group[group] + [c for g in ranked[:size + 1] for c in by_group[g]]
                if len(chosen) == len(cells):
                    break
                self._solve(chosen, targets)
                targets = [c for c in targets if not self._seen_wide(c)]
                if targets:
                    relaxed = self._relaxed(chosen, targets, members)
                    narrow.update((c, got) for c, got in relaxed.items() if not self._wide(c, *got))
                    targets = [c for c in targets if c not in narrow]
                if not targets or size + 1 >= len(ranked):
                    break
        return narrow

    def _relaxed(self, chosen: list[int], todo: list[int], members: set[int]) -> dict[int, tuple[float, float]]:
        """The intervals of `todo` under the equations touching `chosen` alone: every withheld
        cell in them free within its bounds (a relaxation: the true intervals lie inside). A
        cell met by one of those equations only enters it through one variable per equation and
        sign, their sum (the same relaxation, projected: a sum of cells >= their lower bounds
        takes any value from the sum of those bounds up)."""
        truth = self.truth
        rows = sorted({r for c in chosen for r in self.member[c]})
        inside = set(chosen)
        seen_in: dict[int, int] = {}
        for r in rows:
            for y in self.eqs[r][0]:
                if y in members and y not in inside:
                    seen_in[y] = seen_in.get(y, 0) + 1
        kept = list(chosen) + sorted(y for y, times in seen_in.items() if times > 1)
        local = {c: i for i, c in enumerate(kept)}
        lower = list(self.lower[kept])
        sub = []
        for r in rows:
            row, rhs, kind = self.eqs[r]
            coefs, const, sums = {}, rhs, {}
            for c, a in row.items():
                if c in local:
                    coefs[local[c]] = a
                elif c in members:  # met here only: into the sum of its sign
                    sign = math.copysign(1.0, a)
                    sums[sign] = sums.get(sign, 0.0) + abs(a) * self.lower[c]
                else:
                    const -= a * truth[c]
            for sign in (1.0, -1.0):
                if sign in sums:
                    coefs[len(lower)] = sign
                    lower.append(sums[sign])
            sub.append((coefs, const, kind))
        lower = np.array(lower)
        upper = np.full(len(lower), math.inf)
        width = np.full(len(lower), 1.0)
        width[:len(kept)] = [self.width if self.primary[c] else 1.0 for c in kept]
        got = feasible_intervals(sub, lower, upper, [local[c] for c in todo], width, spread=len(todo) > SPREAD_MIN)
        self.lps += 2 * len(todo)
        return {c: got[local[c]] for c in todo}

    def _solve(self, cells: list[int], todo: list[int]) -> dict[int, tuple[float, float]]:
        """The feasible interval of each cell in `todo` (or a part of it wide enough): the
        equations touching `cells`, every other cell moved into the constants at its true value
        (the points found are feasible in the whole system: recorded)."""
        truth = self.truth
        rows = sorted({r for c in cells for r in self.member[c]})
        local = {c: i for i, c in enumerate(cells)}
        sub = []
        for r in rows:
            row, rhs, kind = self.eqs[r]
            coefs, const = {}, rhs
            for c, a in row.items():
                if c in local:
                    coefs[local[c]] = a
                else:
                    const -= a * truth[c]
            sub.append((coefs, const, kind))
        lower = self.lower[cells]
        upper = np.full(len(cells), math.inf)
        width = np.array([self.width if self.primary[c] else 1.0 for c in cells])
        index = np.asarray(cells)

        def record(x):
            np.minimum.at(self.seen_lo, index, x)
            np.maximum.at(self.seen_hi, index, x)

        got = feasible_intervals(sub, lower, upper, [local[c] for c in todo], width,
                                 record=record, spread=len(todo) > SPREAD_MIN)
        self.lps += 2 * len(todo)
        return {c: got[local[c]] for c in todo}


def _add_complements(failing, root_of, comps, withheld, audit: _BlockAudit, frozen) -> bool:
    """One more withheld cell next to each failing one (see ``_add_complement``); whether any was."""
    n = len(withheld)
    member = audit.member
    added = False
    comp_rows: dict[int, set] = {}  # a component's equations, once per round (its cells are fixed)
    for c in failing:
        root = root_of[c]
        if root not in comp_rows:
            comp_rows[root] = {r for x in comps.get(root, ()) for r in member[x]} if n < 4000 else set(member[c])
        if withheld[c] and _add_complement(c, withheld, audit.eqs, member, audit.truth, audit.count, frozen, audit.width,
                                           comp_rows[root] if n < 4000 else set(member[c])):
            added = True
    return added


def _add_complement(target, withheld, eqs, member, truth, count, frozen, width, comp_rows) -> bool:
    """Withhold one more published cell next to `target` (sharing an equation with it or with
    its component, whose equations are `comp_rows`): the smallest one with more than `width`
    records, else the largest."""
    rows = list(member[target]) + [r for r in comp_rows if r not in member[target]]
    for group in (list(member[target]), rows):
        candidates = {c for r in group for c in eqs[r][0]
                      if not withheld[c] and not frozen[c] and count[c] and truth[c] >= 1}
        if candidates:
            wide = [c for c in candidates if truth[c] >= width + 1]
            chosen = min(wide, key=lambda c: (truth[c], c)) if wide else max(candidates, key=lambda c: (truth[c], -c))
            withheld[chosen] = True
            return True
    return False
