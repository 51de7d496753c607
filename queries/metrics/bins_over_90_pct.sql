/*---
id: bins_over_90_pct
domain: waste
label: Bin readings over 90 % full
unit: "%"
format: ".1f"
direction: lower
target: 5
warning: 10
cadence: 1h
aggregate: ratio
public: false
per_capita: false
counts: {n: bins_over_90_pct_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold]
  grain: day
  min_n: 20
  pending: 1
  hysteresis: 2
  trials: true
source: demo_bins
description: >
  How often a sensor-equipped public litter bin was nearly full (more than 90 %) when it
  reported. A high share means bins overflow before crews empty them: the collection round
  needs to come sooner or more often. Lower is better.
method: >
  Bins with a fill sensor report how full they are at regular intervals. We count the
  reports above 90 % and divide by all reports in the district and period, times 100. The
  city value is all such reports divided by all reports in the city, not an average of
  district shares. Only bins with a sensor are included, and they are not spread evenly over
  the city. n is the number of reports. Kept internal because it guides the daily routing
  of crews and is easy to misread without knowing where the sensors are.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(over_90) / count(*) AS value,
       sum(over_90)::DOUBLE             AS numerator,
       count(*)::DOUBLE                 AS denominator,
       count(*)::BIGINT                 AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period,
           CASE WHEN fill_pct > 90 THEN 1 ELSE 0 END AS over_90
    FROM bin_fill
    WHERE ts >= $start AND ts < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
