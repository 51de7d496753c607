-- The districts with their outlines.
-- table: snap.districts
-- columns: district_id, name, borough, population, area_km2, geometry, is_joint_area
CREATE TABLE snap.districts AS SELECT * FROM districts ORDER BY district_id
