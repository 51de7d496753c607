-- access: records
-- Service requests (311) opened in one district during an alert's hours, by category.
-- params: $district, $start, $end
-- columns: district_id, category, opened, still_open
SELECT district_id, category, count(*) AS opened, count(*) FILTER (WHERE closed_at IS NULL) AS still_open
FROM service_requests
WHERE district_id = $district AND created_at >= $start AND created_at < $end
GROUP BY district_id, category ORDER BY opened DESC, category LIMIT 12
