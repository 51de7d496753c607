"""The alert policy of a metric: the ``alert:`` block of its registry header.

::

    alert:
      rules: [threshold, anomaly, forecast, no_data]   # which rules run (threshold, forecast: need a target)
      grain: hour          # the period the rules look at (one of the metric's grains); default its finest
      min_n: 5             # fewest records a period (or an anomaly window) must rest on; the larger
                           #   of this and the metric's own min_n (registry field) applies
      sensitivity: 4.5     # anomaly: one-sided z beyond the expected value (counts: the same tail probability)
      pending: 2           # complete periods a rule must hold before an alert opens ({rule: n} per rule)
      hysteresis: 2        # complete periods back in band before an alert resolves itself
      severity: warning    # of anomaly, forecast and no_data alerts (threshold: the warning band -> warning,
                           #   beyond it -> critical)
      horizon: 3           # forecast: periods ahead in which a crossing of the target is announced
      baseline_days: 14    # anomaly: days of history the seasonal baseline is estimated from
      no_data: 2           # periods with no record (while the source delivers elsewhere) before no_data fires
      trials: false        # the value is 100 x numerator / denominator and the denominator counts units
                           #   (parking spaces, bin readings): a share is off target only when the target
                           #   lies outside its binomial 95 % one-sided bound (10 of 11 spaces is not "over
                           #   85 %"), and the anomaly band is never narrower than one unit's step

Validated when the registry loads (``data.registry.parse_file``): an invalid block raises
:class:`PolicyError`, which the registry turns into its ``RegistryError`` naming the file and
the field (``alert.pending``), so the app refuses to start.
"""
from __future__ import annotations

from dataclasses import dataclass, field

RULES = ("threshold", "anomaly", "forecast", "no_data")
SEVERITIES = ("critical", "warning")
FIELDS = ("rules", "grain", "min_n", "sensitivity", "pending", "hysteresis", "severity", "horizon",
          "baseline_days", "no_data", "trials")
DETECTION_GRAINS = ("hour", "day", "week")
DEFAULT_PENDING = {"threshold": 2, "anomaly": 1, "forecast": 1, "no_data": 1}


class PolicyError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Policy:
    rules: tuple[str, ...]
    grain: str
    min_n: int | None          # None: the metric's own min_n (data/facts) or 1
    sensitivity: float = 4.5
    pending: dict = field(default_factory=lambda: dict(DEFAULT_PENDING))
    hysteresis: int = 2
    severity: str = "warning"
    horizon: int = 3
    baseline_days: int = 14
    no_data: int = 2
    trials: bool = False

    def pending_for(self, rule: str) -> int:
        return int(self.pending.get(rule, DEFAULT_PENDING[rule]))


def _int(block: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PolicyError(key, f"must be a whole number from {lo} to {hi}, got {value!r}")
    return value


def parse(block, *, grains: tuple[str, ...], has_target: bool, direction: str) -> Policy:
    """The Policy of an ``alert:`` block (PolicyError naming the sub-field when invalid; the
    fields are checked in a fixed order, so the first problem is the one named)."""
    if not isinstance(block, dict):
        raise PolicyError("alert", f"must be a mapping of {', '.join(FIELDS)}")
    unknown = sorted(set(block) - set(FIELDS))
    if unknown:
        raise PolicyError(unknown[0], f"is not a known alert field (known: {', '.join(FIELDS)})")
    rules = _rules(block, has_target)
    grain = _grain(block, grains)
    min_n = _int(block, "min_n", 1, 1, 100_000) if block.get("min_n") is not None else None
    sensitivity = _sensitivity(block)
    pending = _pending(block)
    severity = block.get("severity", "warning")
    if severity not in SEVERITIES:
        raise PolicyError("severity", f"must be one of {', '.join(SEVERITIES)}; got {severity!r}")
    if "horizon" in block and "forecast" not in rules:
        raise PolicyError("horizon", "is only used by the forecast rule, which is not in rules")
    trials = block.get("trials", False)
    if not isinstance(trials, bool):
        raise PolicyError("trials", f"must be true or false; got {trials!r}")
    return Policy(
        trials=trials, rules=tuple(r for r in RULES if r in rules), grain=grain, min_n=min_n, sensitivity=float(sensitivity),
        pending={**DEFAULT_PENDING, **pending}, hysteresis=_int(block, "hysteresis", 2, 1, 48), severity=severity,
        horizon=_int(block, "horizon", 3, 1, 48), baseline_days=_int(block, "baseline_days", 14, 7, 366),
        no_data=_int(block, "no_data", 2, 1, 48))


def _rules(block: dict, has_target: bool) -> list[str]:
    """Distinct known rules; threshold and forecast only for a metric with a target."""
    rules = block.get("rules")
    if not isinstance(rules, list) or not rules or any(r not in RULES for r in rules) or len(set(rules)) != len(rules):
        raise PolicyError("rules", f"must be a non-empty list of distinct rules from {', '.join(RULES)}; got {rules!r}")
    if not has_target:
        for rule in ("threshold", "forecast"):
            if rule in rules:
                raise PolicyError("rules", f"'{rule}' needs the metric's target and warning band")
    return rules


def _grain(block: dict, grains: tuple[str, ...]) -> str:
    """One of the metric's grains that detection runs at; default the first (finest)."""
    usable = [g for g in grains if g in DETECTION_GRAINS]
    grain = block.get("grain", usable[0] if usable else grains[0])
    if grain not in usable:
        raise PolicyError("grain", f"must be one of the metric's grains that detection runs at "
                                   f"({', '.join(usable) or 'none'}); got {grain!r}")
    return grain


def _sensitivity(block: dict) -> float | int:
    sensitivity = block.get("sensitivity", 4.5)
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, float)) or not 1.5 <= sensitivity <= 10:
        raise PolicyError("sensitivity", f"must be a number of standard deviations from 1.5 to 10; got {sensitivity!r}")
    return sensitivity


def _pending(block: dict) -> dict[str, int]:
    """Periods per rule before an alert opens: one number for every rule, or {rule: periods}."""
    pending = block.get("pending", {})
    if isinstance(pending, bool) or not isinstance(pending, (int, dict)):
        raise PolicyError("pending", f"must be a number of periods or a mapping rule: periods; got {pending!r}")
    if isinstance(pending, int):
        pending = {rule: pending for rule in RULES}
    for rule, value in pending.items():
        if rule not in RULES:
            raise PolicyError("pending", f"names an unknown rule {rule!r}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 48:
            raise PolicyError("pending", f"must be from 1 to 48 periods; got {value!r} for {rule}")
    return pending
