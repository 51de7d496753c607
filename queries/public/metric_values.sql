-- Published values of one public metric: every fixed grain, period and district (and 'city'),
-- suppressed cells null with the flag.   params: $metric, $grain (NULL = all), $district (NULL = all)
-- columns: metric_id, grain, period, district_id, district_name, value, numerator, denominator,
--          n, suppressed, ci_low, ci_high
SELECT v.metric_id, v.grain, v.period, v.district_id,
       CASE WHEN v.district_id = 'city' THEN 'Whole city' ELSE d.name END AS district_name,
       v.value, v.numerator, v.denominator, v.n, v.suppressed, v.ci_low, v.ci_high
FROM metric_values v LEFT JOIN districts d ON d.district_id = v.district_id
WHERE v.metric_id = $metric
  AND ($grain::VARCHAR IS NULL OR v.grain = $grain)
  AND ($district::VARCHAR IS NULL OR v.district_id = $district)
ORDER BY v.grain, v.period, v.district_id = 'city', v.district_id
