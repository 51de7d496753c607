-- Districts without geometry (for the API and the district picker).   params: none
-- columns: district_id, name, borough, population, area_km2, is_joint_area
SELECT district_id, name, borough, population, area_km2, is_joint_area
FROM districts ORDER BY name
