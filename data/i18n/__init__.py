"""Translation catalogue of the public site: ``data/i18n/<lang>.yaml`` (English and Spanish).

``t(key, lang, **values)`` returns the UI string ``ui.<key>`` in `lang` (falling back to
English, then to the key itself) with ``{placeholders}`` filled in; ``metric_label`` and
``metric_description`` and ``metric_unit`` give a metric's name, description and unit (falling back to the registry).
``valid_lang`` turns any input (a URL parameter) into a supported language code.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

LANGS = ("en", "es")
DEFAULT = "en"
FOLDER = Path(__file__).resolve().parent


def valid_lang(value) -> str:
    return value if isinstance(value, str) and value in LANGS else DEFAULT


@functools.cache
def catalogue(lang: str) -> dict:
    return yaml.safe_load((FOLDER / f"{valid_lang(lang)}.yaml").read_text(encoding="utf-8")) or {}


def t(key: str, lang: str = DEFAULT, **values) -> str:
    text = catalogue(valid_lang(lang)).get("ui", {}).get(key)
    if text is None:
        text = catalogue(DEFAULT).get("ui", {}).get(key, key)
    return text.format(**values) if values else text


def _metric(metric, field: str, lang: str) -> str:
    entry = catalogue(valid_lang(lang)).get("metrics", {}).get(metric.id, {})
    return entry.get(field) or getattr(metric, field)


def metric_label(metric, lang: str = DEFAULT) -> str:
    return _metric(metric, "label", lang)


def metric_description(metric, lang: str = DEFAULT) -> str:
    return _metric(metric, "description", lang)


def metric_unit(metric, lang: str = DEFAULT) -> str:
    """The metric's unit in `lang` ("trips" → "viajes"); symbols such as % stay as they are."""
    return _metric(metric, "unit", lang)


def month_name(ts, lang: str = DEFAULT) -> str:
    return catalogue(valid_lang(lang))["months"][ts.month - 1]


def by_grain(key: str, grain: str | None) -> str:
    """The catalogue key of a sentence about weeks, or its monthly variant (``<key>_month``)
    for a metric published by month only."""
    return f"{key}_month" if grain == "month" else key


def date(ts, lang: str = DEFAULT, day: bool = True) -> str:
    """'14 September 2026' / '14 septiembre 2026' (or 'September 2026' without the day)."""
    import pandas as pd

    ts = pd.Timestamp(ts)
    month = month_name(ts, lang)
    if not day:
        return f"{month} {ts.year}" if lang != "es" else f"{month} de {ts.year}"
    return f"{ts.day:02d} {month} {ts.year}" if lang != "es" else f"{ts.day} de {month} de {ts.year}"
