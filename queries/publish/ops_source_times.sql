-- Per raw table and source: newest data time (kept by update_rollups), rows loaded, and the
-- oldest data time (a period starting before it is not covered by the data).
-- table: snap.source_times
-- columns: table_name, source_id, data_time, row_count, first_time
CREATE TABLE snap.source_times AS
SELECT d.table_name, d.source_id, d.data_time, b.row_count, d.first_time FROM table_data_times d
LEFT JOIN (SELECT source_id, sum(rows_loaded)::BIGINT AS row_count FROM load_batches
WHERE status = 'ok' GROUP BY source_id) b USING (source_id)
