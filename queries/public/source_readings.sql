-- The city's snapshot feeds (parking bays, car parks, docks, bins: facilities, not people): how
-- many readings so far and when they were taken; the overview explains a feed with too few
-- readings for a published period instead of showing nothing.
-- params: none   columns: table_name, source_id, name, readings, first_reading, last_reading
SELECT table_name, source_id, name, readings, first_reading, last_reading FROM source_readings
ORDER BY name, table_name
