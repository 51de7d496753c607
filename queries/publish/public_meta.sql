-- The public snapshot's version, publish time and suppression threshold.
-- params: $v (version), $p (published at), $k (suppression_k)
-- table: pub.meta
-- columns: version, published_at, kind, suppression_k
CREATE TABLE pub.meta AS SELECT $v AS version, $p::TIMESTAMP AS published_at,
'public' AS kind, $k::INTEGER AS suppression_k
