-- One metric's rollups at one grain from $start on: the metric's OWN statement (its registry
-- file, put where the marker below is by data/rollup_engines.py — code, never input).
-- params: $metric_id, $grain, $start, $end
-- writes table metric_values
INSERT INTO metric_values SELECT $metric_id, $grain, q.district_id, q.period, q.value, q.numerator, q.denominator, q.n FROM (/*metric*/) q
