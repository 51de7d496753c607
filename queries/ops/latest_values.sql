-- Latest period of every metric at one grain for one district (or 'city'), with the
-- previous period's value.   params: $grain, $district
-- columns: metric_id, period, value, n, previous
SELECT metric_id, period, value, n, previous FROM (
    SELECT metric_id, period, value, n,
           lead(value) OVER (PARTITION BY metric_id ORDER BY period DESC) AS previous,
           row_number() OVER (PARTITION BY metric_id ORDER BY period DESC) AS rn
    FROM metric_values
    WHERE grain = $grain AND district_id = $district
) WHERE rn = 1
