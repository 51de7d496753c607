"""Rollups on Spark equal rollups in DuckDB: the same registry SQL, transpiled by sqlglot,
over the raw tables exported as Parquet, gives every metric, district, period and grain of a
demo city to 1e-9 (relative: Spark adds floating sums in another order), and publish consumes
them unchanged. Needs a Java runtime (make test installs one when missing)."""
from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from data import rollup_engines

pytestmark = pytest.mark.spark
END = datetime(2026, 11, 1, 12)


def test_transpiled_sql_keeps_the_meaning_of_duckdb_only_constructs():
    sql = ("SELECT epoch(closed_at - created_at) / 3600.0 AS h, coalesce(closed_at, 'infinity'::TIMESTAMP) AS c, "
           "count(DISTINCT (segment_id, direction)) AS k FROM service_requests WHERE created_at >= $start")
    out = rollup_engines.spark_sql(sql)
    assert "UNIX_MICROS(closed_at) - UNIX_MICROS(created_at)" in out
    assert "infinity" not in out and rollup_engines.FAR_FUTURE in out
    assert "COUNT(DISTINCT segment_id, direction)" in out
    assert ":start" in out and "$start" not in out  # still a bound parameter


def test_unknown_engine_is_refused_with_the_choices(writer):
    with pytest.raises(rollup_engines.EngineError, match="duckdb, spark"):
        with rollup_engines.engine(writer, "hadoop"):
            pass


@pytest.fixture(scope="module")
def two_warehouses(tmp_path_factory):
    """The same small demo city twice, to publish once per engine."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime (make test installs openjdk-17-jre-headless)")
    from data import demo
    base = tmp_path_factory.mktemp("engines")
    first = base / "duckdb.duckdb"
    demo.build(first, seed=11, days=21, end=END, scale=0.08, progress=False)
    second = base / "spark.duckdb"
    shutil.copy(first, second)
    return first, second


def _rollups(path, engine_name, monkeypatch) -> pd.DataFrame:
    from data import publish, warehouse
    monkeypatch.setenv("CITYOPS_ROLLUP_ENGINE", engine_name)
    con = warehouse.connect(path)
    try:
        publish.update_rollups(con, now=END)
        return (con.execute("SELECT * FROM metric_values").df()
                .sort_values(["metric_id", "grain", "district_id", "period"]).reset_index(drop=True))
    finally:
        con.close()


def test_spark_rollups_equal_duckdb_for_every_metric_grain_district_and_period(two_warehouses, monkeypatch):
    duck = _rollups(two_warehouses[0], "duckdb", monkeypatch)
    spark = _rollups(two_warehouses[1], "spark", monkeypatch)
    from data import registry
    expected = {(m.id, g) for m in registry.metrics().values() for g in m.grains}
    produced = set(map(tuple, duck[["metric_id", "grain"]].drop_duplicates().values))
    assert len(produced) > 40 and produced <= expected  # (metrics without demo data give no rows)
    keys = ["metric_id", "grain", "district_id", "period"]
    assert len(spark) == len(duck)
    assert (spark[keys].astype(str).values == duck[keys].astype(str).values).all()
    for column in ("value", "numerator", "denominator", "n"):
        a, b = spark[column].astype(float).to_numpy(), duck[column].astype(float).to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), column
