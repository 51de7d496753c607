"""Find English left on a page that should be in another language.

The English vocabulary is every word of the English catalogue (data/i18n/en.yaml: the UI), of
the metric registry (labels, units, descriptions, methods, known issues, cadences), the words
Dash, Plotly and the shell print, and the English month and day names — less every word the
other language's catalogue and the metrics' texts in that language (their headers) also use
("total", "no", "mediana" are words of both) and an allow-list of proper nouns and units: district and borough names, source
names, product names and the unit symbols. A Spanish page's text is split into words; any
word of that vocabulary is English left untranslated."""
from __future__ import annotations

import re

import yaml

from data import i18n, registry

WORD = re.compile(r"[A-Za-zÀ-ÿ]{3,}")
# the shell, Dash, Plotly's mode bar and a few everyday words no catalogue may hold
EXTRA = """sign signed out screen public dashboard loading updating data
    the and of to in for from with by on at is are be was were this that these those it its
    not than fewer more less week weeks month months day days year years hour hours records
    record withheld privacy table chart value values district districts city whole latest
    download downloads source sources metric metrics measure unit target warning trend
    highest lowest period periods report reports request requests open closed method
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday jan feb mar apr jun jul aug sep
    oct nov dec mon tue wed thu fri sat sun reset axes autoscale zoom pan select produced
    previous next back home page found unknown invalid show shown hide read""".split()
# proper nouns, products and units (shown as they are in every language)
ALLOW = {"cityops", "api", "json", "openapi", "csv", "parquet", "excel", "highs", "plotly", "student",
         "nyc", "new", "york", "mta", "dot", "gbfs", "cd", "demo", "sla", "ci", "null", "true", "false",
         "suppressed", "kpi", "png", "svg", "url", "http", "https", "www", "com", "org"}


def _words(text) -> set[str]:
    return {w.casefold() for w in WORD.findall(str(text))}


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [str(node)] if node is not None else []


def vocabulary(lang: str = "es", allow: set[str] = frozenset()) -> set[str]:
    """English words that must not appear on a `lang` page (see the module docstring)."""
    english = _words(" ".join(_strings(i18n.catalogue("en"))))
    for metric in registry.metrics().values():
        english |= _words(" ".join([metric.label, metric.unit, metric.description, metric.method,
                                    metric.known_issues, metric.cadence_text]))
    english |= set(EXTRA)
    other = yaml.safe_load((i18n.FOLDER / f"{lang}.yaml").read_text(encoding="utf-8"))
    theirs = _words(" ".join(_strings(other)))
    for metric in registry.metrics().values():  # the metrics' own texts in that language (their headers)
        theirs |= _words(" ".join(metric.translations.get(lang, {}).values()))
    from babel import dates

    loc = i18n.locale(lang)  # the locale's own month and day names ("oct", "mar" are Spanish too)
    names: set[str] = set()
    for width in ("wide", "abbreviated"):
        names |= _words(" ".join(dates.get_month_names(width, locale=loc).values()))
        names |= _words(" ".join(dates.get_day_names(width, locale=loc).values()))
    theirs |= names
    allowed = {w.casefold() for text in allow for w in WORD.findall(str(text))} | ALLOW
    # the everyday words above are English even where the other catalogue quotes them ("304 Not
    # Modified"): only the locale's own month and day names and the allow-list excuse them
    return {w for w in ((english - theirs) | (set(EXTRA) - names)) - allowed if w.isascii()}


def english_in(text: str, vocab: set[str]) -> list[str]:
    """The English words of `text` (in order, each once)."""
    seen: list[str] = []
    for word in WORD.findall(text):
        w = word.casefold()
        if w in vocab and w not in seen:
            seen.append(w)
    return seen


def proper_nouns(db: str = "public") -> set[str]:
    """District and borough names, the published source names and the titles of approved public
    annotations (an official's own words, in the language they wrote them) of the public snapshot."""
    import duckdb

    from data import lookups, repository, snapshot

    names = set()
    frame = lookups.districts(db)
    names |= set(frame["name"].astype(str)) | set(frame.get("borough", frame["name"]).astype(str))
    sources = repository.run("public/metrics")
    for column in ("source_name", "source", "licence"):
        if column in sources:
            names |= set(sources[column].dropna().astype(str))
    try:
        with snapshot.cursor(db) as (cur, _version):
            names |= {str(row[0]) for row in cur.execute("SELECT title FROM public_annotations").fetchall()}
    except duckdb.Error:  # a snapshot from before public annotations
        pass
    return names
