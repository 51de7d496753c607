-- The earliest data time changed since the last publish (NULL: nothing changed).
-- columns: since
SELECT min(since) FROM rollup_dirty
