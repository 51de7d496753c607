-- The sources of the data (without their grain: that is the metrics' grains).
-- table: pub.sources
-- columns: source_id, name, domain, simulated, licence, description, publisher
CREATE TABLE pub.sources AS SELECT source_id, name, domain, simulated, licence,
description, publisher FROM sources
