-- Recent service requests (created since $f, the records_days window) and every open one.
-- params: $f (the oldest creation time kept)
-- table: snap.service_requests
-- columns: request_id, created_at, closed_at, due_at, district_id, category, channel, status,
--          lat, lon, description, source_id
CREATE TABLE snap.service_requests AS SELECT request_id, created_at, closed_at, due_at,
district_id, category, channel, status, lat, lon, description, source_id
FROM service_requests WHERE created_at >= $f OR closed_at IS NULL ORDER BY created_at
