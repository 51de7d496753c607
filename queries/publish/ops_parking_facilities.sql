-- Parking facilities with their latest reading (the records behind the parking metrics).
-- table: snap.parking_facilities
-- columns: facility_id, name, district_id, kind, capacity, last_reading, occupied, occupancy_pct
CREATE TABLE snap.parking_facilities AS
SELECT f.facility_id, f.name, f.district_id, f.kind, f.capacity, o.ts AS last_reading, o.occupied,
round(100.0 * o.occupied / nullif(o.capacity, 0), 1) AS occupancy_pct
FROM parking_facilities f LEFT JOIN (
  SELECT facility_id, max(ts) AS ts, arg_max(occupied, ts) AS occupied, arg_max(capacity, ts) AS capacity
  FROM parking_occupancy
  WHERE ts >= (SELECT max(ts) FROM parking_occupancy) - INTERVAL 2 DAY GROUP BY facility_id
) o USING (facility_id) ORDER BY f.district_id, f.facility_id
