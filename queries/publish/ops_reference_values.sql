-- The reference values over those windows, per district and for the city.   params: $keys
-- table: snap.reference_values
-- columns: metric_id, grain, district_id, value, numerator, denominator, n
CREATE TABLE snap.reference_values AS SELECT * FROM reference_values
WHERE metric_id || '@' || grain IN (SELECT unnest($keys)) ORDER BY metric_id, grain, district_id
