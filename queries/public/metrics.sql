-- Every public metric with its metadata and the licence of its source.   params: none
-- columns: metric_id, domain, label, unit, format, direction, target, warning, cadence, aggregate,
--          per_capita, grains, source, source_name, licence, description, method, known_issues
SELECT m.metric_id, m.domain, m.label, m.unit, m.format, m.direction, m.target, m.warning, m.cadence,
       m.aggregate, m.per_capita, m.grains, m.source, s.name AS source_name, s.licence, m.description,
       m.method, m.known_issues
FROM metrics m LEFT JOIN sources s ON s.source_id = m.source
ORDER BY m.domain, m.metric_id
