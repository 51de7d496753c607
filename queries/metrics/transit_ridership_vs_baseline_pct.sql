/*---
id: transit_ridership_vs_baseline_pct
domain: transport
label: Transit riders vs. baseline
unit: "%"
format: ".1f"
direction: higher
target: 90
warning: 75
cadence: 1d
aggregate: ratio
public: true
per_capita: false
counts: {n: transit_ridership_vs_baseline_pct_records}
grains: [day, week, month]
standing: true    # off target over a complete week is a standing status on /alerts, not an alert episode (README: Standing status)
source: demo_transit
description: >
  Transit riders as a percentage of the riders on a comparable day of a reference period
  (same weekday and time of year): 100 means as many riders as then, 80 means a fifth fewer.
  Higher is better.
method: >
  For every district, day and mode the operator reports riders and the riders of the
  comparable day in the reference period (the baseline). We add up the riders and the baseline riders of the period and
  take 100 x riders / baseline riders. Days and modes without a baseline figure are left
  out of both sums. The city value is all riders divided by all baseline riders in the
  city, not an average of district percentages, so busy districts weigh more. Values above
  100 are possible. n is the number of riders counted.
i18n:
  es:
    label: Viajeros del transporte público frente a la referencia
    description: >
      Los viajeros como porcentaje de los de un día comparable del periodo de referencia (mismo
      día de la semana y época del año): 100 significa tantos viajeros como entonces, 80
      significa una quinta parte menos. Cuanto más alto, mejor.
    method: >
      Para cada distrito, día y modo el operador informa de los viajeros y de los viajeros del
      día comparable del periodo de referencia. Sumamos los viajeros y los viajeros de
      referencia del periodo y tomamos 100 x viajeros / viajeros de referencia. Los días y modos
      sin cifra de referencia quedan fuera de ambas sumas. El valor de la ciudad son todos los
      viajeros divididos entre todos los viajeros de referencia de la ciudad, no una media de
      los porcentajes de los distritos, así que los distritos concurridos pesan más. Son
      posibles valores por encima de 100. n es el número de viajeros contados.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(riders) / nullif(sum(baseline_riders), 0) AS value,
       sum(riders)::DOUBLE                                   AS numerator,
       sum(baseline_riders)::DOUBLE                          AS denominator,
       sum(riders)::BIGINT                                   AS n
FROM (
    SELECT district_id, CAST(date_trunc($grain, day) AS TIMESTAMP) AS period,
           riders, baseline_riders
    FROM transit_ridership
    WHERE day >= $start AND day < $end AND baseline_riders > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
