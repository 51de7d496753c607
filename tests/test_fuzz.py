"""The callback fuzzer (bench/fuzz.py) with fewer payloads: random, wrong-type, oversized and
relabelled POSTs to every server callback as four callers. No 500, no traceback, no row of a
district outside the official's scope. `python -m bench.fuzz` runs >= 1,000 per callback."""
from __future__ import annotations

import logging

from bench import fuzz
from tests.conftest import ADMIN, signed_in

PER_CALLBACK = 40


def test_fuzzing_every_callback_gives_no_500_no_traceback_no_out_of_scope_rows(dash_app, accounts, caplog):
    caplog.set_level(logging.CRITICAL)
    wall = dash_app.server.test_client()
    wall.get("/wall?token=" + accounts["wall-token"])
    clients = {"anonymous": dash_app.server.test_client(), "wall": wall,
               "official": signed_in(dash_app, "test-official", "official-password-1"),
               "admin": signed_in(dash_app, *ADMIN)}
    results = fuzz.fuzz(dash_app, clients, PER_CALLBACK, seed=3)
    print({caller: dict(stats) for caller, stats in results.items()})
    for caller, stats in results.items():
        assert stats["callbacks"] >= 10
        assert stats["requests"] == stats["callbacks"] * PER_CALLBACK
        assert stats["500s"] == 0 and stats["tracebacks"] == 0, (caller, dict(stats))
        assert stats["out-of-scope rows"] == 0, (caller, dict(stats))
    # the fuzzer reached the callbacks (not only the payload checks) for signed-in callers
    assert results["admin"]["status 200"] > 0
    assert results["anonymous"]["status 401"] > 0


def test_out_of_scope_detector_finds_rows_and_valued_map_locations():
    assert fuzz.out_of_scope({"rowData": [{"district_id": "102"}, {"district_id": "101"}]}) == ["102"]
    trace = {"type": "choroplethmap", "locations": ["101", "205"], "z": [1, 2], "hovertemplate": "%{z}"}
    assert fuzz.out_of_scope({"data": [trace]}) == ["205"]
    outline = {**trace, "hovertemplate": None}
    assert fuzz.out_of_scope({"data": [outline]}) == []
