-- Events shown on time series (storms, outages, strikes, notes).
-- table: snap.incidents
-- columns: incident_id, kind, title, domain, district_id, starts_at, ends_at, simulated
CREATE TABLE snap.incidents AS SELECT * FROM incidents ORDER BY starts_at
