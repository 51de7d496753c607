-- The latest period of every metric at one grain for one district (or 'city'), with the
-- reference publish computed for it (data/facts.py, queries/publish/reference_values.sql).
-- A metric with no row in its latest period had no record in it (a 0 for a count).
-- params: $grain, $district
-- columns: metric_id, district_id, period, through, kind, ref_period, ref_end, value, n,
--          ref_value, ref_n
SELECT w.metric_id, $district AS district_id, w.period, w.through, w.kind, w.ref_period, w.ref_end,
       v.value, v.n, r.value AS ref_value, r.n AS ref_n
FROM reference_windows AS w
LEFT JOIN metric_values AS v
       ON v.metric_id = w.metric_id AND v.grain = w.grain AND v.period = w.period AND v.district_id = $district
LEFT JOIN reference_values AS r
       ON r.metric_id = w.metric_id AND r.grain = w.grain AND r.district_id = $district
WHERE w.grain = $grain
ORDER BY w.metric_id
