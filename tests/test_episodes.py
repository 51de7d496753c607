"""Alert episodes: one episode per metric x district x rule, its lifecycle and audit trail.

The lifecycle is attacked as a hypothesis state machine: detector runs (firing, pending,
recovering, clear) interleaved with operators of different roles acknowledging, snoozing,
assigning, noting and resolving; after every step the store must agree with a simple model.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from data import access, episodes, ops_store

pytestmark = pytest.mark.ops_store  # every test here runs on SQLite and on PostgreSQL

T0 = datetime(2026, 11, 2, 6, 0)
KEYS = (("sr_opened", "101", "anomaly"), ("sr_opened", "102", "anomaly"), ("parking_occupancy_pct", "city", "forecast"),
        ("sr_opened", "101", "threshold"))
ADMIN = access.Principal("user", "ada", "admin", access.ALL)
OFFICIAL = access.Principal("user", "olu", "official", frozenset({"101"}))
ANALYST = access.Principal("user", "ana", "analyst", access.ALL)
DEVICE = access.Principal("device", "wall-1", "device", access.ALL)
PEOPLE = (ADMIN, OFFICIAL, ANALYST, DEVICE, None)


def _wipe():
    with ops_store.connect() as con:
        for table in ("alert_events", "alert_transitions", "alert_episodes"):
            con.execute(f"DELETE FROM {table}")


def _allowed(principal, district_id) -> bool:
    if principal is None or principal.role not in ("admin", "official", "system"):
        return False
    return principal.districts == access.ALL or (district_id != "city" and district_id in principal.districts)


REOPEN = timedelta(hours=2)


def _detection(key, status, period, severity="warning", first=None, value=10.0, n=40):
    return {"metric_id": key[0], "district_id": key[1], "rule": key[2], "status": status, "severity": severity,
            "grain": "hour", "period": period, "first_period": first or period, "value": value, "n": n,
            "reopen_within": REOPEN,
            "expected": 4.0, "lower": 1.0, "upper": 8.0, "target": None, "message": f"{key} {status}"}


def _live_rows():
    with ops_store.connect() as con:
        return con.execute("SELECT metric_id, district_id, rule, count(*) FROM alert_episodes "
                           "WHERE state != 'resolved' GROUP BY 1, 2, 3").fetchall()


class Lifecycle(RuleBasedStateMachine):
    @initialize()
    def start(self):
        _wipe()
        self.now = T0
        self.model = {}        # key -> {"id", "state", "severity"} of the latest episode
        self.transitions = {}  # episode id -> expected number of transitions
        self.breach_start = {}  # key -> first period of the current out-of-band run

    def _tick(self):
        self.now += timedelta(hours=1)
        return self.now

    @rule(key=st.sampled_from(KEYS), severity=st.sampled_from(episodes.SEVERITIES), repeat=st.integers(1, 3))
    def firing(self, key, severity, repeat):
        period = self._tick()
        first = self.breach_start.setdefault(key, period)
        with access.system():
            for _ in range(repeat):  # many publishes of the same period: one episode, not three
                episodes.record([_detection(key, "firing", period, severity, first)], now=period, version="v")
        m = self.model.get(key)
        if m is None or m["state"] == "resolved":
            if m is not None and m["by_hand"] and first <= m["last_period"]:
                pass  # resolved by hand during this run: stays resolved
            elif m is not None and not m["by_hand"] and first <= m["last_period"] + REOPEN:
                m.update(state="open", last_period=period, severity=severity)  # flapping: reopened
                self.transitions[m["id"]] += 1
            else:
                row = episodes.list_episodes(("open",)).query(
                    "metric_id == @key[0] and district_id == @key[1] and rule == @key[2]")
                assert len(row) == 1
                self.model[key] = {"id": int(row["id"].iloc[0]), "state": "open", "severity": severity,
                                   "last_period": period, "by_hand": False}
                self.transitions[self.model[key]["id"]] = 1
        else:
            if m["state"] == "snoozed" and m["until"] <= period:
                m["state"] = "open"
                self.transitions[m["id"]] += 1
            if m["severity"] == "warning" and severity == "critical":
                m["severity"] = "critical"
                self.transitions[m["id"]] += 1
            m["last_period"] = period

    @rule(key=st.sampled_from(KEYS), status=st.sampled_from(("pending", "recovering", "clear")))
    def not_firing(self, key, status):
        period = self._tick()
        if status != "pending":
            self.breach_start.pop(key, None)
        with access.system():
            episodes.record([_detection(key, status, period)], now=period, version="v")
        m = self.model.get(key)
        if status == "clear" and m is not None and m["state"] != "resolved":
            m.update(state="resolved", by_hand=False)
            self.transitions[m["id"]] += 1

    def _act(self, key, who, action, *args, ok_states, note=None):
        m = self.model.get(key)
        if m is None:
            return
        before = self.transitions[m["id"]]
        with access.acting_as(who):
            if not _allowed(who, key[1]):
                with pytest.raises((access.AccessDenied, episodes.InvalidTransition)):
                    action(m["id"], who.name if who else "nobody", *args, now=self.now)
                return m, False
            if m["state"] not in ok_states:
                with pytest.raises(episodes.InvalidTransition):
                    action(m["id"], who.name, *args, now=self.now)
                return m, False
            action(m["id"], who.name, *args, now=self.now)
        self.transitions[m["id"]] = before + 1
        return m, True

    @rule(key=st.sampled_from(KEYS), who=st.sampled_from(PEOPLE))
    def acknowledge(self, key, who):
        done = self._act(key, who, episodes.acknowledge, ok_states=("open", "snoozed"))
        if done and done[1]:
            done[0]["state"] = "acknowledged"

    @rule(key=st.sampled_from(KEYS), who=st.sampled_from(PEOPLE), hours=st.integers(1, 5))
    def snooze(self, key, who, hours):
        until = self.now + timedelta(hours=hours)
        done = self._act(key, who, episodes.snooze, until, ok_states=episodes.LIVE)
        if done and done[1]:
            done[0].update(state="snoozed", until=until)

    @rule(key=st.sampled_from(KEYS), who=st.sampled_from(PEOPLE))
    def assign(self, key, who):
        self._act(key, who, episodes.assign, "olu", ok_states=episodes.LIVE)

    @rule(key=st.sampled_from(KEYS), who=st.sampled_from(PEOPLE))
    def resolve(self, key, who):
        done = self._act(key, who, episodes.resolve, "fixed the pump", ok_states=episodes.LIVE)
        if done and done[1]:
            done[0].update(state="resolved", by_hand=True)

    @rule(key=st.sampled_from(KEYS), who=st.sampled_from(PEOPLE))
    def note(self, key, who):
        self._act(key, who, episodes.add_note, "crew on site", ok_states=episodes.STATES)

    @invariant()
    def one_live_episode_per_key(self):
        assert all(count == 1 for *_, count in _live_rows())

    @invariant()
    def store_agrees_with_model(self):
        with access.system():
            for key, m in self.model.items():
                episode = episodes.get(m["id"])
                assert (episode["metric_id"], episode["district_id"], episode["rule"]) == key
                assert episode["state"] == m["state"], (key, episode, m)
                assert episode["severity"] == m["severity"]
                trail = episodes.history(m["id"])
                assert len(trail) == self.transitions[m["id"]], trail
                assert all(t["actor"] for t in trail)
                assert trail[-1]["to_state"] == m["state"]


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])


# -- de-duplication, auto-resolve, the outbox -------------------------------------------
def test_many_runs_of_one_trouble_make_one_episode_and_one_message():
    _wipe()
    key = KEYS[0]
    for run in range(30):  # a publish every 20 s for 10 minutes, within the same hour
        episodes.record([_detection(key, "firing", T0, first=T0)], now=T0 + timedelta(seconds=20 * run))
    for hour in range(1, 4):  # and three more hours of the same trouble
        episodes.record([_detection(key, "firing", T0 + timedelta(hours=hour), first=T0)],
                        now=T0 + timedelta(hours=hour))
    frame = episodes.list_episodes(states=episodes.STATES)
    assert len(frame) == 1
    assert frame["first_period"].iloc[0] == T0 and frame["last_period"].iloc[0] == T0 + timedelta(hours=3)
    assert [e["kind"] for e in episodes.events()] == ["opened"]


def test_recovering_keeps_the_episode_clear_resolves_it_once():
    _wipe()
    key = KEYS[0]
    episodes.record([_detection(key, "firing", T0)], now=T0)
    episodes.record([_detection(key, "recovering", T0 + timedelta(hours=1))], now=T0 + timedelta(hours=1))
    assert episodes.list_episodes()["state"].tolist() == ["open"]
    for hour in (2, 3):
        episodes.record([_detection(key, "clear", T0 + timedelta(hours=hour))], now=T0 + timedelta(hours=hour))
    assert episodes.list_episodes().empty
    frame = episodes.list_episodes(states=("resolved",))
    assert len(frame) == 1 and frame["resolved_at"].iloc[0] == T0 + timedelta(hours=2)
    assert [e["kind"] for e in episodes.events()] == ["opened", "resolved"]
    trail = episodes.history(int(frame["id"].iloc[0]))
    assert [(t["from_state"], t["to_state"], t["actor"]) for t in trail] == [(None, "open", "system"),
                                                                            ("open", "resolved", "system")]


def test_a_new_breach_after_auto_resolve_is_a_new_episode():
    _wipe()
    key = KEYS[0]
    episodes.record([_detection(key, "firing", T0)], now=T0)
    episodes.record([_detection(key, "clear", T0 + timedelta(hours=3))], now=T0 + timedelta(hours=3))
    later = T0 + timedelta(hours=10)
    episodes.record([_detection(key, "firing", later, first=later)], now=later)
    assert len(episodes.list_episodes(states=episodes.STATES)) == 2
    assert [e["kind"] for e in episodes.events()] == ["opened", "resolved", "opened"]


def test_escalation_is_one_event_and_a_snoozed_episode_stays_quiet():
    _wipe()
    key = KEYS[0]
    episodes.record([_detection(key, "firing", T0)], now=T0)
    episode_id = int(episodes.list_episodes()["id"].iloc[0])
    episodes.record([_detection(key, "firing", T0 + timedelta(hours=1), "critical", first=T0)],
                    now=T0 + timedelta(hours=1))
    assert [e["kind"] for e in episodes.events()] == ["opened", "escalated"]
    payload = episodes.events()[-1]["payload"]
    assert payload["severity"] == "critical" and payload["domain"] == "satisfaction" and payload["n"] == 40
    with access.acting_as(ADMIN):
        episodes.snooze(episode_id, "ada", T0 + timedelta(hours=5), now=T0 + timedelta(hours=1))
    episodes.record([_detection(key, "firing", T0 + timedelta(hours=2), "critical", first=T0)],
                    now=T0 + timedelta(hours=2))
    assert episodes.get(episode_id)["state"] == "snoozed"
    episodes.record([_detection(key, "firing", T0 + timedelta(hours=6), "critical", first=T0)],
                    now=T0 + timedelta(hours=6))
    assert episodes.get(episode_id)["state"] == "open"  # the snooze ended and it still fires


def test_who_may_act_and_what_they_see():
    _wipe()
    episodes.record([_detection(KEYS[0], "firing", T0), _detection(KEYS[1], "firing", T0),
                     _detection(KEYS[2], "firing", T0)], now=T0)
    ids = {row.district_id: int(row.id) for row in episodes.list_episodes().itertuples()}
    with access.acting_as(OFFICIAL):
        assert set(episodes.list_episodes()["district_id"]) == {"101", "city"}
        assert episodes.get(ids["102"]) is None and episodes.history(ids["102"]) == []
        episodes.acknowledge(ids["101"], "olu")
        with pytest.raises((access.AccessDenied, episodes.InvalidTransition)):
            episodes.acknowledge(ids["102"], "olu")
        with pytest.raises(access.AccessDenied):
            episodes.acknowledge(ids["city"], "olu")  # city-wide: an all-district account only
    for who in (ANALYST, DEVICE, None):
        with access.acting_as(who), pytest.raises(access.AccessDenied):
            episodes.add_note(ids["city"], "x", "hello")
    with access.acting_as(ADMIN):
        with pytest.raises(episodes.InvalidTransition, match="note"):
            episodes.resolve(ids["102"], "ada", "  ")
        with pytest.raises(episodes.InvalidTransition, match="future"):
            episodes.snooze(ids["102"], "ada", T0 - timedelta(hours=1), now=T0)
        with pytest.raises(episodes.InvalidTransition, match="already acknowledged by olu"):
            episodes.acknowledge(ids["101"], "ada")
        episodes.resolve(ids["102"], "ada", "crew cleared it")
        with pytest.raises(episodes.InvalidTransition, match="resolved"):
            episodes.acknowledge(ids["102"], "ada")
        assert episodes.get(ids["101"])["acknowledged_by"] == "olu"
        stats = episodes.stats(T0 + timedelta(hours=1)).set_index("domain")
    assert stats.loc["satisfaction", "volume"] == 2 and stats.loc["parking", "volume"] == 1


def test_a_hand_resolve_holds_for_the_run_and_flapping_reopens_rather_than_duplicating():
    _wipe()
    key = KEYS[0]
    episodes.record([_detection(key, "firing", T0)], now=T0)
    episode_id = int(episodes.list_episodes()["id"].iloc[0])
    with access.acting_as(ADMIN):
        episodes.resolve(episode_id, "ada", "known: the department is on it")
    for hour in (1, 2, 3):  # the same run keeps firing: the operator's call holds, no new alert
        episodes.record([_detection(key, "firing", T0 + timedelta(hours=hour), first=T0)], now=T0 + timedelta(hours=hour))
    assert episodes.list_episodes().empty
    later = T0 + timedelta(hours=20)  # a new run after it cleared: a new episode
    episodes.record([_detection(key, "firing", later, first=later)], now=later)
    assert len(episodes.list_episodes()) == 1 and int(episodes.list_episodes()["id"].iloc[0]) != episode_id
    second = int(episodes.list_episodes()["id"].iloc[0])
    episodes.record([_detection(key, "clear", later + timedelta(hours=1))], now=later + timedelta(hours=1))
    again = later + timedelta(hours=2)  # back out of band an hour after auto-resolving: reopened
    episodes.record([_detection(key, "firing", again, first=again)], now=again)
    assert episodes.get(second)["state"] == "open"
    assert len(episodes.list_episodes(states=episodes.STATES)) == 2
    assert [e["kind"] for e in episodes.events()] == ["opened", "resolved", "opened", "resolved", "reopened"]
