-- access: records
-- Every service request of one district in the published window (of one category, or all:
-- $category NULL), newest first (the records export; streamed in chunks, never held in memory
-- whole). overdue as in district_requests_page.sql.
-- params: $district, $category
-- columns: request_id, district_id, created_at, closed_at, due_at, category, channel, status, overdue
WITH as_of AS (SELECT max(greatest(created_at, coalesce(closed_at, created_at))) AS t FROM service_requests)
SELECT request_id, district_id, created_at, closed_at, due_at, category, channel, status,
       CASE WHEN due_at IS NULL THEN NULL
            WHEN coalesce(closed_at, (SELECT t FROM as_of)) > due_at THEN 'yes' ELSE 'no' END AS overdue
FROM service_requests
WHERE district_id = $district AND ($category IS NULL OR category = $category)
ORDER BY created_at DESC, request_id
