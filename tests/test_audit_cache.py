"""The release auditor's answers kept between publishes (data/audit_cache.py)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from data import audit_cache, privacy, registry

K = 10


def _audit(store, width=K - 1, districts=(3, 40, 55, 70)):
    rows = [("m", "week", "2026-03-02", f"d{i}", n) for i, n in enumerate(districts)]
    rows += [("m", "week", "2026-03-02", "city", sum(districts))]
    cells = pd.DataFrame(rows, columns=["metric_id", "grain", "period", "district_id", "n"])
    cells["period"] = pd.to_datetime(cells["period"])
    cells = cells.assign(value=cells["n"].astype(float), numerator=np.nan, denominator=np.nan)
    metrics = {"m": replace(registry.metrics()["sr_opened"], id="m", aggregate="sum")}
    qcells, _links = privacy.quantity_cells(cells, metrics)
    primary = privacy.primary_quantities(qcells, K)
    return privacy.audit_release(qcells, metrics, k=K, width=width, primary=primary, start=primary,
                                 frozen=np.zeros(len(qcells), bool), store=store)


@pytest.fixture
def fresh_memory():
    privacy._BLOCKS.clear()
    privacy._FAILED.clear()
    yield
    privacy._BLOCKS.clear()
    privacy._FAILED.clear()


def test_a_new_process_takes_a_block_answered_before_from_the_store(tmp_path, monkeypatch, fresh_memory):
    store = audit_cache.Store(tmp_path / "audit")
    first, _ = _audit(store)
    assert first.sum() >= 2  # the small district and a complement
    privacy._BLOCKS.clear()  # as a new process would start

    def unsolvable(*_args, **_kwargs):
        raise AssertionError("the block was solved again")

    monkeypatch.setattr(privacy, "_protect_block", unsolvable)
    again, failures = _audit(store)
    assert np.array_equal(first, again) and failures == []


def test_late_data_in_a_block_is_audited_again_not_answered_from_the_store(tmp_path, monkeypatch, fresh_memory):
    """One late request in one district (40 -> 41, city 168 -> 169) changes the block: the kept
    answer was for other true figures, so it must not decide this release."""
    store = audit_cache.Store(tmp_path / "audit")
    _audit(store)
    privacy._BLOCKS.clear()
    solved = []
    protect = privacy._protect_block

    def counting(*args, **kwargs):
        solved.append(1)
        return protect(*args, **kwargs)

    monkeypatch.setattr(privacy, "_protect_block", counting)
    late, _ = _audit(store, districts=(3, 41, 55, 70))
    assert solved, "a block with changed true figures was answered from the store"
    assert late.sum() >= 2


def test_another_width_is_another_block(tmp_path, fresh_memory):
    store = audit_cache.Store(tmp_path / "audit")
    _audit(store)
    _audit(store, width=K + 5)
    assert len(list((tmp_path / "audit").glob("*.npz"))) == 2


def test_an_unreadable_answer_is_ignored(tmp_path):
    store = audit_cache.Store(tmp_path)
    (tmp_path / "abc.npz").write_bytes(b"not a zip")
    assert store.get("abc") is None
    store.put("abc", np.array([True, False]), [{"block": "2026-03"}])
    mask, failures = store.get("abc")
    assert mask.tolist() == [True, False] and failures == [{"block": "2026-03"}]
