-- Quarantined rows per source, file, reason and district, with the first line and an example.
-- table: snap.quarantine_summary
-- columns: source_id, file, reason, district_id, rows, first_line, example
CREATE TABLE snap.quarantine_summary AS SELECT source_id, file, reason, district_id, count(*) AS rows,
min(line_no) AS first_line, any_value(raw) AS example FROM quarantine GROUP BY ALL
