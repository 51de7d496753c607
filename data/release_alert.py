"""An alert episode for the operators when the site falls back to an older release (issue 20
item 6): the CURRENT pointer names a release whose file is damaged or missing, so web workers
serve the previous good one (data/snapshot.py). One episode (metric ``published_release``,
district ``city``, rule ``release``, critical) while it lasts; it resolves itself when the
release the pointer names opens again (a repaired file, or the next good publish).

:func:`check` is called by the writer after every publish (data/publish.py) and, in a
background thread, by an ops web worker the moment it starts or stops falling back
(data/snapshot.py calls the listener this module registers with ``snapshot.on_fallback``),
so the operators hear of it without waiting for the next publish. The public process never
calls it (it must not reach the ops store). It never raises: a failed
check is logged, and serving goes on.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from data import snapshot

log = logging.getLogger(__name__)

METRIC_ID = "published_release"
RULE = "release"
DISTRICT = "city"
LABEL = "Published data release"
_busy = threading.Lock()


def detection(problems: list[str], version: str | None) -> dict:
    """The detection data/episodes.record takes: firing while the current release fails to
    open, clear once it opens."""
    firing = bool(problems)
    message = ("The site is serving an older release: " + " ".join(problems)) if firing \
        else f"The current release {version or ''} opens again; the site serves it.".replace("  ", " ")
    return {"metric_id": METRIC_ID, "district_id": DISTRICT, "rule": RULE,
            "status": "firing" if firing else "clear", "severity": "critical", "grain": None, "period": None,
            "value": None, "n": None, "message": message}


def check(now: datetime | None = None) -> list[dict]:
    """Compare the current release with what opens on disk and open or resolve the episode.
    Returns the episode changes (empty when nothing changed or the check failed)."""
    from data import access, episodes, releases, settings

    if settings.mode() == "public":
        return []  # the public process never touches the ops store
    try:
        problems = snapshot.health()
        pointer = releases.read_pointer()
        version = str(pointer["version"]) if pointer else None
        with access.system():
            if not problems and episodes.live_episode(METRIC_ID, DISTRICT, RULE) is None:
                return []
            changes = episodes.record([detection(problems, version)], now=now, version=version)
        for change in changes:
            log.warning("release alert %s (episode %s)", change["action"], change["episode_id"])
        return changes
    except Exception:
        log.exception("could not record the release alert")
        return []


def check_soon() -> None:
    """:func:`check` in a background thread (web workers: never inside a request's lock);
    at most one at a time per process."""
    from data import settings

    if settings.mode() == "public" or not _busy.acquire(blocking=False):
        return

    def run():
        try:
            check()
        finally:
            _busy.release()

    threading.Thread(target=run, name="release-alert", daemon=True).start()


snapshot.on_fallback(check_soon)  # any process that can record the alert hears of a fallback
