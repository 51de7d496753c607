-- Every source with the raw tables it feeds, newest data time and rows loaded, and the finest
-- period its figures describe (hour for records; older snapshots have no grain: hour).
-- params: none   columns: source_id, name, domain, simulated, grain, table_name, data_time, row_count
SELECT s.source_id, s.name, s.domain, s.simulated, coalesce(to_json(s)->>'grain', 'hour') AS grain,
       t.table_name, t.data_time, t.row_count
FROM sources s LEFT JOIN source_times t USING (source_id)
ORDER BY s.domain, s.source_id, t.table_name
