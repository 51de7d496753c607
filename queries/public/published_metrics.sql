-- How this snapshot publishes each metric: its grains (comma-separated, finest first; none finer
-- than its sources' data), the source with the newest data in its table, and the cadence that
-- source can keep. A metric with no published value (its table has data, but none it counts)
-- is left out, so it is hidden like one without a source.
-- params: none   columns: metric_id, grains, source, cadence, cadence_s
SELECT metric_id, grains, source, cadence, cadence_s FROM metrics
WHERE metric_id IN (SELECT DISTINCT metric_id FROM metric_values)
ORDER BY metric_id
