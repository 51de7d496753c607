-- The snapshot's version and publish time.   params: none   columns: version, published_at
SELECT version, published_at FROM meta
