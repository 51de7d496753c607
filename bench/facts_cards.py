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

DEFAULT_MIN_N = {"sum": 1, "level": 1, "ratio": 20, "median": 10, "mean": 10}


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
    args = parser.parse_args()
    from data import access, publish, registry, repository, snapshot, warehouse

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
        latest = repository.run("ops/latest_values", grain="day", district="city").set_index("metric_id")
    with_change = coloured = coloured_small = 0
    for metric, card in zip(metrics, cards):
        classes = card.className.split()
        status = next((c.split("--")[1] for c in classes if c.partition("--")[2] in ("ok", "warning", "bad")), "")
        change = next((_text(c) for c in _walk(card) if "kpi-change" in (getattr(c, "className", "") or "")), "")
        shows_change = "%" in change
        n = getattr(card, "data-n", None) if hasattr(card, "data-n") else None
        if n is None:  # cards from before data.facts carry no n: the n of the row they show
            n = int(latest.loc[metric.id, "n"]) if metric.id in latest.index else 0
        min_n = getattr(metric, "min_n", None) or DEFAULT_MIN_N[metric.aggregate]
        with_change += shows_change
        coloured += bool(status)
        coloured_small += bool(status) and int(n) < min_n
        print(f"{metric.id:36s} n={int(n):6d} min_n={min_n:3d} status={status or '-':8s} change={change!r}")
    print(f"cards {len(cards)}; showing a change {with_change}; with a status colour {coloured}; "
          f"status colour with n < min_n {coloured_small}")


if __name__ == "__main__":
    main()
