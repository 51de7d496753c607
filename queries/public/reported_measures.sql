-- The reported measures this city publishes (figures a department computes itself, loaded by a
-- YAML mapping with target reported_measures), with their own method text and their source's
-- name, publisher and licence, and their latest COMPLETE reported period (a period not over at the
-- data clock, marked partial at publish, is never the headline: a year to date is not the year).
-- params: none
-- columns: metric_id, domain, label, unit, format, direction, aggregate, grains, fiscal_year_start,
--          source, source_name, publisher, licence, description, method, latest_period, latest_label,
--          latest_value (the citywide figure of the latest period, NULL if the measure has none)
SELECT d.measure_id AS metric_id, s.domain, d.label, d.unit, d.format, d.direction, 'reported' AS aggregate,
       d.grain AS grains, d.fiscal_year_start, d.source_id AS source, s.name AS source_name, s.publisher,
       s.licence, d.description, d.method,
       (SELECT max(v.period) FROM reported_measures v WHERE v.measure_id = d.measure_id
        AND NOT v.partial) AS latest_period,
       (SELECT arg_max(v.label, v.period) FROM reported_measures v WHERE v.measure_id = d.measure_id
        AND NOT v.partial) AS latest_label,
       (SELECT arg_max(v.value, v.period) FROM reported_measures v WHERE v.measure_id = d.measure_id
        AND v.district_id = 'city' AND NOT v.partial) AS latest_value
FROM reported_measure_defs d LEFT JOIN sources s ON s.source_id = d.source_id
WHERE d.measure_id IN (SELECT measure_id FROM reported_measures)
ORDER BY s.domain, d.measure_id
