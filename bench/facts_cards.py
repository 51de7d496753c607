"""Overview cards at a shift start: how many show a change, and how many show a status colour
that rests on fewer records than the metric's minimum (``min_n``).

    CITYOPS_VAR_DIR=/tmp/x CITYOPS_DEMO_DAYS=21 python -m data.demo --end 2026-12-01T06 --quiet --no-publish
    CITYOPS_VAR_DIR=/tmp/x python -m bench.facts_cards --now 2026-12-01T06:30

Publishes the warehouse in CITYOPS_VAR_DIR with the data clock at ``--now`` (unless
``--no-publish``), renders the ops overview cards (``callbacks.common.kpi_cards``, city, by
day) and prints one line per card and the totals.
"""
from __future__ import annotations

import argparse
from datetime import datetime

# for code from before the registry had min_n: the same defaults and declared values
DEFAULT_MIN_N = {"sum": 1, "level": 1, "ratio": 20, "median": 10, "mean": 10}
DECLARED_MIN_N = {"recycling_diversion_pct": 1, "pedestrians_per_count": 3}


def _min_n(metric) -> int:
    return getattr(metric, "min_n", None) or DECLARED_MIN_N.get(metric.id) or DEFAULT_MIN_N[metric.aggregate]


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)


def _text(component) -> str:
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, (str, int, float)):
        return str(children)
    items = children if isinstance(children, (list, tuple)) else [children]
    return "".join(c if isinstance(c, str) else _text(c) for c in items if c is not None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.facts_cards")
    parser.add_argument("--now", required=True, help="data clock of the publish, YYYY-MM-DDTHH:MM")
    parser.add_argument("--no-publish", action="store_true")
    parser.add_argument("--districts", action="store_true", help="also every district's profile cards")
    args = parser.parse_args()
    from data import access, publish, repository, snapshot, warehouse

    if not args.no_publish:
        con = warehouse.connect()
        try:
            publish.publish(con, now=datetime.fromisoformat(args.now))
        finally:
            con.close()
        snapshot.reset()
    from callbacks import common

    with access.system():
        metrics = common.available_metrics()
        cards = common.kpi_cards(metrics, district="city", grain="day")
        latest = repository.run("ops/facts_latest", grain="day", district="city").set_index("metric_id")
    with_change = coloured = coloured_small = 0
    for metric, card in zip(metrics, cards, strict=False):
        classes = card.className.split()
        status = next((c.split("--")[1] for c in classes if c.partition("--")[2] in ("ok", "warning", "bad")), "")
        change = next((_text(c) for c in _walk(card) if "kpi-change" in (getattr(c, "className", "") or "")), "")
        shows_change = "%" in change
        n = getattr(card, "data-n", None) if hasattr(card, "data-n") else None
        if n is None:  # cards from before data.facts carry no n: the n of the row they show
            n = int(latest.loc[metric.id, "n"]) if metric.id in latest.index else 0
        min_n = _min_n(metric)
        with_change += shows_change
        coloured += bool(status)
        coloured_small += bool(status) and int(n) < min_n
        print(f"{metric.id:36s} n={int(n):6d} min_n={min_n:3d} status={status or '-':8s} change={change!r}")
    print(f"overview cards {len(cards)}; showing a change {with_change}; with a status colour {coloured}; "
          f"status colour with n < min_n {coloured_small}")
    if args.districts:
        _district_profiles()


def _district_profiles() -> None:
    """Every district's profile cards: how many carry a status colour, and on how few records."""
    import app  # noqa: F401  (registers the pages the callbacks belong to)
    from callbacks.ops import district as profile
    from data import access, lookups, repository

    with access.system():
        names = lookups.district_names()
        times = lookups.table_times()
        shown = coloured = small = 0
        for district in sorted(d for d in names if d != "city"):
            _title, cards, _summary = profile.district_profile(district)
            for card in cards:
                metric_id = getattr(card, "data-metric", None)
                classes = card.className.split()
                status = next((c.partition("--")[2] for c in classes
                               if c.partition("--")[2] in ("ok", "warning", "bad")), "")
                n = getattr(card, "data-n", None) if hasattr(card, "data-n") else None
                if n is None:  # before data.facts: the n of the newest row before the newest day
                    from data import registry

                    metric = registry.get(metric_id)
                    newest = times.get(metric.table, (None, False))[0]
                    grain = lookups.valid_grain("day", metric)
                    end = datetime.combine(newest.date(), datetime.min.time()) if grain == "day" else datetime(2200, 1, 1)
                    rows = repository.run("ops/metric_series", metric=metric_id, grain=grain, districts=[district],
                                          start=datetime(2000, 1, 1), end=end)
                    n = int(rows["n"].iloc[-1]) if not rows.empty else 0
                metric = lookups.valid_metric(metric_id)
                min_n = _min_n(metric)
                shown += 1
                coloured += bool(status)
                small += bool(status) and int(n) < min_n
    print(f"district profile cards {shown} in {len(names) - 1} districts; with a status colour {coloured}; "
          f"status colour with n < min_n {small}")


if __name__ == "__main__":
    main()
