-- The changed data times are rolled up: forget them.
DELETE FROM rollup_dirty
