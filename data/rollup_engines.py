"""Where the metric SQL runs when publish recomputes rollups: one interface, two engines.

- ``duckdb`` (the default): inside the warehouse, as it always did. One machine handles
  100M raw rows this way (see the README's Benchmarks).
- ``spark``: Apache Spark (pyspark), for a region whose raw data outgrows one machine. The
  raw tables a metric reads are exported as Parquet partitioned by month
  (``<var>/spark/<table>/_month=YYYY-MM/``), each metric's SQL is **transpiled** from DuckDB's
  dialect to Spark SQL with sqlglot (never rewritten by hand: the registry file stays the one
  definition), values are bound as Spark named parameters (``:grain``, ``:start``, ``:end``),
  and the result rows go back into the warehouse's ``metric_values``, so publish consumes
  them unchanged. ``spark_master`` is ``local[*]`` here and a cluster URL in production.

Both engines answer the same question — the rows of one metric at one grain from ``start`` —
and ``tests/test_rollup_engines.py`` checks that Spark's rows equal DuckDB's for every metric,
district, period and grain of the demo city (to 1e-9).
"""
from __future__ import annotations

import contextlib
import functools
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from data import publish_sql, registry, settings

ENGINES = ("duckdb", "spark")
COLUMNS = ["district_id", "period", "value", "numerator", "denominator", "n"]
# DuckDB's timestamp 'infinity' has no Spark equivalent; a far-future instant compares the same
FAR_FUTURE = "9999-12-31 23:59:59"



class EngineError(RuntimeError):
    pass


def raw_tables(metric: registry.Metric) -> list[str]:
    """The raw warehouse tables a metric's SQL reads (what Spark needs exported)."""
    import sqlglot
    from sqlglot import exp

    from data.warehouse import RAW_TABLES
    tree = sqlglot.parse_one(metric.sql, read="duckdb")
    return sorted({t.name for t in tree.find_all(exp.Table) if t.name in RAW_TABLES})


