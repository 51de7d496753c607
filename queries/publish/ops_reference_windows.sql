-- The reference window of every published metric and grain (data/facts.py).   params: $keys
-- table: snap.reference_windows
-- columns: metric_id, grain, period, through, kind, ref_period, ref_end
CREATE TABLE snap.reference_windows AS SELECT * FROM reference_windows
WHERE metric_id || '@' || grain IN (SELECT unnest($keys))
