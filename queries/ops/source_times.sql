-- Every source with the raw tables it feeds, newest data time and rows loaded.   params: none
-- columns: source_id, name, domain, simulated, table_name, data_time, row_count
SELECT s.source_id, s.name, s.domain, s.simulated, t.table_name, t.data_time, t.row_count
FROM sources s LEFT JOIN source_times t USING (source_id)
ORDER BY s.domain, s.source_id, t.table_name
