-- The most recent load batches.   params: $limit
-- columns: batch_id, source_id, file, started_at, finished_at, rows_read, rows_loaded, rows_quarantined, status,
--          and (snapshots published since batches record them) pid, host, message (why a batch failed)
SELECT * FROM load_batches ORDER BY batch_id DESC LIMIT $limit
