-- The ops snapshot's metric metadata: every published metric, from the registry as this
-- warehouse publishes it (data.publish._metrics_frame, registered as metrics_df).
-- table: snap.metrics
-- columns: metric_id, domain, label, unit, format, direction, target, warning, cadence,
--          cadence_s, aggregate, public, per_capita, grains, source, description, method,
--          known_issues
CREATE TABLE snap.metrics AS SELECT * FROM metrics_df
