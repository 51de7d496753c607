-- One row of the release log: what this release added, withheld and held back, and why.
-- params: $v version, $p published_at, $c new cells, $w new withheld, $b blocks audited,
--         $h held blocks, $l late cells, $r reason, $s seconds
-- writes table public_release_log
INSERT INTO public_release_log VALUES ($v, $p, $c, $w, $b, $h, $l, $r, $s)
