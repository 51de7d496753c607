-- Readings per snapshot feed of a real source (parking occupancy, dock status, bin fill), for the
-- public snapshot's source_readings table: a single reading is explained on the overview.
-- table: pub.source_readings
-- columns: table_name, source_id, name, readings, first_reading, last_reading
CREATE TABLE pub.source_readings AS
SELECT r.table_name, r.source_id, s.name, r.readings, r.first_reading, r.last_reading FROM (
    SELECT 'parking_occupancy' AS table_name, source_id, count(DISTINCT ts) AS readings, min(ts) AS first_reading,
           max(ts) AS last_reading FROM parking_occupancy GROUP BY source_id
    UNION ALL SELECT 'bike_station_status', source_id, count(DISTINCT ts), min(ts), max(ts)
              FROM bike_station_status GROUP BY source_id
    UNION ALL SELECT 'bin_fill', source_id, count(DISTINCT ts), min(ts), max(ts) FROM bin_fill GROUP BY source_id
) r JOIN sources s USING (source_id) WHERE NOT s.simulated
ORDER BY s.name
