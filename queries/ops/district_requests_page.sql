-- access: records
-- Service requests of one district, newest first, for the records table (the grid pages and
-- sorts them in the browser; at most $limit rows are sent). overdue: 'yes' when the request was
-- closed after its due time, or is still open past it at the data's time (the newest record
-- time in the table); 'no' otherwise; NULL when it has no due time.
-- params: $district, $category (NULL = all), $limit
-- columns: request_id, district_id, created_at, closed_at, due_at, category, channel, status, overdue
WITH as_of AS (SELECT max(greatest(created_at, coalesce(closed_at, created_at))) AS t FROM service_requests)
SELECT request_id, district_id, created_at, closed_at, due_at, category, channel, status,
       CASE WHEN due_at IS NULL THEN NULL
            WHEN coalesce(closed_at, (SELECT t FROM as_of)) > due_at THEN 'yes' ELSE 'no' END AS overdue
FROM service_requests
WHERE district_id = $district AND ($category IS NULL OR category = $category)
ORDER BY created_at DESC LIMIT $limit
