-- Per raw table, the first day with data and the newest data time (data.publish._coverage).
-- columns: table_name, first_day, last
SELECT table_name, date_trunc('day', min(first_time)), max(data_time) FROM table_data_times GROUP BY 1
