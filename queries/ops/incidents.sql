-- Recorded events (storms, outages, strikes) overlapping a time range.
-- params: $start, $end   columns: incident_id, kind, title, domain, district_id, starts_at, ends_at
SELECT incident_id, kind, title, domain, district_id, starts_at, ends_at
FROM incidents WHERE ends_at >= $start AND starts_at < $end ORDER BY starts_at
