"""The snapshot tables are the columns their queries/publish/ files declare, no more, no fewer,
and a table that drifts from its header stops the publish with the file named."""
import duckdb
import pytest

from data import publish, publish_sql, snapshot
from tests.conftest import FIXTURE_END

_COLUMNS = ("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' ORDER BY table_name, column_index")


def _snapshot_tables(kind: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    with snapshot.cursor(kind) as (cur, _version):
        for table, column in cur.execute(_COLUMNS).fetchall():
            tables.setdefault(table, []).append(column)
    return tables


def test_every_declared_snapshot_table_exists_with_exactly_its_columns(published):
    declared = publish_sql.declared()
    assert len(declared) >= 20  # every CREATE TABLE of both snapshots has a file
    for kind in ("ops", "public"):
        tables = _snapshot_tables(kind)
        mine = {table: (name, list(columns)) for name, (alias, table, columns) in declared.items()
                if publish_sql.SNAPSHOTS[alias] == kind}
        assert set(tables) == set(mine), f"{kind} snapshot tables without a declaring file, or missing"
        for table, (name, columns) in mine.items():
            assert tables[table] == columns, f"queries/{name}.sql: {kind}.{table} has {tables[table]}"


def test_a_file_that_creates_a_table_says_so_in_its_header():
    for path in sorted((publish_sql.QUERIES / "publish").glob("*.sql")):
        body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
        creates = "CREATE TABLE" in body.upper()
        assert creates == (publish_sql.contract(f"publish/{path.stem}") is not None), path.name


@pytest.fixture()
def queries_dir(tmp_path, monkeypatch):
    """A queries/ folder of the test's own, holding the column lookup the check runs."""
    (tmp_path / "publish").mkdir()
    (tmp_path / "publish" / "table_columns.sql").write_text(
        (publish_sql.QUERIES / "publish" / "table_columns.sql").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(publish_sql, "QUERIES", tmp_path)
    publish_sql.sql.cache_clear()
    publish_sql.contract.cache_clear()
    yield tmp_path / "publish"
    publish_sql.sql.cache_clear()
    publish_sql.contract.cache_clear()


def test_a_header_column_mismatch_raises_contract_error_naming_the_file(queries_dir):
    (queries_dir / "drifted.sql").write_text(
        "-- table: snap.things\n-- columns: a,\n--          b\nCREATE TABLE snap.things AS SELECT 1 AS a, 2 AS c\n",
        encoding="utf-8")
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS snap")
    with pytest.raises(publish_sql.ContractError) as caught:
        publish_sql.create_table(con, "publish/drifted")
    message = str(caught.value)
    assert "queries/publish/drifted.sql" in message and "snap.things" in message
    assert "declared but not made: b" in message and "made but not declared: c" in message


def test_columns_in_another_order_break_the_contract(queries_dir):
    (queries_dir / "swapped.sql").write_text(
        "-- table: pub.things\n-- columns: a, b\nCREATE TABLE pub.things AS SELECT 2 AS b, 1 AS a\n", encoding="utf-8")
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS pub")
    with pytest.raises(publish_sql.ContractError, match=r"queries/publish/swapped\.sql.*another order"):
        publish_sql.create_table(con, "publish/swapped")


def test_a_warehouse_column_the_header_does_not_declare_stops_the_publish(writer, monkeypatch):
    """A SELECT * over a warehouse table that changed: the publish fails naming the file, and the
    previous release keeps serving."""
    before = publish.read_pointer()
    real = publish_sql.sql

    def narrower(name):  # ops_sources.sql as if its header had not been told about `publisher`
        text = real(name)
        return text.replace(", grain, publisher\n", ", grain\n") if name == "publish/ops_sources" else text

    monkeypatch.setattr(publish_sql, "sql", narrower)
    publish_sql.contract.cache_clear()
    try:
        with pytest.raises(publish.PublishError, match=r"queries/publish/ops_sources\.sql.*not declared: publisher"):
            publish.publish(writer, now=FIXTURE_END)
    finally:
        publish_sql.contract.cache_clear()
    assert publish.read_pointer() == before
