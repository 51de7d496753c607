-- Newest data time per source.   params: none
-- columns: source_id, name, domain, simulated, licence, data_time
SELECT s.source_id, s.name, s.domain, s.simulated, s.licence, t.data_time
FROM sources s LEFT JOIN source_times t USING (source_id)
