-- Every load batch, with its counts and outcome (/data).
-- table: snap.load_batches
-- columns: batch_id, source_id, file, started_at, finished_at, rows_read, rows_loaded,
--          rows_quarantined, status, pid, host, message
CREATE TABLE snap.load_batches AS SELECT * FROM load_batches ORDER BY batch_id
