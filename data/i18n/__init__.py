"""Translation catalogue and locale of the public site: ``data/i18n/<lang>.yaml``.

A city adds a language by adding one file, e.g. ``data/i18n/fr.yaml`` with the same keys as
``en.yaml`` (tests/test_public_i18n.py checks every catalogue against English) and, at its
top, ``locale: fr_FR`` (a Babel/CLDR locale id: it gives month and day names, decimal and
thousands separators) plus the date patterns (``date_day``, ``date_month``, ``date_time``,
CLDR patterns). Nothing else needs to change: ``LANGS`` lists every file in this folder,
numbers and dates are formatted by Babel (pinned in requirements.txt) in that locale, and
charts get a Plotly locale built from the same data (``plotly_config``).

``t(key, lang, **values)`` returns the UI string ``ui.<key>`` in `lang` (falling back to
English, then to the key itself) with ``{placeholders}`` filled in; ``metric_label``,
``metric_description``, ``metric_unit``, ``metric_method`` and ``metric_known_issues`` give
a metric's texts: its header's ``i18n.<lang>`` block (queries/metrics/<id>.sql), falling back
to the header's own English, so a new language's file translates the UI and each metric file
may carry that language's block. ``number`` / ``metric_value``
format a figure, ``date`` a day or a month. ``valid_lang`` turns any input (a URL
parameter) into a supported language code.
"""
from __future__ import annotations

import functools
import re
from datetime import timedelta
from pathlib import Path

import yaml
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

