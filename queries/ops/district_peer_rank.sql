-- Where one district stands among the districts of its borough, for every metric at its latest
-- period of a grain before $before: its rank by value (1 = highest; ties share a rank, and
-- value_ties says how many districts share the value) and how many districts were ranked. For callers who may not see every peer: a rank tells no peer's figure, where the
-- median of three districts is one of them. No district rows.
-- params: $grain, $before, $district   columns: metric_id, period, value_rank, value_ties, districts
WITH v AS (
    SELECT m.metric_id, m.period, m.district_id, m.value,
           max(m.period) OVER (PARTITION BY m.metric_id) AS latest
    FROM metric_values m JOIN districts d USING (district_id)
    WHERE m.grain = $grain AND m.period < $before AND m.district_id <> 'city' AND NOT d.is_joint_area
      AND d.borough = (SELECT borough FROM districts WHERE district_id = $district)
      AND m.value IS NOT NULL
), r AS (
    SELECT metric_id, period, district_id,
           rank() OVER (PARTITION BY metric_id ORDER BY value DESC) AS value_rank,
           count(*) OVER (PARTITION BY metric_id, value) AS value_ties,
           count(*) OVER (PARTITION BY metric_id) AS districts
    FROM v WHERE period = latest
)
SELECT metric_id, period, value_rank, value_ties, districts FROM r WHERE district_id = $district ORDER BY metric_id
