-- Whether every raw table's data times carry their oldest time too (false on the first publish,
-- or a warehouse from before first_time was kept: then everything is dated again).
-- columns: dated
SELECT count(*) FILTER (WHERE first_time IS NOT NULL) = count(*) AND count(*) > 0 FROM table_data_times
