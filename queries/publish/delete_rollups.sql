-- Drop one metric's rollups at one grain from a period on (they are recomputed next).
-- params: $m (metric id), $g (grain), $s (first period to drop)
DELETE FROM metric_values WHERE metric_id = $m AND grain = $g AND period >= $s
