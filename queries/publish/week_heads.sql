-- The days of every week that straddles two months which fall in the month of its Monday (the
-- week's "head"), per metric, district and counted column, summed from the day figures: the
-- release auditor's split of a straddling week between its two months (data.privacy.week_floors).
--   params: $ids (metric ids), $since (the earliest week start)
--   columns: metric_id, district_id, period (the week's Monday), head_n, head_numerator, head_denominator
SELECT metric_id, district_id, date_trunc('week', period) AS period,
       sum(n) AS head_n, sum(numerator) AS head_numerator, sum(denominator) AS head_denominator
FROM metric_values
WHERE grain = 'day' AND metric_id IN (SELECT unnest($ids)) AND period >= $since
  AND date_trunc('month', period) = date_trunc('month', date_trunc('week', period))
  AND date_trunc('month', date_trunc('week', period) + INTERVAL 6 DAY) > date_trunc('month', period)
GROUP BY ALL
