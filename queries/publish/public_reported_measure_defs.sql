-- Figures a department computes itself, published as reported (data/ingest/generic.py).
-- table: pub.reported_measure_defs
-- columns: measure_id, source_id, label, unit, format, direction, grain, fiscal_year_start,
--          method, description, public
CREATE TABLE pub.reported_measure_defs AS SELECT * FROM reported_measure_defs WHERE public
