-- Every public cell released so far, as it was released (releases are final).
-- columns: the columns of public_release_cells but release
SELECT * EXCLUDE (release) FROM public_release_cells
