/*---
id: bike_trips
domain: transport
label: Bike-share trips
unit: trips
format: ",.0f"
direction: higher
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
grains: [hour, day, week, month]
source: demo_bikeshare
description: >
  Trips started at bike-share stations in the district.
method: >
  Count of trips by the hour, day, week or month in which they started, assigned to the
  district of the start station. The city value is the sum over all districts.
---*/
SELECT coalesce(district_id, 'city') AS district_id,
       date_trunc($grain, started_at)  AS period,
       count(*)::DOUBLE                AS value,
       count(*)::DOUBLE                AS numerator,
       NULL::DOUBLE                    AS denominator,
       count(*)                        AS n
FROM bike_trips
WHERE started_at >= $start AND started_at < $end
GROUP BY GROUPING SETS ((district_id, date_trunc($grain, started_at)), (date_trunc($grain, started_at)))
