-- Officials' annotations an admin approved for the public site (copied at publish), for one
-- domain and those for every domain: what explains a spike on a public trend.
-- params: $domain   columns: starts_at, ends_at, district_id, domain, kind, title
SELECT starts_at, ends_at, district_id, domain, kind, title
FROM public_annotations
WHERE domain IS NULL OR domain = $domain
ORDER BY starts_at
