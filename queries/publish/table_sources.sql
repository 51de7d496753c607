-- Every raw table and source with data (the public data times are set per source).
-- columns: table_name, source_id
SELECT table_name, source_id FROM table_data_times
