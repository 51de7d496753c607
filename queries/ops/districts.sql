-- access: reference
-- Every district with its simplified geometry.   params: none
-- columns: district_id, name, borough, population, area_km2, geometry, is_joint_area
SELECT district_id, name, borough, population, area_km2, geometry, is_joint_area
FROM districts ORDER BY district_id
