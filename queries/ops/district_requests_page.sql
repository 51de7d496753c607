-- access: records
-- Service requests of one district, newest first, for the records table (the grid pages and
-- sorts them in the browser; at most $limit rows are sent).
-- params: $district, $category (NULL = all), $limit
-- columns: request_id, district_id, created_at, closed_at, due_at, category, channel, status
SELECT request_id, district_id, created_at, closed_at, due_at, category, channel, status
FROM service_requests
WHERE district_id = $district AND ($category IS NULL OR category = $category)
ORDER BY created_at DESC LIMIT $limit
