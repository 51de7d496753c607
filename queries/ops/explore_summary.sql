-- One metric summarised over a range, per district and for the city ('city').
-- params: $metric, $grain, $start, $end
-- columns: district_id, total, mean_value, weighted, last_value, n, periods
SELECT district_id,
       sum(value) AS total,
       avg(value) AS mean_value,
       sum(value * denominator) / nullif(sum(CASE WHEN value IS NOT NULL THEN denominator END), 0) AS weighted,
       arg_max(value, period) AS last_value,
       sum(n) AS n,
       count(*) AS periods
FROM metric_values
WHERE metric_id = $metric AND grain = $grain AND period >= $start AND period < $end
GROUP BY district_id
ORDER BY district_id
