-- access: admin
-- Quarantined rows by source, file, reason and district, with the first line and one example
-- (the source values of the fields the rule judged).   params: none
-- columns: source_id, file, reason, district_id, rows, first_line, example
SELECT source_id, file, reason, district_id, rows, first_line, example
FROM quarantine_summary ORDER BY rows DESC
