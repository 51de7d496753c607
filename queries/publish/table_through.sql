-- Per raw table, the newest data time of any of its sources.
-- columns: table_name, through
SELECT table_name, max(data_time) FROM table_data_times GROUP BY 1
