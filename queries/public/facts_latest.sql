-- The latest published period of every public metric at one grain (over all districts: a
-- district with no record in it has no row) and one district's (or the city's) values in that
-- period and the one before, for data/facts.py.   params: $grain, $district
-- columns: metric_id, district_id, latest, period, value, n, suppressed
WITH latest AS (
    SELECT metric_id, max(period) AS period FROM metric_values WHERE grain = $grain GROUP BY metric_id
)
SELECT l.metric_id, $district AS district_id, l.period AS latest, v.period, v.value, v.n, v.suppressed
FROM latest AS l
LEFT JOIN metric_values AS v
       ON v.metric_id = l.metric_id AND v.grain = $grain AND v.district_id = $district
      AND v.period >= l.period - CASE WHEN $grain = 'month' THEN INTERVAL 1 MONTH ELSE INTERVAL 7 DAY END
ORDER BY l.metric_id, v.period
