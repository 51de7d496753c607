-- Values of one metric for every district at its latest period of a grain.
-- params: $metric, $grain   columns: district_id, period, value, n
SELECT district_id, period, value, n FROM metric_values
WHERE metric_id = $metric AND grain = $grain AND district_id <> 'city'
  AND period = (SELECT max(period) FROM metric_values WHERE metric_id = $metric AND grain = $grain)
