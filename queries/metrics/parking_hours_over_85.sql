/*---
id: parking_hours_over_85
domain: parking
label: Facility-hours over 85 % full
unit: facility-hours
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: false
per_capita: false
counts: {n: parking_hours_over_85_records}
grains: [hour, day, week, month]
source: demo_parking
description: >
  How many hours garages and kerbside zones spent more than 85 % full, added over all
  monitored facilities in the district: 3 facilities full for 2 hours each make 6
  facility-hours. It shows where and when drivers struggle to find a space.
method: >
  For each garage or zone and each clock hour we take the occupancy of that hour: the
  occupied spaces over the spaces, summed over the sensor reports of the hour, with occupied
  counts capped at the number of spaces. We count the facility-hours where it was above 85 %.
  A period's value is the number of such facility-hours; the city value is the sum over all
  districts. Hours in which a facility sent no report count as not full. The total depends on
  how many facilities have sensors, so compare a district with itself over time. n is the
  number of facility-hours with at least one report.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       count(*) FILTER (WHERE occupancy_pct > 85)::DOUBLE AS value,
       count(*) FILTER (WHERE occupancy_pct > 85)::DOUBLE AS numerator,
       NULL::DOUBLE                                       AS denominator,
       count(*)::BIGINT                                   AS n
FROM (
    SELECT district_id, date_trunc($grain, hour) AS period, occupancy_pct
    FROM (
        SELECT district_id, facility_id, date_trunc('hour', ts) AS hour,
               100.0 * sum(least(greatest(occupied, 0), capacity)) / sum(capacity) AS occupancy_pct
        FROM parking_occupancy
        WHERE ts >= $start AND ts < $end AND capacity > 0
        GROUP BY district_id, facility_id, date_trunc('hour', ts)
    ) AS facility_hours
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
