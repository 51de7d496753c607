-- Record the reference window of one metric at one grain (see data/facts.py for the kinds).
-- params: $metric_id, $grain, $period, $through, $kind, $ref_period, $ref_end
-- writes table reference_windows, columns:
--   metric_id VARCHAR, grain VARCHAR, period TIMESTAMP (the latest period),
--   through TIMESTAMP (its data reaches this time; >= the period's end when complete),
--   kind VARCHAR (same_elapsed | whole | previous_end), ref_period TIMESTAMP,
--   ref_end TIMESTAMP (records of [ref_period, ref_end) make the reference)
INSERT OR REPLACE INTO reference_windows
VALUES ($metric_id, $grain, $period, $through, $kind, $ref_period, $ref_end)
