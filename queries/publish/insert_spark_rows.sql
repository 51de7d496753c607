-- One metric's rollups computed by Spark (data/rollup_engines.py), registered as _spark_rows.
-- params: $metric_id
-- writes table metric_values
INSERT INTO metric_values SELECT $metric_id, grain, district_id, period, value, numerator, denominator, n FROM _spark_rows
