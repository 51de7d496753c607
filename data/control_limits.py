"""Is a change beyond normal variation? Control-chart tests on a metric's own history.

An individuals (XmR) chart: the centre line is the mean of the baseline (the periods before
the latest one), sigma is estimated from the average moving range (MR-bar / 1.128), which is
robust to a slow trend. Two of the Western Electric / Nelson rules are applied to the latest
value:

- rule 1: the latest value lies beyond 3 sigma from the centre line;
- rule 2: the latest 8 values (the latest included) all lie on the same side of the centre line.

A KPI card shows an arrow and a colour only when a rule fires, and its tooltip names the rule;
otherwise the change is "within normal variation" however large its percentage looks.
"""
from __future__ import annotations

from dataclasses import dataclass

D2 = 1.128      # bias constant of the moving range of two points
MIN_BASELINE = 8
RUN = 8


@dataclass(frozen=True)
class Signal:
    rule: str | None          # "rule 1", "rule 2" or None
    direction: str | None     # "up" / "down" / None
    centre: float | None
    lower: float | None
    upper: float | None
    baseline: int             # points in the baseline
    explanation: str

    @property
    def fired(self) -> bool:
        return self.rule is not None


def test(values, fmt=lambda v: f"{v:,.3g}") -> Signal:
    """Apply the rules to the last of `values` (oldest first), with the others as baseline."""
    points = [float(v) for v in values if v is not None and v == v]
    if len(points) < MIN_BASELINE + 1:
        return Signal(None, None, None, None, None, max(0, len(points) - 1),
                      f"Not enough history for control limits ({max(0, len(points) - 1)} of {MIN_BASELINE} periods).")
    *baseline, latest = points
    centre = sum(baseline) / len(baseline)
    ranges = [abs(b - a) for a, b in zip(baseline, baseline[1:], strict=False)]
    sigma = (sum(ranges) / len(ranges)) / D2 if ranges else 0.0
    lower, upper = centre - 3 * sigma, centre + 3 * sigma
    limits = f"centre {fmt(centre)}, limits {fmt(lower)}–{fmt(upper)} from {len(baseline)} periods"
    if sigma > 0 and (latest > upper or latest < lower):
        side = "up" if latest > upper else "down"
        where = "above the upper" if side == "up" else "below the lower"
        return Signal("rule 1", side, centre, lower, upper, len(baseline),
                      f"Rule 1 (beyond 3σ): {fmt(latest)} is {where} control limit ({limits}).")
    tail = points[-RUN:]
    if all(v > centre for v in tail) or all(v < centre for v in tail):
        side = "up" if tail[-1] > centre else "down"
        word = "above" if side == "up" else "below"
        return Signal("rule 2", side, centre, lower, upper, len(baseline),
                      f"Rule 2 (run of {RUN}): the last {RUN} values are all {word} the centre line ({limits}).")
    return Signal(None, None, centre, lower, upper, len(baseline), f"Within normal variation ({limits}).")
