-- Values of one public metric for every district at its latest period of a grain.
-- params: $metric, $grain   columns: district_id, period, value, n, suppressed, ci_low, ci_high
SELECT district_id, period, value, n, suppressed, ci_low, ci_high FROM metric_values
WHERE metric_id = $metric AND grain = $grain AND district_id <> 'city'
  AND period = (SELECT max(period) FROM metric_values WHERE metric_id = $metric AND grain = $grain)
