-- The snapshot's version, publish time and suppression threshold.   params: none
-- columns: version, published_at, suppression_k
SELECT version, published_at, suppression_k FROM meta
