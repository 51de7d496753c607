-- Latest period value of every metric at one grain for every district (not the city).
-- params: $grain   columns: metric_id, district_id, period, value, n
SELECT metric_id, district_id, period, value, n FROM (
    SELECT metric_id, district_id, period, value, n,
           max(period) OVER (PARTITION BY metric_id) AS latest
    FROM metric_values
    WHERE grain = $grain AND district_id <> 'city'
) WHERE period = latest
ORDER BY metric_id, district_id
