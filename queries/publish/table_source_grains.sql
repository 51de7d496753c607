-- Per raw table and source with data, the source's grain (its finest period), oldest data first:
-- what lets a metric be published at a grain, and which source is a table's newest.
-- columns: table_name, source_id, grain
SELECT t.table_name, t.source_id, coalesce(s.grain, 'hour') FROM table_data_times t LEFT JOIN sources s USING (source_id) ORDER BY t.data_time