DEFAULT = "en"
FOLDER = Path(__file__).resolve().parent
# every catalogue in this folder is a language of the site (English first: the fallback)
LANGS = tuple(sorted((p.stem for p in FOLDER.glob("*.yaml") if re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", p.stem)),
                     key=lambda code: (code != DEFAULT, code)))


def valid_lang(value) -> str:
    return value if isinstance(value, str) and value in LANGS else DEFAULT


@functools.cache
def catalogue(lang: str) -> dict:
    return yaml.safe_load((FOLDER / f"{valid_lang(lang)}.yaml").read_text(encoding="utf-8")) or {}


@functools.cache
def locale(lang: str = DEFAULT) -> Locale:
    """The Babel locale of a catalogue (its ``locale:`` key, else the file's name)."""
    return Locale.parse(str(catalogue(valid_lang(lang)).get("locale") or valid_lang(lang)))


def t(key: str, lang: str = DEFAULT, **values) -> str:
    text = catalogue(valid_lang(lang)).get("ui", {}).get(key)
    if text is None:
        text = catalogue(DEFAULT).get("ui", {}).get(key, key)
    return text.format(**values) if values else text


def _own(metric, field: str, lang: str) -> str | None:
    """`lang`'s own text of a metric (its header's i18n.<lang> block), None without one."""
    return metric.translations.get(valid_lang(lang), {}).get(field)


def _metric(metric, field: str, lang: str) -> str:
    return _own(metric, field, lang) or getattr(metric, field)


def metric_label(metric, lang: str = DEFAULT) -> str:
    return _metric(metric, "label", lang)


def metric_description(metric, lang: str = DEFAULT) -> str:
    return _metric(metric, "description", lang)


def metric_unit(metric, lang: str = DEFAULT) -> str:
    """The metric's unit in `lang` ("trips" → "viajes"); symbols such as % stay as they are."""
    return _metric(metric, "unit", lang)


def metric_method(metric, lang: str = DEFAULT) -> str:
    """How the figure is made, in `lang` (the header's English when it has no `lang` block)."""
    return str(_metric(metric, "method", lang)).strip()


def metric_known_issues(metric, lang: str = DEFAULT) -> str:
    return str(_metric(metric, "known_issues", lang) or "").strip() if metric.known_issues else ""


def has_own(metric, field: str, lang: str) -> bool:
    """True when the metric carries its own `field` in `lang` (else English is shown)."""
    return bool(_own(metric, field, lang)) or lang == DEFAULT


# --------------------------------------------------------------------------- numbers
_SPEC = re.compile(r"^(?P<group>,)?\.(?P<decimals>\d+)f$")


def _pattern(spec: str) -> str:
    """A Python format spec of the registry (",.1f", ".0f") as a CLDR number pattern."""
    match = _SPEC.match(spec.replace("~", ""))
    if match is None:
        return "#,##0.##"
    decimals = int(match["decimals"])
    return ("#,##0" if match["group"] else "0") + ("." + "0" * decimals if decimals else "")


def number(value, spec: str = ",.0f", lang: str = DEFAULT) -> str:
    """`value` formatted like the Python spec `spec`, with the separators of `lang`'s locale
    ("1,234.5" in English, "1.234,5" in Spanish); "–" for a missing value."""
    if value is None or value != value:
        return "–"
    return babel_numbers.format_decimal(value, format=_pattern(spec), locale=locale(lang))


def integer(value, lang: str = DEFAULT) -> str:
    return number(value, ",.0f", lang)


def metric_value(metric, value, lang: str = DEFAULT) -> str:
    return number(value, metric.format, lang)


# --------------------------------------------------------------------------- dates
def month_name(ts, lang: str = DEFAULT) -> str:
    return babel_dates.get_month_names("wide", locale=locale(lang))[ts.month]


def by_grain(key: str, grain: str | None) -> str:
    """The catalogue key of a sentence about weeks, or its monthly variant (``<key>_month``)
    for a metric published by month only."""
    return f"{key}_month" if grain == "month" else key


def _pattern_of(lang: str, key: str, fallback: str) -> str:
    return str(catalogue(valid_lang(lang)).get(key) or catalogue(DEFAULT).get(key) or fallback)


def date(ts, lang: str = DEFAULT, day: bool = True) -> str:
    """'01 September 2026' / '1 de septiembre de 2026' (or 'September 2026' without the day),
    in the catalogue's CLDR pattern (``date_day`` / ``date_month``) and its locale's month names."""
    import pandas as pd

    ts = pd.Timestamp(ts).to_pydatetime()
    pattern = _pattern_of(lang, "date_day", "d MMMM y") if day else _pattern_of(lang, "date_month", "MMMM y")
    return babel_dates.format_date(ts, pattern, locale=locale(lang))


def date_time(ts, lang: str = DEFAULT) -> str:
    """A moment with its day and time ('03 Nov 05:04:03'), pattern ``date_time``."""
    import pandas as pd

    return babel_dates.format_datetime(pd.Timestamp(ts).to_pydatetime(), _pattern_of(lang, "date_time", "dd MMM HH:mm:ss"),
                                       locale=locale(lang))


def cadence(text: str, lang: str = DEFAULT) -> str:
    """A registry cadence ('1h', '1d', '183d') in words ('1 hour', '1 día', '26 semanas')."""
    match = re.fullmatch(r"(\d+)\s*([mhdw])", str(text).strip())
    if match is None:
        return str(text)
    amount, unit = int(match[1]), match[2]
    delta = timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    return babel_dates.format_timedelta(delta, locale=locale(lang))


# --------------------------------------------------------------------------- charts
def plotly_config(lang: str = DEFAULT, **config) -> dict:
    """A dcc.Graph ``config`` whose Plotly locale is `lang`: month and day names, the decimal
    and thousands separators (so hover numbers and date axes follow the page language), and
    the mode-bar words from the catalogue's ``plotly`` mapping."""
    lang = valid_lang(lang)
    loc = locale(lang)
    months = babel_dates.get_month_names("wide", locale=loc)
    short_months = babel_dates.get_month_names("abbreviated", locale=loc)
    days = babel_dates.get_day_names("wide", locale=loc)
    short_days = babel_dates.get_day_names("abbreviated", locale=loc)
    order = [6, 0, 1, 2, 3, 4, 5]  # Babel counts from Monday, Plotly (d3) from Sunday
    name = str(loc).replace("_", "-").lower()
    fmt = {"days": [days[i] for i in order], "shortDays": [short_days[i] for i in order],
           "months": [months[i] for i in range(1, 13)], "shortMonths": [short_months[i] for i in range(1, 13)],
           "decimal": babel_numbers.get_decimal_symbol(loc), "thousands": babel_numbers.get_group_symbol(loc),
           "date": _pattern_of(lang, "plotly_date", "%d/%m/%Y")}
    dictionary = dict(catalogue(lang).get("plotly") or {})
    return {**config, "locale": name, "locales": {name: {"dictionary": dictionary, "format": fmt}}}
