-- Hourly rollups are kept for hourly_retention_days only.   params: $f (the oldest hour kept)
DELETE FROM metric_values WHERE grain = 'hour' AND period < $f
