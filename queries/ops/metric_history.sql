-- Values of several metrics for one district (or 'city') over a range (KPI history, sparklines).
-- params: $metrics (list), $grain, $district, $start, $end
-- columns: metric_id, district_id, period, value, n
SELECT metric_id, district_id, period, value, n
FROM metric_values
WHERE metric_id IN (SELECT unnest($metrics)) AND grain = $grain AND district_id = $district
  AND period >= $start AND period < $end
ORDER BY metric_id, period
