-- The released cells (data.publish._published_figures, registered as cells_df). Withheld cells
-- (data.privacy release auditor) have null figures and suppressed = true, so pages can say
-- "fewer than k" and downloads flag it.
-- table: pub.metric_values
-- columns: metric_id, grain, district_id, period, value, numerator, denominator, n, suppressed,
--          ci_low, ci_high
CREATE TABLE pub.metric_values AS SELECT metric_id, grain, district_id, period::TIMESTAMP AS period,
value::DOUBLE AS value, numerator::DOUBLE AS numerator, denominator::DOUBLE AS denominator,
n::BIGINT AS n, suppressed::BOOLEAN AS suppressed, ci_low::DOUBLE AS ci_low,
ci_high::DOUBLE AS ci_high FROM cells_df ORDER BY metric_id, grain, period, district_id
