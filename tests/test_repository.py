"""Repository: named SQL files only, bound parameters only, cached per data version."""
import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from data import repository


@pytest.mark.parametrize("name", [
    "../data/schema", "ops/../../etc/passwd", "/etc/passwd", "ops/metric_series.sql", "OPS/meta",
    "ops/", "metrics/bike_trips", "ops/does_not_exist", "public/../ops/meta", "", None, 42,
])
def test_unknown_or_escaping_query_names_are_refused(published, name):
    with pytest.raises(repository.QueryError):
        repository.run(name)


def test_query_must_belong_to_the_database_it_runs_on(published):
    with pytest.raises(repository.QueryError):
        repository.run("public/meta", db="ops")


def test_result_carries_the_data_version(published):
    from data import publish

    frame = repository.run("ops/meta")
    assert frame.attrs["version"] == publish.read_pointer()["version"]
    assert frame["version"].iloc[0] == frame.attrs["version"]


HOSTILE = [
    "bike_trips' OR '1'='1", "x'; DROP TABLE metric_values; --", "'; COPY metric_values TO '/tmp/x.csv'; --",
    "read_csv('/etc/passwd')", "\x00", "ö" * 500,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_string_values_return_nothing_and_change_nothing(published, value):
    before = repository.run("ops/metric_series", metric="bike_trips", grain="day", districts=["city"],
                            start=published_start(), end=published_end())
    hostile = repository.run("ops/metric_series", metric=value, grain=value, districts=[value],
                             start=published_start(), end=published_end())
    assert hostile.empty
    repository.clear_cache()
    after = repository.run("ops/metric_series", metric="bike_trips", grain="day", districts=["city"],
                           start=published_start(), end=published_end())
    assert len(before) == len(after) > 0


@hsettings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_text_as_a_district_is_only_ever_a_value(published, text):
    frame = repository.run("ops/district_requests_page", district=text, category=None, limit=5)
    assert frame.empty or set(frame.columns) == {"request_id", "district_id", "created_at", "closed_at", "due_at",
                                                  "category", "channel", "status"}


def test_snapshot_connection_is_read_only_and_has_no_external_access(published):
    from data import snapshot

    with snapshot.cursor("ops") as (cur, _version):
        with pytest.raises(duckdb.Error):
            cur.execute("DELETE FROM metric_values")
        with pytest.raises(duckdb.Error):
            cur.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.Error):
            cur.execute("SET enable_external_access = true")


def test_unsupported_parameter_types_are_refused(published):
    with pytest.raises(repository.QueryError):
        repository.run("ops/district_requests_page", district={"$ne": 1}, category=None, limit=5)


def published_start():
    from datetime import datetime
    return datetime(2000, 1, 1)


def published_end():
    from datetime import datetime
    return datetime(2100, 1, 1)
