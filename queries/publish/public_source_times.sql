-- Per source, the end of the newest released period (data.publish._public_data_times,
-- registered as times_df): a time of the release, never the time of the newest record.
-- table: pub.source_times
-- columns: table_name, source_id, data_time
CREATE TABLE pub.source_times AS SELECT table_name, source_id, data_time::TIMESTAMP AS data_time
FROM times_df
