/*---
id: traffic_volume
domain: transport
label: Vehicles counted
unit: vehicles
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: false
counts: {n: traffic_volume_records}
grains: [hour, day, week, month]
source: demo_traffic
description: >
  How many vehicles passed the automatic traffic counters on the district's streets. It
  shows how traffic rises and falls over the day and the year; it is not a count of every
  car in the district.
method: >
  Each counter reports the vehicles that passed it in each interval. We add all counts in
  the district and period; the city value is the sum over all districts. A vehicle that
  passes several counters is counted at each of them, so compare a district with itself over
  time rather than with other districts: totals depend on how many counters a district has
  and where they are. For the same reason there is no per-resident view. When a counter is
  out of service the total drops (see the incidents on the chart). n is the number of
  counter reports.
known_issues: >
  Counter outages lower the total without any change in traffic.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(volume)::DOUBLE AS value,
       sum(volume)::DOUBLE AS numerator,
       NULL::DOUBLE        AS denominator,
       count(*)::BIGINT    AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, volume
    FROM traffic_counts
    WHERE ts >= $start AND ts < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
