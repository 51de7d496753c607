-- Drop the reference values of one metric at one grain (recomputed, or no longer published).
-- params: $m (metric id), $g (grain)
DELETE FROM reference_values WHERE metric_id = $m AND grain = $g
