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

The header is the metric's whole declaration, its translations too: the English texts are
its own fields, each other language of the public site is an ``i18n.<lang>`` block with the
same text fields (``label``, ``unit``, ``description``, ``method``, ``known_issues``; a field
left out is shown in English). :class:`Header` is its schema: ``load()`` validates every file
against it, a bad one raises ``RegistryError`` naming the file, the field and what is wrong,
and the app refuses to start.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from data import alert_policy, i18n

METRICS_DIR = Path(__file__).resolve().parent.parent / "queries" / "metrics"

DOMAINS = ("transport", "waste", "parking", "satisfaction")
# the names of the domains are texts of the site's catalogue (ui.domain_<domain>, every language)
DOMAIN_LABELS = {domain: i18n.t(f"domain_{domain}") for domain in DOMAINS}
GRAINS = ("hour", "day", "week", "month")
DIRECTIONS = ("higher", "lower")
AGGREGATES = ("sum", "ratio", "median", "mean", "level")
CONTRACT = ("district_id", "period", "value", "numerator", "denominator", "n")
# Default min_n by aggregate: a count or a level of 1 record is still a fact; a median, mean or
# percentage of a handful of records is noise (a median of one request is that request).
MIN_N = {"sum": 1, "level": 1, "ratio": 20, "median": 10, "mean": 10}
COUNT_COLUMNS = ("n", "numerator", "denominator", "complement")
_QUANTITY = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
_HEADER = re.compile(r"\A\s*/\*---\s*\n(?P<meta>.*?)\n---\*/\s*(?P<sql>.*)\Z", re.S)
_CADENCE = re.compile(r"^(\d+)\s*(m|h|d)$")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")  # a catalogue's name (data/i18n/<lang>.yaml)


class RegistryError(ValueError):
    """A metric declaration is invalid; the message names the file and the field."""


# --------------------------------------------------------------------------- the header's schema
def _filled(text: str) -> str:
    if not text.strip():
        raise ValueError("is required")
    return text.strip()


def _bad(message: str):
    raise ValueError(message)


Text = Annotated[StrictStr, AfterValidator(_filled)]
Quantity = Annotated[StrictStr, AfterValidator(lambda q: q if _QUANTITY.match(q) else _bad(f"{q!r} is not a quantity name"))]


class _Strict(BaseModel):
    """An unknown key is a typo (``lable:``), refused, not ignored; a parsed header is final."""
    model_config = ConfigDict(extra="forbid", frozen=True)


class Translation(_Strict):
    """One language's texts of a metric (``i18n.es``); a text left out is shown in English."""
    label: Text | None = None
    unit: Text | None = None
    description: Text | None = None
    method: Text | None = None
    known_issues: Text | None = None


class ConfidenceInterval(_Strict):
    """``ci: {kind: mean_score, min: 1, max: 5}``: the public site publishes each value with a
    95 % confidence interval (data/publish.py); mean_score: the mean of scores from min to max,
    the interval rounded outwards so that it pins no histogram (data.privacy.protect_ci)."""
    kind: Literal["mean_score"]
    min: StrictFloat
    max: StrictFloat

    @field_validator("max")
    @classmethod
    def _above_min(cls, value, info: ValidationInfo):
        if "min" in info.data and value <= info.data["min"]:
            raise ValueError(f"must be above min ({info.data['min']:g}); got {value:g}")
        return value


