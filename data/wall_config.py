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


def parse_config(params: dict, profile: str | None = None) -> tuple[dict, list[str]]:
    """URL parameters (and an optional profile name) → (config, notices). Never raises.
    Notices come in the order of the steps: profile, metrics, views, refresh, rotation,
    nightly, screen, failures, hold."""
    notices: list[str] = []
    base, profile = _profile(profile, notices)
    merged = {**base, **{k: v for k, v in params.items() if v is not None and v != ""}}
    # metrics first: they decide which views have anything to show
    chosen_metrics = _metrics(merged, notices)
    available = {d for d in registry.DOMAINS
                 if any(m.domain == d and (not chosen_metrics or m.id in chosen_metrics)
                        for m in registry.metrics().values())}
    views = _views(merged, available, notices)
    refresh = _refresh(merged, params, notices)
    views, rotate = _rotation(merged, views, available, notices)
    nightly = _matching(merged, "nightly", lambda v: bool(_HHMM.match(v)), "bad nightly {}, no nightly reload", notices)
    screen = _matching(merged, "screen", lambda v: bool(_NAME.match(v)) and len(v) >= 3, "bad screen name {}", notices)
    failures = _optional_number(merged, "failures", FAILURES_RANGE, RELOAD_AFTER_FAILURES,
                                 f"bad failures {{}}, reloading after {RELOAD_AFTER_FAILURES}", notices)
    default_hold = int(settings.get("wall_hold_max_s"))
    hold = _optional_number(merged, "hold", HOLD_RANGE, default_hold,
                             f"bad hold {{}}, holding at most {default_hold} s", notices, zero_ok=True)
    title = base.get("title") if isinstance(base.get("title"), str) else ""
    config = {"views": views, "rotate": rotate, "refresh": refresh, "metrics": chosen_metrics,
              "nightly": nightly, "profile": profile or "", "screen": screen, "title": title[:60],
              "build": BUILD, "scheme": SCHEME, "max_failures": failures, "hold": hold}
    return config, notices


def _profile(profile, notices: list[str]) -> tuple[dict, str | None]:
    """The named profile's settings (URL parameters override them) and its name, or none."""
    if profile is None:
        return {}, None
    profiles = load_profiles()
    if isinstance(profile, str) and profile in profiles:
        return dict(profiles[profile]), profile
    notices.append(f"unknown profile {_short(profile)}, showing the default wall")
    return {}, None


def _metrics(merged: dict, notices: list[str]) -> list[str]:
    """The known metrics asked for, in order, at most MAX_METRICS (none: every metric)."""
    if "metrics" not in merged:
        return []
    wanted = _split(merged["metrics"])
    bad = [m for m in wanted if registry.get(m) is None]
    if bad:
        notices.append(f"unknown metric {_short(bad[0])}" + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""))
    return [m for m in dict.fromkeys(wanted) if registry.get(m) is not None][:MAX_METRICS]


def _views(merged: dict, available: set[str], notices: list[str]) -> list[str]:
    """The known views asked for that have something to show, else 'all'."""
    wanted_views = _split(merged.get("view")) if "view" in merged else []
    views = [v for v in dict.fromkeys(wanted_views) if v in VIEWS and (v == "all" or v in available)]
    if len(views) < len(wanted_views):
        bad = [v for v in wanted_views if v not in views]
        notices.append(f"unknown view {_short(bad[0])}, showing {'all' if not views else ', '.join(views)}")
    return views or ["all"]


def _refresh(merged: dict, params: dict, notices: list[str]) -> int:
    default_refresh = int(settings.get("wall_refresh_s"))
    try:
        refresh = _whole_number(merged["refresh"], *REFRESH_RANGE) if "refresh" in merged else default_refresh
    except (TypeError, ValueError):
        notices.append(f"bad refresh {_short(merged['refresh'])}, using {default_refresh} s")
        refresh = default_refresh
    # The soak benchmark needs 1 s refreshes; only with an explicit soak=1 (never a profile).
    if params.get("soak") == "1" and str(params.get("refresh")) == "1":
        refresh = 1
    return refresh


def _rotation(merged: dict, views: list[str], available: set[str], notices: list[str]) -> tuple[list[str], int]:
    """The views to rotate through and the dwell in seconds (0: no rotation). Several views
    and no dwell rotate every 30 s; a dwell with one view rotates through every domain with
    something to show, starting there."""
    rotate = 0
    if "rotate" in merged:
        try:
            rotate = _whole_number(merged["rotate"], *ROTATE_RANGE, zero_ok=True)
        except (TypeError, ValueError):
            notices.append(f"bad rotate {_short(merged['rotate'])}, not rotating")
    if not rotate and "rotate" not in merged and len(views) > 1:
        rotate = 30
    if rotate and len(views) == 1:
        domains = [d for d in registry.DOMAINS if d in available]
        start = domains.index(views[0]) if views[0] in domains else 0
        views = domains[start:] + domains[:start]
    views = [v for v in views if v != "all"] if rotate and len(views) > 1 else views
    if rotate and len(views) < 2:
        notices.append("only one view to show, not rotating")
        rotate = 0
    return views, rotate


def _matching(merged: dict, key: str, ok, notice: str, notices: list[str]) -> str:
    """A string setting that passes `ok`, else "" (with the notice when one was given)."""
    value = merged.get(key)
    if not value:
        return ""
    if isinstance(value, str) and ok(value):
        return value
    notices.append(notice.format(_short(value)))
    return ""


def _optional_number(merged: dict, key: str, bounds: tuple[int, int], default: int, notice: str,
                      notices: list[str], *, zero_ok: bool = False) -> int:
    """A count within `bounds` (0 too when zero_ok), else the default (with the notice when one
    was given)."""
    if merged.get(key) in (None, ""):
        return default
    try:
        return _whole_number(merged[key], *bounds, zero_ok=zero_ok)
    except (TypeError, ValueError):
        notices.append(notice.format(_short(merged[key])))
        return default


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


