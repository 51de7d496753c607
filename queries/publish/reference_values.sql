-- The reference value of one metric at one grain, per district and for the city: the metric's
-- OWN statement (its registry file, put where the marker below is by data/publish.py — code,
-- never input) over the reference window [$start, $end), which is the reference period cut to
-- the same elapsed part as the latest period (medians and ratios cannot be summed from hourly
-- rollups, so the metric's SQL runs on the raw records of the window).
-- params: $metric_id, $grain, $start, $end
-- writes table reference_values, columns:
--   metric_id VARCHAR, grain VARCHAR, district_id VARCHAR ('city' for the whole city),
--   value DOUBLE, numerator DOUBLE, denominator DOUBLE, n BIGINT (records behind the value)
INSERT INTO reference_values
SELECT $metric_id, $grain, q.district_id, q.value, q.numerator, q.denominator, q.n
FROM (/*metric*/) AS q
WHERE q.period = date_trunc($grain, $start::TIMESTAMP)
