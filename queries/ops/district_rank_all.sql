-- Where one district stands among ALL districts of the city (joint areas left out), for each
-- given metric at the given period (parallel lists $metrics / $periods, one grain): its value
-- and n, its rank by value (1 = highest; ties share a rank, and value_ties says how many
-- districts share the value, the district itself included), how many districts have a value
-- and how many there are, and the spread over the districts (10th, 25th, 50th, 75th, 90th
-- percentile, interpolated: no district's own figure at the ends). A district with no row in a
-- period had no record: 0 for the metrics in $zero_metrics (counts, totals), no value otherwise.
-- Aggregates and the asked district's own rank only: no district rows.
-- params: $grain, $metrics (list), $periods (list), $zero_metrics (list), $district
-- columns: metric_id, period, districts, ranked, p10, p25, p50, p75, p90, value, n, value_rank, value_ties
WITH d AS (
    SELECT district_id FROM districts WHERE district_id <> 'city' AND NOT is_joint_area
), p AS (
    SELECT unnest($metrics) AS metric_id, unnest($periods) AS period
), v AS (
    SELECT p.metric_id, p.period, d.district_id,
           CASE WHEN m.value IS NULL AND m.n IS NULL AND list_contains($zero_metrics, p.metric_id) THEN 0.0
                ELSE m.value END AS value,
           coalesce(m.n, 0) AS n
    FROM p CROSS JOIN d
    LEFT JOIN metric_values m ON m.metric_id = p.metric_id AND m.period = p.period AND m.grain = $grain
                             AND m.district_id = d.district_id
), r AS (
    SELECT metric_id, period, district_id, value, n,
           CASE WHEN value IS NULL THEN NULL
                ELSE rank() OVER (PARTITION BY metric_id, value IS NULL ORDER BY value DESC) END AS value_rank,
           CASE WHEN value IS NULL THEN NULL ELSE count(*) OVER (PARTITION BY metric_id, value) END AS value_ties
    FROM v
), q AS (
    SELECT metric_id, any_value(period) AS period, count(*) AS districts, count(value) AS ranked,
           quantile_cont(value, 0.1) AS p10, quantile_cont(value, 0.25) AS p25, quantile_cont(value, 0.5) AS p50,
           quantile_cont(value, 0.75) AS p75, quantile_cont(value, 0.9) AS p90
    FROM v GROUP BY metric_id
)
SELECT q.metric_id, q.period, q.districts, q.ranked, q.p10, q.p25, q.p50, q.p75, q.p90,
       r.value, r.n, r.value_rank, r.value_ties
FROM q LEFT JOIN r ON r.metric_id = q.metric_id AND r.district_id = $district
ORDER BY q.metric_id
