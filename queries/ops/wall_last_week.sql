-- Per metric, for one district (or 'city'): the latest day, the same day a week earlier, and
-- the hourly total of that earlier day up to the same hour as the latest hourly value (the
-- fair comparison for a running day's total).   params: $district
-- columns: metric_id, period, last_week, last_week_so_far, hours_so_far
WITH d AS (
    SELECT metric_id, period, value FROM metric_values WHERE grain = 'day' AND district_id = $district
), latest AS (
    SELECT metric_id, max(period) AS period FROM d GROUP BY metric_id
), h AS (
    SELECT metric_id, period, value FROM metric_values WHERE grain = 'hour' AND district_id = $district
), last_hour AS (
    SELECT metric_id, max(period) AS last_hour FROM h GROUP BY metric_id
), so_far AS (
    SELECT l.metric_id, sum(h.value) AS value, count(*) AS hours
    FROM last_hour l JOIN h ON h.metric_id = l.metric_id
     AND h.period >= date_trunc('day', l.last_hour) - INTERVAL 7 DAY
     AND h.period <= l.last_hour - INTERVAL 7 DAY
    GROUP BY l.metric_id
)
SELECT latest.metric_id, latest.period, w.value AS last_week, so_far.value AS last_week_so_far,
       so_far.hours AS hours_so_far
FROM latest
LEFT JOIN d w ON w.metric_id = latest.metric_id AND w.period = latest.period - INTERVAL 7 DAY
LEFT JOIN so_far ON so_far.metric_id = latest.metric_id
ORDER BY latest.metric_id
