-- Quarantined rows counted by source and reason, per district where the row's district is
-- known (scoped: a caller sees the counts of their districts and of rows with no district).
-- No file path, line or value: those are admin-only (quarantine_rows).   params: none
-- columns: source_id, reason, district_id, rows
SELECT source_id, reason, district_id, sum(rows) AS rows
FROM quarantine_summary GROUP BY ALL ORDER BY rows DESC
