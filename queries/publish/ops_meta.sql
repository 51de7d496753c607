-- The ops snapshot's version and publish time.   params: $v (version), $p (published at)
-- table: snap.meta
-- columns: version, published_at, kind
CREATE TABLE snap.meta AS SELECT $v AS version, $p::TIMESTAMP AS published_at, 'ops' AS kind
