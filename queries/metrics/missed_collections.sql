/*---
id: missed_collections
domain: waste
label: Missed collection reports
unit: reports
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
counts: {n: missed_collection_reports}
grains: [day, week, month]
source: demo_311
description: >
  How many times residents reported through 311 that their rubbish, recycling or organics
  were not picked up on the scheduled day. Fewer reports are better.
method: >
  Count of 311 service requests in the category 'Missed Collection', by the day, week or
  month in which they were made and the district of the address reported. The city value is
  the sum over all districts. Not every missed pickup is reported, and one missed street can
  produce several reports, so this measures reported problems, not the exact number of
  missed stops. n is the number of reports.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       count(*)::DOUBLE AS value,
       count(*)::DOUBLE AS numerator,
       NULL::DOUBLE     AS denominator,
       count(*)::BIGINT AS n
FROM (
    SELECT district_id, date_trunc($grain, created_at) AS period
    FROM service_requests
    WHERE created_at >= $start AND created_at < $end AND category = 'Missed Collection'
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
