-- The public snapshot's metric metadata: the public metrics at the public grains
-- (data.publish._metrics_frame, registered as metrics_df).
-- table: pub.metrics
-- columns: metric_id, domain, label, unit, format, direction, target, warning, cadence,
--          cadence_s, aggregate, public, per_capita, grains, source, description, method,
--          known_issues
CREATE TABLE pub.metrics AS SELECT * FROM metrics_df
