-- Newest data time per raw table and source, from the rows changed since $since (one static
-- statement, bound parameter). A dated row (`dated`) covers its whole day, or its whole month
-- for a monthly source (sources.grain): its data time is that period's end. first_time: the oldest
-- row's time (a dated row: its day), so the public site can leave out a partial first period.
-- A new raw table is added here too (tests/test_publish.py checks every raw table is).
-- params: $since
-- writes table table_data_times
INSERT INTO table_data_times
SELECT x.table_name, x.source_id,
       (max(x.data_time) + CASE WHEN NOT bool_or(x.dated) THEN INTERVAL 0 DAY
                                WHEN any_value(s.grain) = 'month' THEN INTERVAL 1 MONTH
                                WHEN any_value(s.grain) = 'week' THEN INTERVAL 7 DAY
                                ELSE INTERVAL 1 DAY END)::TIMESTAMP,
       min(x.data_time)::TIMESTAMP
FROM (
    SELECT 'bike_trips' AS table_name, source_id, started_at AS data_time, false AS dated FROM bike_trips WHERE started_at >= $since
    UNION ALL SELECT 'bike_station_status', source_id, ts, false FROM bike_station_status WHERE ts >= $since
    UNION ALL SELECT 'transit_ridership', source_id, day::TIMESTAMP, true FROM transit_ridership WHERE day >= $since::DATE
    UNION ALL SELECT 'traffic_counts', source_id, ts, false FROM traffic_counts WHERE ts >= $since
    UNION ALL SELECT 'waste_tonnage', source_id, day::TIMESTAMP, true FROM waste_tonnage WHERE day >= $since::DATE
    UNION ALL SELECT 'bin_fill', source_id, ts, false FROM bin_fill WHERE ts >= $since
    UNION ALL SELECT 'parking_occupancy', source_id, ts, false FROM parking_occupancy WHERE ts >= $since
    UNION ALL SELECT 'parking_citations', source_id, issued_at, false FROM parking_citations WHERE issued_at >= $since
    UNION ALL SELECT 'service_requests', source_id, greatest(created_at, coalesce(closed_at, created_at)), false
              FROM service_requests WHERE created_at >= $since OR closed_at >= $since
    UNION ALL SELECT 'satisfaction_responses', source_id, responded_at, false FROM satisfaction_responses WHERE responded_at >= $since
    UNION ALL SELECT 'transit_ridership_city', source_id, day::TIMESTAMP, true FROM transit_ridership_city WHERE day >= $since::DATE
    UNION ALL SELECT 'traffic_counts_borough', source_id, ts, false FROM traffic_counts_borough WHERE ts >= $since
    UNION ALL SELECT 'pedestrian_counts', source_id, day::TIMESTAMP, true FROM pedestrian_counts WHERE day >= $since::DATE
) x LEFT JOIN sources s USING (source_id)
GROUP BY x.table_name, x.source_id
ON CONFLICT (table_name, source_id) DO UPDATE SET data_time = greatest(table_data_times.data_time, excluded.data_time),
    first_time = least(table_data_times.first_time, excluded.first_time)