@functools.cache
def spark_sql(metric_sql: str, suffix: str = "") -> str:
    """A metric's DuckDB SQL in Spark's dialect (sqlglot), with the few constructs whose
    meaning the transpiler does not carry over mapped to their Spark equivalent:
    ``epoch(a - b)`` (seconds of an interval) and the timestamp literal ``'infinity'``.
    `suffix` renames the :grain and :start parameters (``:grain_0``), so that copies of one
    query for several grains can share a statement."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(metric_sql, read="duckdb")

    def fix(node):
        if suffix and isinstance(node, exp.Placeholder) and node.name in ("grain", "start"):
            return exp.Placeholder(this=f"{node.name}{suffix}")
        # epoch(interval) -> seconds between the two timestamps, to the microsecond
        if isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub):
            a, b = node.this.this, node.this.expression
            micros = exp.Sub(this=exp.func("unix_micros", a.copy()), expression=exp.func("unix_micros", b.copy()))
            return exp.Div(this=exp.Paren(this=micros), expression=exp.Literal.number("1e6"))
        if isinstance(node, exp.Literal) and node.is_string and node.this.lower() == "infinity":
            return exp.Literal.string(FAR_FUTURE)
        # count(DISTINCT (a, b, c)) -> count(DISTINCT a, b, c): a tuple is a struct in Spark
        if isinstance(node, exp.Distinct) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Tuple):
            return exp.Distinct(expressions=[e.copy() for e in node.expressions[0].expressions])
        return node

    return tree.transform(fix).sql(dialect="spark")


class DuckDBEngine:
    """The metric SQL inside the warehouse connection (the default)."""
    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def insert(self, metric: registry.Metric, starts: dict[str, datetime], end: datetime) -> None:
        """Rows of `metric` at each grain from its start (``{grain: start}``) into metric_values."""
        for grain, start in starts.items():
            # metric.sql comes from the registry files (code), never from input; values are bound.
            self.con.execute(publish_sql.sql("publish/insert_rollups").replace("/*metric*/", metric.sql),
                             {"metric_id": metric.id, "grain": grain, "start": start, "end": end})

    def close(self) -> None:
        pass


class SparkEngine:
    """The metric SQL on Spark, over the raw tables exported as month-partitioned Parquet."""
    name = "spark"

    def __init__(self, con: duckdb.DuckDBPyConnection, *, master: str | None = None,
                 directory: Path | None = None):
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # pragma: no cover - pinned in requirements.txt
            raise EngineError("rollup_engine = spark needs pyspark (pip install -r requirements.txt) "
                              "and a Java runtime (17 or newer)") from None
        self.con = con
        self.directory = directory or settings.var_dir() / "spark"
        self.exported: set[str] = set()
        master = master or str(settings.get("spark_master"))
        try:
            self.spark = (SparkSession.builder.master(master).appName("cityops-rollups")
                          .config("spark.sql.session.timeZone", "UTC")
                          .config("spark.sql.shuffle.partitions", "8")
                          .config("spark.ui.enabled", "false")
                          .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
                          .getOrCreate())
        except Exception as exc:  # noqa: BLE001 - no JVM, or the cluster is unreachable
            raise EngineError(f"Spark could not start at {master!r}: {str(exc).splitlines()[0]}") from None

    def export(self, table: str) -> None:
        """Write one raw table as Parquet partitioned by the month of its first date/time
        column (streamed in record batches), and register it as a Spark view of the same name
        (once per publish). The table name is one of the warehouse's RAW_TABLES, never input."""
        if table in self.exported:
            return
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        target = self.directory / table
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        reader = self.con.table(table).fetch_arrow_reader(1_000_000)
        column = next((f.name for f in reader.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)), None)
        if column is None:
            schema = reader.schema
            batches = reader
        else:
            schema = reader.schema.append(pa.field("_month", pa.string()))

            def batches():
                for batch in reader:
                    month = pc.strftime(batch.column(column), format="%Y-%m")
                    yield pa.RecordBatch.from_arrays([*batch.columns, month], schema=schema)
            batches = batches()
        ds.write_dataset(pa.RecordBatchReader.from_batches(schema, batches), target, format="parquet",
                         partitioning=["_month"] if column else None, partitioning_flavor="hive",
                         existing_data_behavior="delete_matching")
        frame = (self.spark.read.parquet(str(target)) if any(target.rglob("*.parquet"))
                 else self.spark.createDataFrame([], _spark_schema(schema)))
        frame.createOrReplaceTempView(table)
        self.exported.add(table)

    def rows(self, metric: registry.Metric, starts: dict[str, datetime], end: datetime) -> pd.DataFrame:
        """The metric's rows at every grain of `starts` as ONE Spark job: the transpiled SQL
        once per grain, each copy with parameters of its own (``:grain_0``, ``:start_0``, …),
        joined by UNION ALL (a Spark job costs about a second however small)."""
        for table in raw_tables(metric):
            self.export(table)
        parts, args = [], {"end": end}
        for i, (grain, start) in enumerate(starts.items()):
            parts.append(f"SELECT :grain_{i} AS grain, * FROM ({spark_sql(metric.sql, f'_{i}')})")  # noqa: S608 - identifiers from this module's own constants; every value is bound
            args.update({f"grain_{i}": grain, f"start_{i}": start})
        result = self.spark.sql(" UNION ALL ".join(parts), args=args)
        frame = result.toArrow().to_pandas()[["grain", *COLUMNS]]  # Arrow all the way
        period = pd.to_datetime(frame["period"])
        if period.dt.tz is not None:  # Spark's TIMESTAMP is UTC-instant; the session clock is UTC
            period = period.dt.tz_convert("UTC").dt.tz_localize(None)
        return frame.assign(period=period.astype("datetime64[us]"))

    def insert(self, metric: registry.Metric, starts: dict[str, datetime], end: datetime) -> None:
        frame = self.rows(metric, starts, end)
        self.con.register("_spark_rows", frame)
        try:
            self.con.execute(publish_sql.sql("publish/insert_spark_rows"), {"metric_id": metric.id})
        finally:
            self.con.unregister("_spark_rows")

    def close(self) -> None:
        self.exported.clear()


def _spark_schema(schema):
    """A Spark schema for an Arrow one (an empty table still needs its columns)."""
    from pyspark.sql.pandas.types import from_arrow_schema
    return from_arrow_schema(schema)


@contextlib.contextmanager
def engine(con: duckdb.DuckDBPyConnection, name: str | None = None):
    """The configured rollup engine (setting ``rollup_engine``) for one publish."""
    name = name or str(settings.get("rollup_engine"))
    if name not in ENGINES:
        raise EngineError(f"rollup_engine must be one of {', '.join(ENGINES)}, not {name!r}")
    chosen = DuckDBEngine(con) if name == "duckdb" else SparkEngine(con)
    try:
        yield chosen
    finally:
        chosen.close()
