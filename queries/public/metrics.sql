-- Every public metric this city has a source for (the source publishing it is one the city
-- registered by loading data; a metric the city has no data for keeps the registry's default
-- source, which it never registered) with its metadata and its own source's name and licence
-- (a YAML mapping's, not the demo's).
-- params: none
-- columns: metric_id, domain, label, unit, format, direction, target, warning, cadence, aggregate,
--          per_capita, grains, source, source_name, publisher, licence, description, method, known_issues
SELECT m.metric_id, m.domain, m.label, m.unit, m.format, m.direction, m.target, m.warning, m.cadence,
       m.aggregate, m.per_capita, m.grains, m.source, s.name AS source_name, s.publisher, s.licence, m.description,
       m.method, m.known_issues
FROM metrics m LEFT JOIN sources s ON s.source_id = m.source
WHERE m.source IN (SELECT source_id FROM sources)
ORDER BY m.domain, m.metric_id
