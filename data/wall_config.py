"""The wall's configuration: URL parameters and named profiles (``data/wall_profiles.yaml``)
→ a validated config, and the build/scheme identifiers open screens reload on.

Used by the wall page (``layouts/ops/wall.py``) to render and by its callbacks
(``callbacks/ops/wall.py``) to re-validate what a client posts back (any client can POST
anything); it lives in ``data/`` so callbacks never import a page module. Never raises on
input: unknown or bad values fall back to defaults with a notice.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from data import registry, settings

ROOT = Path(__file__).resolve().parent.parent
PROFILES_FILE = ROOT / "data" / "wall_profiles.yaml"
VIEWS = ("all", *registry.DOMAINS)
REFRESH_RANGE = (5, 3600)   # seconds (1 s is allowed only by the soak benchmark's ?refresh=1&soak=1)
ROTATE_RANGE = (10, 3600)   # seconds; 0 = no rotation
MAX_METRICS = 24
RELOAD_AFTER_FAILURES = 10  # consecutive failed refreshes before the page reloads itself (?failures=)
FAILURES_RANGE = (2, 100)
HOLD_RANGE = (10, 3600)     # seconds rotation may hold on an open critical alert; 0 = never hold
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _digest(parts) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()[:12]


def _build_id() -> str:
    """Changes when the code or assets the wall runs change: open screens then reload."""
    files = sorted(p for folder in ("assets", "layouts", "callbacks") for p in (ROOT / folder).rglob("*")
                   if p.is_file() and p.suffix in {".py", ".js", ".css"})
    return _digest(p.read_bytes() for p in files)


BUILD = _build_id()
# The data scheme the wall's layout is built for: the metric set and how it is shown. A change
# (metric added or removed, unit or domain changed) makes open screens reload.
SCHEME = _digest(f"{m.id}:{m.domain}:{m.unit}:{m.format}" for m in registry.metrics().values())


def load_profiles(path: Path | None = None) -> dict[str, dict]:
    """Named profiles; a broken file gives no profiles (and the wall says so), never a crash."""
    try:
        data = yaml.safe_load((path or PROFILES_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and _NAME.match(k) and isinstance(v, dict)}


def _short(value) -> str:
    """A bad value echoed in a notice: printable characters only, at most 20."""
    return "'" + "".join(c for c in str(value)[:20] if c.isprintable()) + "'"


def _split(value) -> list:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value][:50]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()][:50]
    return []


def _whole_number(value, low: int, high: int, *, zero_ok: bool = False) -> int:
    """A whole number in [low, high] (or 0 when `zero_ok`) from a URL value or a profile
    entry, else ValueError: the seconds of refresh, rotate and hold, the count of failures."""
    if isinstance(value, bool):
        raise ValueError
    number = int(str(value).strip()) if not isinstance(value, int) else value
    if zero_ok and number == 0:
        return 0
    if not low <= number <= high:
        raise ValueError
    return number


def parse_config(params: dict, profile: str | None = None) -> tuple[dict, list[str]]:  # noqa: C901 - one pass over a declaration or a run; to split (issue 18)
    """URL parameters (and an optional profile name) → (config, notices). Never raises."""
    notices: list[str] = []
    base: dict = {}
    if profile is not None:
        profiles = load_profiles()
        if isinstance(profile, str) and profile in profiles:
            base = dict(profiles[profile])
        else:
            notices.append(f"unknown profile {_short(profile)}, showing the default wall")
            profile = None
    merged = {**base, **{k: v for k, v in params.items() if v is not None and v != ""}}
    default_refresh = int(settings.get("wall_refresh_s"))

    # metrics first: they decide which views have anything to show
    chosen_metrics: list[str] = []
    if "metrics" in merged:
        wanted = _split(merged["metrics"])
        chosen_metrics = [m for m in dict.fromkeys(wanted) if registry.get(m) is not None][:MAX_METRICS]
        bad = [m for m in wanted if registry.get(m) is None]
        if bad:
            notices.append(f"unknown metric {_short(bad[0])}" + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""))
    available = {d for d in registry.DOMAINS
                 if any(m.domain == d and (not chosen_metrics or m.id in chosen_metrics)
                        for m in registry.metrics().values())}

    wanted_views = _split(merged.get("view")) if "view" in merged else []
    views = [v for v in dict.fromkeys(wanted_views) if v in VIEWS and (v == "all" or v in available)]
    if len(views) < len(wanted_views):
        bad = [v for v in wanted_views if v not in views]
        notices.append(f"unknown view {_short(bad[0])}, showing {'all' if not views else ', '.join(views)}")
    if not views:
        views = ["all"]

    try:
        refresh = _whole_number(merged["refresh"], *REFRESH_RANGE) if "refresh" in merged else default_refresh
    except (TypeError, ValueError):
        notices.append(f"bad refresh {_short(merged['refresh'])}, using {default_refresh} s")
        refresh = default_refresh
    # The soak benchmark needs 1 s refreshes; only with an explicit soak=1 (never a profile).
    if params.get("soak") == "1" and str(params.get("refresh")) == "1":
        refresh = 1

    rotate = 0
    if "rotate" in merged:
        try:
            rotate = _whole_number(merged["rotate"], *ROTATE_RANGE, zero_ok=True)
        except (TypeError, ValueError):
            notices.append(f"bad rotate {_short(merged['rotate'])}, not rotating")
    if not rotate and "rotate" not in merged and len(views) > 1:
        rotate = 30  # several views and no dwell given: rotate every 30 s
    if rotate and len(views) == 1:
        # rotate through every domain that has something to show, starting with the chosen view
        domains = [d for d in registry.DOMAINS if d in available]
        start = domains.index(views[0]) if views[0] in domains else 0
        views = domains[start:] + domains[:start]
    views = [v for v in views if v != "all"] if rotate and len(views) > 1 else views
    if rotate and len(views) < 2:
        notices.append("only one view to show, not rotating")
        rotate = 0

    nightly = ""
    if merged.get("nightly"):
        if isinstance(merged["nightly"], str) and _HHMM.match(merged["nightly"]):
            nightly = merged["nightly"]
        else:
            notices.append(f"bad nightly {_short(merged['nightly'])}, no nightly reload")

    screen = ""
    if merged.get("screen"):
        if isinstance(merged["screen"], str) and _NAME.match(merged["screen"]) and len(merged["screen"]) >= 3:
            screen = merged["screen"]
        else:
            notices.append(f"bad screen name {_short(merged['screen'])}")

    failures = RELOAD_AFTER_FAILURES
    if merged.get("failures") not in (None, ""):
        try:
            failures = _whole_number(merged["failures"], *FAILURES_RANGE)
        except (TypeError, ValueError):
            notices.append(f"bad failures {_short(merged['failures'])}, reloading after {RELOAD_AFTER_FAILURES}")

    default_hold = int(settings.get("wall_hold_max_s"))
    hold = default_hold
    if merged.get("hold") not in (None, ""):
        try:
            hold = _whole_number(merged["hold"], *HOLD_RANGE, zero_ok=True)
        except (TypeError, ValueError):
            notices.append(f"bad hold {_short(merged['hold'])}, holding at most {default_hold} s")

    title = base.get("title") if isinstance(base.get("title"), str) else ""
    config = {"views": views, "rotate": rotate, "refresh": refresh, "metrics": chosen_metrics,
              "nightly": nightly, "profile": profile or "", "screen": screen, "title": title[:60],
              "build": BUILD, "scheme": SCHEME, "max_failures": failures, "hold": hold}
    return config, notices


def valid_config(value) -> dict:
    """A config posted back by a client, re-validated (defaults for anything odd)."""
    if not isinstance(value, dict):
        return parse_config({})[0]
    params = {"view": ",".join(v for v in value.get("views", []) if isinstance(v, str))
              if isinstance(value.get("views"), list) else None,
              "rotate": value.get("rotate") if isinstance(value.get("rotate"), int) else None,
              "refresh": value.get("refresh") if isinstance(value.get("refresh"), int) else None,
              "metrics": [m for m in value.get("metrics", []) if isinstance(m, str)][:MAX_METRICS]
              if isinstance(value.get("metrics"), list) else None,
              "screen": value.get("screen") if isinstance(value.get("screen"), str) else None,
              "failures": value.get("max_failures") if isinstance(value.get("max_failures"), int) else None,
              "hold": value.get("hold") if isinstance(value.get("hold"), int) else None}
    if value.get("refresh") == 1:
        params.update(refresh="1", soak="1")
    profile = value.get("profile")
    known = isinstance(profile, str) and profile in load_profiles()
    config, _ = parse_config(params, profile if known else None)
    return config


def view_metrics(view: str, config: dict) -> list:
    """The metrics shown for one view of a (validated) config."""
    chosen = config.get("metrics") or []
    metrics = [m for m in registry.metrics().values() if view == "all" or m.domain == view]
    if chosen:
        metrics = [m for m in metrics if m.id in chosen]
    return metrics


def view_title(view: str) -> str:
    return "City operations" if view == "all" else registry.DOMAIN_LABELS.get(view, "City operations")


