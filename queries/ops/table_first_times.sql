-- When each raw table's data begins: a period that starts earlier is not covered, so it is
-- no reference for a comparison (data/facts.py).   params: none
-- columns: table_name, first_time
SELECT table_name, min(first_time) AS first_time FROM source_times GROUP BY table_name
