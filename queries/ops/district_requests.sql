-- access: records
-- Most recent service requests of one district (drill-down to records).
-- params: $district, $limit
-- columns: request_id, district_id, created_at, closed_at, due_at, category, channel, status
SELECT request_id, district_id, created_at, closed_at, due_at, category, channel, status
FROM service_requests WHERE district_id = $district
ORDER BY created_at DESC LIMIT $limit
