-- The districts with their outlines.
-- table: pub.districts
-- columns: district_id, name, borough, population, area_km2, geometry, is_joint_area
CREATE TABLE pub.districts AS SELECT district_id, name, borough, population, area_km2,
geometry, is_joint_area FROM districts ORDER BY district_id
