-- The last $points values of every metric at one grain for one district (wall sparklines).
-- params: $district, $grain, $points   columns: metric_id, period, value
SELECT metric_id, period, value FROM (
    SELECT metric_id, period, value,
           row_number() OVER (PARTITION BY metric_id ORDER BY period DESC) AS rn
    FROM metric_values WHERE grain = $grain AND district_id = $district
) WHERE rn <= $points
ORDER BY metric_id, period
