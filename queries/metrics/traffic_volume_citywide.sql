/*---
id: traffic_volume_citywide
domain: transport
label: Vehicles per counter-hour, citywide
unit: vehicles/h
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 30d
aggregate: ratio
public: true
per_capita: false
counts: {n: traffic_volume_citywide_records}
grains: [day, week, month]
source: nyc_dot_traffic_counts
description: >
  How many vehicles an automatic traffic counter recorded in an hour, on average, across the
  street segments being counted, for counts whose place is known only by borough (no district
  figures, so there is no map).
method: >
  The city's transport department places counters on street segments for a few days at a time
  and publishes the vehicles counted per segment, direction and hour (or quarter hour). We add
  the vehicles counted in the period and divide by the number of counter-hours (one segment and
  direction counted for one hour). Which segments are counted changes from week to week, so a
  rise or fall can mean busier streets were counted rather than that traffic grew; read it as
  the typical volume at the counted places, not as a city traffic trend. n is the number of
  counts.
known_issues: >
  The counted segments change between periods; periods without any count have no value.
---*/
SELECT 'city' AS district_id,
       CAST(date_trunc($grain, ts) AS TIMESTAMP) AS period,
       sum(volume)::DOUBLE / count(DISTINCT (segment_id, direction, date_trunc('hour', ts))) AS value,
       sum(volume)::DOUBLE AS numerator,
       count(DISTINCT (segment_id, direction, date_trunc('hour', ts)))::DOUBLE AS denominator,
       count(*)::BIGINT AS n
FROM traffic_counts_borough
WHERE ts >= $start AND ts < $end
GROUP BY ALL
