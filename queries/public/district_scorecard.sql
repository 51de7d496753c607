-- Every public metric for one district and the city at the latest published period of a grain
-- (the latest period per metric).   params: $grain, $district
-- columns: metric_id, period, district_id, value, n, suppressed, ci_low, ci_high
SELECT v.metric_id, v.period, v.district_id, v.value, v.n, v.suppressed, v.ci_low, v.ci_high
FROM metric_values v
JOIN (SELECT metric_id, max(period) AS period FROM metric_values WHERE grain = $grain GROUP BY metric_id) l
  ON l.metric_id = v.metric_id AND l.period = v.period
WHERE v.grain = $grain AND v.district_id IN ('city', $district)
ORDER BY v.metric_id, v.district_id = 'city'
