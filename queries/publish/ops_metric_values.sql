-- The rollups of every published metric and grain.   params: $keys (published 'metric@grain')
-- table: snap.metric_values
-- columns: metric_id, grain, district_id, period, value, numerator, denominator, n
CREATE TABLE snap.metric_values AS SELECT * FROM metric_values
WHERE metric_id || '@' || grain IN (SELECT unnest($keys))
ORDER BY metric_id, grain, period, district_id
