-- One public metric over time for the given districts ('city' for the city).
-- params: $metric, $grain, $districts (list)
-- columns: district_id, period, value, n, suppressed, ci_low, ci_high
SELECT district_id, period, value, n, suppressed, ci_low, ci_high
FROM metric_values
WHERE metric_id = $metric AND grain = $grain AND district_id IN (SELECT unnest($districts))
ORDER BY district_id, period
