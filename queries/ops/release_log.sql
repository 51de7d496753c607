-- The public releases, newest first: figures added, withheld, months held back and why.   params: $limit
-- columns: version, published_at, new_cells, new_withheld, held_blocks, late_cells, reason, seconds
SELECT version, published_at, new_cells, new_withheld, held_blocks, late_cells, reason, round(seconds, 2) AS seconds
FROM release_log ORDER BY published_at DESC, version DESC LIMIT $limit
