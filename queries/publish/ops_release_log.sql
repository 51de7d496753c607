-- The release log (what the auditor released, held back and why), newest 200, for /data.
-- table: snap.release_log
-- columns: version, published_at, new_cells, new_withheld, blocks_audited, held_blocks,
--          late_cells, reason, seconds
CREATE TABLE snap.release_log AS SELECT * FROM public_release_log
ORDER BY published_at DESC LIMIT 200
