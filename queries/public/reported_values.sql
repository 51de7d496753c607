-- The figures of one reported measure as the department reported them, per period (its start,
-- end and the department's name for it: FY2023-24) and district ('city' = the whole city).
-- params: $metric (a measure id), $district (a district id, or NULL for all)
-- columns: metric_id, grain, period, period_end, period_label, district_id, value, partial (the period
--          was not over at the data clock: a year to date, not the year)
SELECT measure_id AS metric_id, grain, period, period_end, label AS period_label, district_id, value, partial
FROM reported_measures
WHERE measure_id = $metric AND ($district IS NULL OR district_id = $district)
ORDER BY period, district_id
