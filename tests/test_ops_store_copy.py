"""`python -m data.ops_store copy --from sqlite:///… --to postgresql://…`: a city moving its ops
store to PostgreSQL. On a real PostgreSQL server (tests/pg_server.py): every row of a populated
SQLite store (users, sessions, device tokens, annotations and their audit, alert episodes with
their transitions and events) arrives unchanged; a session signed in on SQLite still works
against the copy; new rows get ids after the copied ones (sequences reset); a target holding
rows is refused unless --force."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from data import access, annotations, ops_store, users

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _rows(store_url: str) -> dict[str, list]:
    engine = sa.create_engine(store_url)
    try:
        meta = sa.MetaData()
        meta.reflect(bind=engine)
        with engine.connect() as con:
            return {t.name: sorted(tuple(r) for r in con.execute(sa.select(t)))
                    for t in meta.sorted_tables if t.name != "alembic_version"}
    finally:
        engine.dispose()


def _populate() -> str:
    users.add("chief", "a-long-enough-password-1", "admin")
    users.add("official", "a-long-enough-password-2", "official", "D01")
    sid = users.open_session("user", "chief")
    users.add_token("lobby-wall")
    for i in range(3):
        annotations.add(created_by="chief", title=f"Road works {i}", kind="event", starts_at=NOW - timedelta(days=i + 1),
                        ends_at=NOW - timedelta(days=i), scope=access.ALL, now=NOW)
    with ops_store.connect() as con:
        for i in range(2):
            con.execute("INSERT INTO alert_episodes (metric_id, district_id, rule, severity, state, opened_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)", (f"m{i}", "D01", "target", "bad", "open", NOW.isoformat(), NOW.isoformat()))
        con.execute("INSERT INTO alert_transitions (episode_id, at, actor, from_state, to_state) VALUES (?, ?, ?, ?, ?)",
                    (1, NOW.isoformat(), "chief", "open", "acknowledged"))
        con.execute("INSERT INTO alert_events (episode_id, at, kind, payload) VALUES (?, ?, ?, ?)",
                    (2, NOW.isoformat(), "opened", "{}"))
    return sid


def test_copy_moves_every_row_to_postgresql_and_a_session_still_works(postgres_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CITYOPS_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("CITYOPS_OPS_URL", raising=False)
    sid = _populate()
    source = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    before = _rows(source)
    assert all(before[t] for t in ("users", "sessions", "device_tokens", "annotations", "annotation_audit",
                                   "alert_episodes", "alert_transitions", "alert_events"))
    target = postgres_server.create_database("cityops_copy_target")
    plain = target.replace("postgresql+psycopg://", "postgresql://")  # the URL as a city would write it

    assert ops_store.main(["copy", "--from", source, "--to", plain]) == 0
    printed = capsys.readouterr().out
    assert f"annotations {len(before['annotations']):>9,} rows".replace(" ", "") in printed.replace(" ", "")

    after = _rows(target)
    for table, rows in before.items():
        assert after[table] == rows, table  # every row, every value

    monkeypatch.setenv("CITYOPS_OPS_URL", target)
    try:
        assert users.session("user", sid) == ("chief", 0)  # signed in before the move, still signed in
        assert users.authenticate("official", "a-long-enough-password-2") is not None
        new_id = annotations.add(created_by="chief", title="After the move", kind="event",
                                 starts_at=NOW, ends_at=NOW + timedelta(hours=1), scope=access.ALL, now=NOW)
        assert new_id > max(r[0] for r in before["annotations"])  # the sequence continues after the copied ids
    finally:
        ops_store.dispose()

    # a target holding rows is refused, and left as it was; --force replaces its rows
    assert ops_store.main(["copy", "--from", source, "--to", target]) == 2
    assert "refused" in capsys.readouterr().out
    assert len(_rows(target)["annotations"]) == len(before["annotations"]) + 1
    assert ops_store.main(["copy", "--from", source, "--to", target, "--force"]) == 0
    assert _rows(target)["annotations"] == before["annotations"]
