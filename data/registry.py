"""The metric registry: every KPI declared once, in ``queries/metrics/<id>.sql``.

Each file starts with a YAML block inside a SQL comment (``/*--- ... ---*/``) holding the
metadata, followed by ONE SQL statement returning the metric contract::

    district_id VARCHAR   -- a district id, or 'city' for the whole city
    period      TIMESTAMP -- start of the period, date_trunc($grain, ...)
    value       DOUBLE    -- the metric value for that district and period
    numerator   DOUBLE    -- what was counted / summed (NULL if not a ratio)
    denominator DOUBLE    -- what it was divided by (NULL if not a ratio)
    n           BIGINT    -- number of underlying records (for suppression and confidence)

with bound parameters ``$grain`` ('hour'|'day'|'week'|'month'), ``$start`` and ``$end``
(half-open range on the period start). City rows come from ``GROUPING SETS``.

``load()`` validates every declaration; a bad one raises ``RegistryError`` naming the file
and the field, and the app refuses to start.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from data import alert_policy

METRICS_DIR = Path(__file__).resolve().parent.parent / "queries" / "metrics"

DOMAINS = ("transport", "waste", "parking", "satisfaction")
DOMAIN_LABELS = {
    "transport": "Transport",
    "waste": "Waste",
    "parking": "Parking",
    "satisfaction": "Service & satisfaction",
}
GRAINS = ("hour", "day", "week", "month")
DIRECTIONS = ("higher", "lower")
AGGREGATES = ("sum", "ratio", "median", "mean", "level")
CONTRACT = ("district_id", "period", "value", "numerator", "denominator", "n")
REQUIRED = (
    "id", "domain", "label", "unit", "format", "direction", "cadence", "aggregate",
    "public", "per_capita", "grains", "source", "description", "method",
)
# optional fields. suppress: false for figures that describe no person (tonnes weighed):
# the public site then publishes them without small-count suppression.
# min_n: the fewest records a value needs before it is compared or coloured (see MIN_N)
OPTIONAL = ("target", "warning", "known_issues", "suppress", "min_n", "counts", "stock")
OPTIONAL = OPTIONAL + ("alert",)  # alert: the metric's alert policy (data/alert_policy.py)
# standing: true = off target over its latest complete week is a standing status listed on
# /alerts (triage.standing), not an alert episode: a slow condition an operator reviews, not
# an early warning (needs a target and a week grain)
OPTIONAL = OPTIONAL + ("standing",)
# Default min_n by aggregate: a count or a level of 1 record is still a fact; a median, mean or
# percentage of a handful of records is noise (a median of one request is that request).
MIN_N = {"sum": 1, "level": 1, "ratio": 20, "median": 10, "mean": 10}
# counts: what each figure of a cell counts, as {column: quantity}; columns n, numerator,
# denominator and complement (= denominator - numerator, e.g. late requests). Two metrics naming
# the same quantity publish the same count (the release auditor treats it as one figure); a
# `complement` makes numerator and complement parts of a whole (0 % and 100 % say something of
# every record). Default: {n: <metric id>}.
# stock: for a level, {in: quantity, out: quantity}: level(end) = level(start) + in - out.
COUNT_COLUMNS = ("n", "numerator", "denominator", "complement")
_QUANTITY = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
_HEADER = re.compile(r"\A\s*/\*---\s*\n(?P<meta>.*?)\n---\*/\s*(?P<sql>.*)\Z", re.S)
_CADENCE = re.compile(r"^(\d+)\s*(m|h|d)$")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class RegistryError(ValueError):
    """A metric declaration is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Metric:
    id: str
    domain: str
    label: str
    unit: str
    format: str
    direction: str
    target: float | None
    warning: float | None
    cadence: timedelta
    cadence_text: str
    aggregate: str
    public: bool
    per_capita: bool
    grains: tuple[str, ...]
    source: str
    description: str
    method: str
    sql: str = field(repr=False)
    table: str = ""  # the raw table it reads: its data time and availability come from there
    path: str = field(repr=False, default="")
    known_issues: str = ""
    suppress: bool = True  # small counts withheld on the public site (false: figures about no person)
    alert: "alert_policy.Policy | None" = None  # what the detector runs on it (None: no alerts)
    standing: bool = False  # off target over a complete week: a standing status on /alerts, not an alert
    min_n: int = 1  # fewest records for a change or a status (registry field, default by aggregate: MIN_N)
    counts: tuple[tuple[str, str], ...] = ()  # (column, quantity): what each figure counts
    stock: tuple[tuple[str, str], ...] = ()   # (in|out, quantity) of a level

    def counted(self) -> dict[str, str]:
        """{column: quantity} this metric's figures count (default: n counts the metric's records)."""
        return dict(self.counts) if self.counts else {"n": self.id}

    # -- status against target -------------------------------------------------------
    def status(self, value: float | None) -> str:
        """'ok', 'warning', 'bad', or 'none' (no value or no target)."""
        if value is None or self.target is None or value != value:  # NaN check
            return "none"
        sign = 1 if self.direction == "higher" else -1
        if sign * (value - self.target) >= 0:
            return "ok"
        if self.warning is not None and sign * (value - self.warning) >= 0:
            return "warning"
        return "bad"

    def freshness(self, data_time: datetime | None, now: datetime) -> str:
        """'fresh' within one cadence (+10 % grace), 'late' within three, else 'stale'."""
        if data_time is None:
            return "stale"
        age = now - data_time
        if age <= self.cadence * 1.1 + timedelta(minutes=1):
            return "fresh"
        if age <= self.cadence * 3:
            return "late"
        return "stale"

    def format_value(self, value: float | None, compact: bool = False) -> str:
        """The value in the metric's format; `compact` shortens large numbers (1.71M, 59.2k)."""
        if value is None or value != value:
            return "–"
        if compact and abs(value) >= 100_000:
            for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
                if abs(value) >= size:
                    return f"{value / size:.3g}{suffix}"
        return format(value, self.format.replace("~", ""))

    @property
    def finest_grain(self) -> str:
        return self.grains[0]


