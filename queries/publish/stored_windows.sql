-- The reference windows the last publish computed (data/facts.py).
-- columns: metric_id, grain, period, through, kind, ref_period, ref_end
SELECT metric_id, grain, period, through, kind, ref_period, ref_end FROM reference_windows
