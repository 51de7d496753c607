-- access: records
-- Every service request of one district in the published window, newest first (the records
-- export; streamed in chunks, never held in memory whole).
-- params: $district
-- columns: request_id, district_id, created_at, closed_at, due_at, category, channel, status
SELECT request_id, district_id, created_at, closed_at, due_at, category, channel, status
FROM service_requests
WHERE district_id = $district
ORDER BY created_at DESC, request_id
