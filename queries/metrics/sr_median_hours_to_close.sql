/*---
id: sr_median_hours_to_close
domain: satisfaction
label: Median hours to close a request
unit: h
format: ",.1f"
direction: lower
target: 48
warning: 96
cadence: 1h
aggregate: median
public: true
per_capita: false
grains: [day, week, month]
source: demo_311
description: >
  Half of the service requests closed in the period were closed faster than this.
method: >
  Median of (closed_at - created_at) in hours over the requests closed in the period, by
  the district of the request; the city value is the median over all requests (not a
  median of district medians).
---*/
SELECT coalesce(district_id, 'city')                                   AS district_id,
       date_trunc($grain, closed_at)                                    AS period,
       median(epoch(closed_at - created_at) / 3600.0)                   AS value,
       NULL::DOUBLE                                                     AS numerator,
       NULL::DOUBLE                                                     AS denominator,
       count(*)                                                         AS n
FROM service_requests
WHERE closed_at IS NOT NULL AND closed_at >= $start AND closed_at < $end
GROUP BY GROUPING SETS ((district_id, date_trunc($grain, closed_at)), (date_trunc($grain, closed_at)))
