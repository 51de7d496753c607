-- The officials' annotations an admin approved for the public site (registered as notes_df by
-- data.publish._write_public_annotations; no author, no record).
-- table: pub.public_annotations
-- columns: starts_at, ends_at, district_id, domain, kind, title, approved_at
CREATE TABLE pub.public_annotations AS SELECT starts_at::TIMESTAMP AS starts_at,
ends_at::TIMESTAMP AS ends_at, district_id::VARCHAR AS district_id, domain::VARCHAR AS domain,
kind::VARCHAR AS kind, title::VARCHAR AS title, approved_at::TIMESTAMP AS approved_at
FROM notes_df ORDER BY starts_at
