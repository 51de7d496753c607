-- The cells of this release (registered as release_df) kept with their release version.
-- writes table public_release_cells
INSERT INTO public_release_cells SELECT metric_id, grain, district_id, period::TIMESTAMP, value::DOUBLE, numerator::DOUBLE, denominator::DOUBLE, n::BIGINT, suppressed::BOOLEAN, ci_low::DOUBLE, ci_high::DOUBLE, release FROM release_df
