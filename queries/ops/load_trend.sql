-- Rows loaded and quarantined per source and day since $since (the data-health trend). Only
-- batches whose rows are in the warehouse: a batch replaced by a reload (its rows deleted) or a
-- failed one (rolled back) counts nothing.
-- params: $since   columns: source_id, day, rows_loaded, rows_quarantined
SELECT source_id, date_trunc('day', coalesce(finished_at, started_at)) AS day,
       sum(rows_loaded)::BIGINT AS rows_loaded, sum(rows_quarantined)::BIGINT AS rows_quarantined
FROM load_batches
WHERE coalesce(finished_at, started_at) >= $since AND status = 'ok'
GROUP BY ALL
ORDER BY source_id, day
