-- Median over districts of every metric at its latest period of a grain before $before (the
-- latest complete period): city-wide (borough NULL) and per borough (peer districts; a borough
-- of fewer than 3 districts is left out). Aggregates only, no district rows.
-- params: $grain, $before   columns: metric_id, borough, period, median_value, districts
WITH v AS (
    SELECT m.metric_id, m.period, m.value, d.borough,
           max(m.period) OVER (PARTITION BY m.metric_id) AS latest
    FROM metric_values m JOIN districts d USING (district_id)
    WHERE m.grain = $grain AND m.period < $before AND m.district_id <> 'city' AND NOT d.is_joint_area
)
SELECT metric_id, borough, any_value(period) AS period, median(value) AS median_value, count(*) AS districts
FROM v WHERE period = latest
GROUP BY GROUPING SETS ((metric_id), (metric_id, borough))
HAVING borough IS NULL OR count(*) >= 3
ORDER BY metric_id, borough NULLS FIRST
