-- The columns of one table of an attached database, in order: the publisher checks every
-- snapshot table it creates against its query file's header (data/publish_sql.py).
-- params: $db (the attach alias: snap | pub), $t (the table)
-- columns: column_name
SELECT column_name FROM duckdb_columns()
WHERE database_name = $db AND schema_name = 'main' AND table_name = $t
ORDER BY column_index
