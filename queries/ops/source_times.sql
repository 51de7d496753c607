-- Newest data time and row count per source, with the source's description.   params: none
-- columns: source_id, name, domain, simulated, data_time, row_count
SELECT s.source_id, s.name, s.domain, s.simulated, t.data_time, t.row_count
FROM sources s LEFT JOIN source_times t USING (source_id)
ORDER BY s.domain, s.source_id
