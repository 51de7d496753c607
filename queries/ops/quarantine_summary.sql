-- access: records
-- Quarantined rows by source, file and reason, with one example.   params: none
-- columns: source_id, file, reason, rows, first_line, example
SELECT source_id, file, reason, rows, first_line, example
FROM quarantine_summary ORDER BY rows DESC
