-- The latest COMPLETE week of the standing metrics (registry field `standing`) for every
-- district and the city, with the data's reach (the standing off-target status on /alerts;
-- data/triage.standing rates each value with the metric's target and min_n).
-- params: $metrics   columns: metric_id, district_id, period, value, n
WITH done AS (
    SELECT metric_id,
           CASE WHEN through >= period + INTERVAL 7 DAY THEN period ELSE period - INTERVAL 7 DAY END AS period
    FROM reference_windows
    WHERE grain = 'week' AND list_contains($metrics, metric_id)
)
SELECT v.metric_id, v.district_id, v.period, v.value, v.n
FROM metric_values AS v
JOIN done AS d ON d.metric_id = v.metric_id AND d.period = v.period
WHERE v.grain = 'week'
ORDER BY v.metric_id, v.district_id
