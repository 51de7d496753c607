-- The week and month rollups of the public metrics as published (candidates for the release).
-- params: $ids (public metric ids), $grains (the public grains), $keys (published 'metric@grain')
-- columns: metric_id, grain, district_id, period, value, numerator, denominator, n
SELECT metric_id, grain, district_id, period, value, numerator, denominator, n
FROM metric_values
WHERE metric_id IN (SELECT unnest($ids)) AND grain IN (SELECT unnest($grains))
  AND metric_id || '@' || grain IN (SELECT unnest($keys))
ORDER BY metric_id, grain, period, district_id
