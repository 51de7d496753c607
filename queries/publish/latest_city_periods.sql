-- The latest period of every metric at every grain (from the city's rollups).
-- columns: metric_id, grain, period
SELECT metric_id, grain, max(period) FROM metric_values WHERE district_id = 'city' GROUP BY 1, 2