class Header(_Strict):
    """The ``/*--- ... ---*/`` header of a metric file. Fields are checked in this order, and a
    check that needs an earlier field (the warning band needs the target and the direction)
    comes after it."""
    id: StrictStr
    domain: Literal[DOMAINS]
    label: Text
    unit: Text
    format: Text
    direction: Literal[DIRECTIONS]
    target: StrictFloat | None = None
    warning: StrictFloat | None = None
    cadence: StrictStr | StrictInt
    aggregate: Literal[AGGREGATES]
    public: StrictBool
    per_capita: StrictBool
    grains: list
    source: Text
    description: Text
    method: Text
    known_issues: StrictStr | None = None
    # false for figures that describe no person (tonnes weighed): the public site then publishes
    # them without small-count suppression
    suppress: StrictBool = True
    # the fewest records a value needs before it is compared or coloured (default by aggregate: MIN_N)
    min_n: Annotated[StrictInt, AfterValidator(lambda n: n if n >= 1 else _bad(f"must be a whole number of records, at least 1; got {n!r}"))] | None = None
    # what each figure of a cell counts, as {column: quantity}; columns n, numerator, denominator
    # and complement (= denominator - numerator, e.g. late requests). Two metrics naming the same
    # quantity publish the same count (the release auditor treats it as one figure); a `complement`
    # makes numerator and complement parts of a whole. Default: {n: <metric id>}.
    counts: dict[Literal[COUNT_COLUMNS], Quantity] | None = None
    # for a level, {in: quantity, out: quantity}: level(end) = level(start) + in - out
    stock: dict[Literal["in", "out"], Quantity] | None = None
    alert: object = None  # the metric's alert policy (data/alert_policy.py)
    # true = off target over its latest complete week is a standing status listed on /alerts
    # (triage.standing), not an alert episode: a slow condition an operator reviews
    standing: StrictBool = False
    ci: ConfidenceInterval | None = None
    i18n: dict[str, Translation] = {}

    @field_validator("id")
    @classmethod
    def _id(cls, value: str, info: ValidationInfo):
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}, got {value!r}")
        stem = (info.context or {}).get("stem")
        if stem is not None and value != stem:
            raise ValueError(f"must equal the file name '{stem}', got {value!r}")
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str):
        try:
            format(1234.5, value.replace("~", ""))
        except (ValueError, TypeError):
            raise ValueError(f"is not a valid number format: {value!r}") from None
        return value

    @field_validator("warning")
    @classmethod
    def _warning(cls, value, info: ValidationInfo):
        target, direction = info.data.get("target"), info.data.get("direction")
        if (target is None) != (value is None) and "target" in info.data:
            raise ValueError("target and warning are set together or not at all")
        if value is not None and target is not None and direction is not None:
            sign = 1 if direction == "higher" else -1
            if sign * (target - value) < 0:
                raise ValueError(f"must lie on the worse side of the target ({direction} is better)")
        return value

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value):
        match = _CADENCE.match(str(value).strip())
        if not match:
            raise ValueError(f"must look like 15m, 1h or 1d; got {value!r}")
        if int(match.group(1)) <= 0:
            raise ValueError(f"must be longer than zero; got {value!r}")
        return str(value)

    @field_validator("grains")
    @classmethod
    def _grains(cls, value):
        if not value or any(g not in GRAINS for g in value):
            raise ValueError(f"must be a non-empty list from {', '.join(GRAINS)}; got {value!r}")
        return [g for g in GRAINS if g in value]  # finest first

    @field_validator("counts")
    @classmethod
    def _counts(cls, value):
        if value and "n" not in value:
            raise ValueError("must say what n counts")
        if value and "complement" in value and not {"numerator", "denominator"} <= set(value):
            raise ValueError("a complement needs a numerator and a denominator")
        return value

    @field_validator("stock")
    @classmethod
    def _stock(cls, value, info: ValidationInfo):
        if value and info.data.get("aggregate") != "level":
            raise ValueError("only a level (aggregate: level) has a stock identity")
        if value and set(value) != {"in", "out"}:
            raise ValueError(f"must be {{in: quantity, out: quantity}}; got {value!r}")
        return value

    @field_validator("alert")
    @classmethod
    def _alert(cls, value, info: ValidationInfo):
        if value is None or not {"grains", "direction"} <= set(info.data):
            return value
        return alert_policy.parse(value, grains=tuple(info.data["grains"]), direction=info.data["direction"],
                                  has_target=info.data.get("target") is not None)

    @field_validator("standing")
    @classmethod
    def _standing(cls, value, info: ValidationInfo):
        if value and (info.data.get("target") is None or "week" not in info.data.get("grains", ())):
            raise ValueError("true needs a target and the week grain")
        return value

    @field_validator("ci")
    @classmethod
    def _ci(cls, value, info: ValidationInfo):
        if value is not None and info.data.get("aggregate") != "mean":
            raise ValueError("a mean_score interval is for a mean (aggregate: mean)")
        return value

    @field_validator("i18n")
    @classmethod
    def _languages(cls, value):
        for lang in value:
            if lang == i18n.DEFAULT:
                raise ValueError(f"{lang}: English is the header's own text (label, description, ...)")
            if not _LANG.match(lang):
                raise ValueError(f"{lang!r} is not a language code like es or pt_BR")
        return value


