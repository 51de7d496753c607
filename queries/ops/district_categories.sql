-- access: records
-- Service-request categories of one district with their counts (records table filter).
-- params: $district   columns: district_id, category, requests
SELECT district_id, category, count(*) AS requests
FROM service_requests WHERE district_id = $district
GROUP BY district_id, category ORDER BY requests DESC, category
