-- Drop the reference window of a metric or grain no longer published.   params: $m, $g
DELETE FROM reference_windows WHERE metric_id = $m AND grain = $g
