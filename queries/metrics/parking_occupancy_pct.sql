/*---
id: parking_occupancy_pct
domain: parking
label: Parking occupancy
unit: "%"
format: ".1f"
direction: lower
target: 85
warning: 95
cadence: 1h
aggregate: ratio
min_n: 1      # each report counts every space of one garage or zone: a census of the monitored spaces, not a sample
public: true
per_capita: false
counts: {n: parking_occupancy_pct_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold, anomaly, forecast, no_data]
  grain: hour
  min_n: 1
  sensitivity: 4.5
  pending: {threshold: 3, anomaly: 2, forecast: 2}   # one report out of the ordinary is confirmed by the next
  hysteresis: 2
  severity: warning
  horizon: 3
  no_data: 2
  trials: true
source: demo_parking
description: >
  How full the monitored garages and kerbside parking zones were: the share of spaces
  occupied. Around 85 % is the usual goal (busy, yet a driver still finds a free space
  quickly); above it, drivers circle looking for a space. Low values are not a problem in
  themselves, so the status only flags occupancy above the goal.
method: >
  Sensors in each garage or zone report the number of occupied spaces and the number of
  spaces several times an hour. We add the occupied spaces over all reports in the district
  and period and divide by the sum of spaces, times 100. An occupied count above the number of
  spaces (sensor error, or cars parked illegally) is capped at the number of spaces; reports
  from facilities with no spaces are left out. The city value is the sum of occupied spaces
  over the sum of spaces in the city, so large garages weigh more than small zones; it is not
  an average of district percentages. Only facilities with sensors are included. n is the
  number of sensor reports.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(occupied) / sum(capacity) AS value,
       sum(occupied)::DOUBLE                  AS numerator,
       sum(capacity)::DOUBLE                  AS denominator,
       count(*)::BIGINT                       AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, capacity::DOUBLE AS capacity,
           least(greatest(occupied, 0), capacity)::DOUBLE AS occupied
    FROM parking_occupancy
    WHERE ts >= $start AND ts < $end AND capacity > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
