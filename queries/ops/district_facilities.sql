-- Parking facilities of one district with their latest occupancy reading (records behind the
-- parking metrics; facilities are places, not people: scoped by district, no records permission).
-- params: $district
-- columns: facility_id, name, district_id, kind, capacity, last_reading, occupied, occupancy_pct
SELECT facility_id, name, district_id, kind, capacity, last_reading, occupied, occupancy_pct
FROM parking_facilities
WHERE district_id = $district
ORDER BY occupancy_pct DESC NULLS LAST, facility_id