_MUST = {"bool_type": "must be true or false", "float_type": "must be a number or null", "string_type": "must be text",
         "int_type": "must be a whole number of records, at least 1", "dict_type": "must be a mapping",
         "list_type": "must be a list"}


def _message(path: Path, error: dict) -> str:
    """One line for the first thing wrong: the file, the field (dotted inside ``ci``, ``i18n``
    and ``alert``), and what is wrong with the value found."""
    loc = [str(part) for part in error["loc"]]
    name = ".".join(loc[:3] if loc[0] == "i18n" else loc[:2] if loc[0] == "ci" else loc[:1])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, alert_policy.PolicyError):
        name, text = (f"alert.{cause.field}" if cause.field != "alert" else "alert"), str(cause)
    elif error["type"] == "missing" or (error["type"].endswith("_type") and error.get("input") is None):
        text = "is required"
    elif error["type"] == "extra_forbidden":
        text = "is not a known field"
    elif cause is not None:
        text = str(cause)
    elif error["type"] == "literal_error":
        text = f"must be one of {error['ctx']['expected']}; got {error['input']!r}"
    else:
        text = f"{_MUST.get(error['type'], error['msg'])}; got {error['input']!r}"
    return f"{path.name}: field '{name}': {text}"


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
    ci: ConfidenceInterval | None = None  # published with a confidence interval of this kind
    # {lang: {text field: text}} of the header's i18n blocks (data.i18n shows them, else English)
    translations: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, hash=False, compare=False)

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


def _split(path: Path) -> tuple[dict, str]:
    """The header's YAML mapping and the statement after it."""
    match = _HEADER.match(path.read_text(encoding="utf-8"))
    if not match:
        raise RegistryError(f"{path.name}: missing the '/*--- ... ---*/' metadata header")
    try:
        meta = yaml.safe_load(match.group("meta")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path.name}: metadata is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RegistryError(f"{path.name}: metadata must be a mapping")
    return meta, match.group("sql")


def _statement(path: Path, sql: str) -> tuple[str, str]:
    """The metric's one SELECT with its bound parameters, and the raw table it reads."""
    from data.warehouse import RAW_TABLES

    sql = sql.strip().rstrip(";").strip()
    problem = None
    if not sql.upper().lstrip("( \n").startswith(("SELECT", "WITH")):
        problem = "must be one SELECT (or WITH ... SELECT) statement"
    elif ";" in sql:
        problem = "must be a single statement (found ';')"
    else:
        problem = next((f"must use the bound parameter {p}" for p in ("$grain", "$start", "$end") if p not in sql), None)
    tables = [t for t in re.findall(r"\bFROM\s+([a-z_]+)", sql, flags=re.I) if t in RAW_TABLES]
    if problem is None and not tables:
        problem = f"must read one of the raw tables ({', '.join(RAW_TABLES)})"
    if problem:
        raise RegistryError(f"{path.name}: field 'sql': {problem}")
    return sql, tables[0]


def parse_file(path: Path) -> Metric:
    """The Metric of one file: its header validated against :class:`Header`, then its SQL."""
    meta, sql = _split(path)
    try:
        h = Header.model_validate(meta, context={"stem": path.stem})
    except ValidationError as exc:
        raise RegistryError(_message(path, exc.errors()[0])) from None
    sql, table = _statement(path, sql)
    amount, unit = _CADENCE.match(h.cadence.strip()).groups()
    return Metric(
        id=h.id, domain=h.domain, label=h.label, unit=h.unit, format=h.format, direction=h.direction,
        target=h.target, warning=h.warning, cadence=timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: int(amount)}),
        cadence_text=h.cadence, aggregate=h.aggregate, public=h.public, per_capita=h.per_capita, grains=tuple(h.grains),
        source=h.source, description=h.description, method=h.method, sql=sql, table=table, path=str(path),
        known_issues=(h.known_issues or "").strip(), suppress=h.suppress, alert=h.alert, standing=h.standing,
        min_n=h.min_n or MIN_N[h.aggregate], counts=tuple((h.counts or {}).items()), stock=tuple(sorted((h.stock or {}).items())),
        ci=h.ci, translations={lang: {k: v for k, v in texts.model_dump().items() if v} for lang, texts in h.i18n.items()},
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
