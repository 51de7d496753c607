-- The sources of the data.
-- table: snap.sources
-- columns: source_id, name, domain, simulated, licence, description, grain, publisher
CREATE TABLE snap.sources AS SELECT * FROM sources