def _fail(path: Path, field_name: str, message: str) -> RegistryError:
    return RegistryError(f"{path.name}: field '{field_name}': {message}")


def _number_or_none(path: Path, meta: dict, key: str) -> float | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, key, f"must be a number or null, got {value!r}")
    return float(value)


def parse_file(path: Path) -> Metric:  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
    text = path.read_text(encoding="utf-8")
    match = _HEADER.match(text)
    if not match:
        raise RegistryError(f"{path.name}: missing the '/*--- ... ---*/' metadata header")
    try:
        meta = yaml.safe_load(match.group("meta")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path.name}: metadata is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RegistryError(f"{path.name}: metadata must be a mapping")
    for key in REQUIRED:
        if key not in meta or meta[key] in (None, ""):
            raise _fail(path, key, "is required")
    unknown = set(meta) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise _fail(path, sorted(unknown)[0], "is not a known field")
    if not isinstance(meta["id"], str) or not _ID.match(meta["id"]):
        raise _fail(path, "id", f"must match {_ID.pattern}, got {meta['id']!r}")
    if meta["id"] != path.stem:
        raise _fail(path, "id", f"must equal the file name '{path.stem}', got {meta['id']!r}")
    for key, allowed in (("domain", DOMAINS), ("direction", DIRECTIONS), ("aggregate", AGGREGATES)):
        if meta[key] not in allowed:
            raise _fail(path, key, f"must be one of {', '.join(allowed)}; got {meta[key]!r}")
    for key in ("public", "per_capita"):
        if not isinstance(meta[key], bool):
            raise _fail(path, key, f"must be true or false, got {meta[key]!r}")
    if not isinstance(meta.get("suppress", True), bool):
        raise _fail(path, "suppress", f"must be true or false, got {meta['suppress']!r}")
    min_n = meta.get("min_n", MIN_N[meta["aggregate"]])
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise _fail(path, "min_n", f"must be a whole number of records, at least 1; got {min_n!r}")
    for key in ("label", "unit", "format", "source", "description", "method"):
        if not isinstance(meta[key], str):
            raise _fail(path, key, f"must be text, got {meta[key]!r}")
    try:
        format(1234.5, meta["format"].replace("~", ""))
    except (ValueError, TypeError):
        raise _fail(path, "format", f"is not a valid number format: {meta['format']!r}") from None
    cadence = _CADENCE.match(str(meta["cadence"]).strip())
    if not cadence:
        raise _fail(path, "cadence", f"must look like 15m, 1h or 1d; got {meta['cadence']!r}")
    amount, unit = int(cadence.group(1)), cadence.group(2)
    if amount <= 0:
        raise _fail(path, "cadence", f"must be longer than zero; got {meta['cadence']!r}")
    delta = {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]
    grains = meta["grains"]
    if not isinstance(grains, list) or not grains or any(g not in GRAINS for g in grains):
        raise _fail(path, "grains", f"must be a non-empty list from {', '.join(GRAINS)}; got {grains!r}")
    grains = tuple(g for g in GRAINS if g in grains)
    target = _number_or_none(path, meta, "target")
    warning = _number_or_none(path, meta, "warning")
    if (target is None) != (warning is None):
        raise _fail(path, "warning", "target and warning are set together or not at all")
    if target is not None and warning is not None:
        sign = 1 if meta["direction"] == "higher" else -1
        if sign * (target - warning) < 0:
            raise _fail(path, "warning", f"must lie on the worse side of the target ({meta['direction']} is better)")
    policy = None
    if meta.get("alert") is not None:
        try:
            policy = alert_policy.parse(meta["alert"], grains=grains, has_target=target is not None,
                                        direction=meta["direction"])
        except alert_policy.PolicyError as exc:
            raise _fail(path, f"alert.{exc.field}" if exc.field != "alert" else "alert", str(exc)) from None
    standing = meta.get("standing", False)
    if not isinstance(standing, bool) or (standing and (target is None or "week" not in grains)):
        raise _fail(path, "standing", "must be true or false; true needs a target and the week grain")
    counts = meta.get("counts") or {}
    if not isinstance(counts, dict) or any(c not in COUNT_COLUMNS for c in counts) \
            or any(not isinstance(q, str) or not _QUANTITY.match(q) for q in counts.values()):
        raise _fail(path, "counts", f"must map columns from {', '.join(COUNT_COLUMNS)} to quantity names; got {counts!r}")
    if counts and "n" not in counts:
        raise _fail(path, "counts", "must say what n counts")
    if "complement" in counts and not {"numerator", "denominator"} <= set(counts):
        raise _fail(path, "counts", "a complement needs a numerator and a denominator")
    stock = meta.get("stock") or {}
    if stock:
        if meta["aggregate"] != "level":
            raise _fail(path, "stock", "only a level (aggregate: level) has a stock identity")
        if not isinstance(stock, dict) or set(stock) != {"in", "out"} \
                or any(not isinstance(q, str) or not _QUANTITY.match(q) for q in stock.values()):
            raise _fail(path, "stock", f"must be {{in: quantity, out: quantity}}; got {stock!r}")
    sql = match.group("sql").strip().rstrip(";").strip()
    if not sql.upper().lstrip("( \n").startswith(("SELECT", "WITH")):
        raise _fail(path, "sql", "must be one SELECT (or WITH ... SELECT) statement")
    if ";" in sql:
        raise _fail(path, "sql", "must be a single statement (found ';')")
    for param in ("$grain", "$start", "$end"):
        if param not in sql:
            raise _fail(path, "sql", f"must use the bound parameter {param}")
    from data.warehouse import RAW_TABLES

    tables = [t for t in re.findall(r"\bFROM\s+([a-z_]+)", sql, flags=re.I) if t in RAW_TABLES]
    if not tables:
        raise _fail(path, "sql", f"must read one of the raw tables ({', '.join(RAW_TABLES)})")
    return Metric(
        id=meta["id"], domain=meta["domain"], label=meta["label"], unit=meta["unit"],
        format=meta["format"], direction=meta["direction"], target=target, warning=warning,
        cadence=delta, cadence_text=str(meta["cadence"]), aggregate=meta["aggregate"],
        public=meta["public"], per_capita=meta["per_capita"], grains=grains,
        source=meta["source"], description=meta["description"].strip(),
        method=meta["method"].strip(), sql=sql, table=tables[0], path=str(path),
        known_issues=str(meta.get("known_issues") or "").strip(), suppress=meta.get("suppress", True),
        alert=policy, standing=standing,
        min_n=min_n,
        counts=tuple(counts.items()), stock=tuple(sorted(stock.items())),
    )


def load(directory: Path | None = None) -> dict[str, Metric]:
    """Parse and validate every metric file; raises RegistryError on the first bad one."""
    directory = Path(directory) if directory else METRICS_DIR
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise RegistryError(f"{directory}: no metric files found")
    metrics = [parse_file(p) for p in files]
    counted = {q for m in metrics for q in m.counted().values()}
    for m in metrics:
        for role, quantity in m.stock:
            if quantity not in counted:
                raise RegistryError(f"{Path(m.path).name}: field 'stock': {role} quantity {quantity!r} "
                                    "is counted by no metric")
    order = {d: i for i, d in enumerate(DOMAINS)}
    metrics.sort(key=lambda m: (order[m.domain], m.id))
    return {m.id: m for m in metrics}


@functools.cache
def metrics() -> dict[str, Metric]:
    """The registry of this process (files are read once; they are code, not data)."""
    return load()


def get(metric_id: str) -> Metric | None:
    return metrics().get(metric_id) if isinstance(metric_id, str) else None


def by_domain(domain: str, public_only: bool = False) -> list[Metric]:
    return [m for m in metrics().values() if m.domain == domain and (m.public or not public_only)]


def public_metrics() -> list[Metric]:
    return [m for m in metrics().values() if m.public]
