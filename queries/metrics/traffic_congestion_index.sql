/*---
id: traffic_congestion_index
domain: transport
label: Traffic congestion index
unit: "%"
format: ".1f"
direction: lower
target: 20
warning: 30
cadence: 1h
aggregate: ratio
public: true
per_capita: false
counts: {n: traffic_congestion_index_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold]
  grain: day
  min_n: 20
  pending: 2
  hysteresis: 3
source: demo_traffic
description: >
  How much slower traffic moved than on empty roads: 0 means traffic flowed at free-flow
  speed, 25 means vehicles lost a quarter of their free-flow speed on average. Lower is better.
method: >
  Each counter reports the vehicles that passed, their average speed and the street's
  free-flow speed (the speed traffic moves at when the road is nearly empty). For each report we take the
  share of free-flow speed lost, 1 - speed / free-flow speed (0 when traffic was at or above
  free-flow speed), and average it over the period weighting each report by its number of
  vehicles, so busy hours and streets count more. The value is that average times 100. The
  city value is computed the same way over all counters in the city, not as an average of
  district values. Reports without a speed, a free-flow speed or any vehicles are left out.
  n is the number of counter reports used.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(volume * speed_lost) / nullif(sum(volume), 0) AS value,
       sum(volume * speed_lost)::DOUBLE                           AS numerator,
       sum(volume)::DOUBLE                                        AS denominator,
       count(*)::BIGINT                                           AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, volume::DOUBLE AS volume,
           greatest(0.0, 1.0 - speed_kmh / free_flow_kmh) AS speed_lost
    FROM traffic_counts
    WHERE ts >= $start AND ts < $end
      AND volume > 0 AND speed_kmh IS NOT NULL AND speed_kmh >= 0 AND free_flow_kmh > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
