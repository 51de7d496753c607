-- The last $points daily values of every metric for one district (wall sparklines).
-- params: $district, $points   columns: metric_id, period, value
SELECT metric_id, period, value FROM (
    SELECT metric_id, period, value,
           row_number() OVER (PARTITION BY metric_id ORDER BY period DESC) AS rn
    FROM metric_values WHERE grain = 'day' AND district_id = $district
) WHERE rn <= $points
ORDER BY metric_id, period
