-- Newest data time per raw table, and whether any of its data is simulated.   params: none
-- columns: table_name, data_time, simulated
SELECT t.table_name, max(t.data_time) AS data_time, bool_or(coalesce(s.simulated, false)) AS simulated
FROM source_times t LEFT JOIN sources s USING (source_id)
GROUP BY t.table_name
