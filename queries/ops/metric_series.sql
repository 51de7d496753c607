-- One metric over time for the given districts (use 'city' for the city).
-- params: $metric, $grain, $districts (list), $start, $end   columns: district_id, period, value, n
SELECT district_id, period, value, n
FROM metric_values
WHERE metric_id = $metric AND grain = $grain AND district_id IN (SELECT unnest($districts))
  AND period >= $start AND period < $end
ORDER BY district_id, period
