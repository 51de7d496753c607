-- The values of the public reported measures. A period not yet over at the data clock (the
-- current year, a fiscal year still running) is partial: published, marked so, never headlined
-- or compared as the year's figure.   params: $now (the data clock)
-- table: pub.reported_measures
-- columns: measure_id, period, period_end, grain, label, district_id, value, source_id, partial
CREATE TABLE pub.reported_measures AS SELECT v.* EXCLUDE (batch_id),
v.period_end > CAST($now AS DATE) AS partial FROM reported_measures v
SEMI JOIN reported_measure_defs d ON d.measure_id = v.measure_id AND d.public
ORDER BY v.measure_id, v.period, v.district_id
