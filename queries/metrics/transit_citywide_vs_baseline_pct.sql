/*---
id: transit_citywide_vs_baseline_pct
domain: transport
label: Transit riders vs. baseline, citywide
unit: "%"
format: ".1f"
direction: higher
target: 90
warning: 75
cadence: 1d
aggregate: ratio
public: true
per_capita: false
counts: {n: transit_citywide_vs_baseline_pct_records}
grains: [day, week, month]
alert:
  rules: [threshold]
  grain: week
  baseline_days: 56
  min_n: 1
  pending: 1
  hysteresis: 2
source: nyc_mta_ridership
description: >
  Subway and bus riders across the city as a percentage of the riders on a comparable day of the
  operator's reference period (for New York: before the pandemic). 100 means as many riders as
  then. Higher is better.
method: >
  For every day and mode the operator reports riders and the percentage of a comparable
  day of its reference period; the baseline riders are riders x 100 / that percentage. We
  add the subway and bus riders of the period and their baseline riders and take 100 x
  riders / baseline riders, so busy days weigh more than quiet ones. Days without a
  percentage are left out of both sums. n is the number of riders counted.
i18n:
  es:
    label: Viajeros frente a la referencia, toda la ciudad
    description: >
      Los viajeros de metro y autobús de toda la ciudad como porcentaje de los de un día
      comparable del periodo de referencia del operador (en Nueva York: antes de la pandemia).
      100 significa tantos viajeros como entonces. Cuanto más alto, mejor.
    method: >
      Para cada día y modo el operador informa de los viajeros y del porcentaje respecto a un
      día comparable de su periodo de referencia; los viajeros de referencia son viajeros x 100
      / ese porcentaje. Sumamos los viajeros de metro y autobús del periodo y sus viajeros de
      referencia y tomamos 100 x viajeros / viajeros de referencia, de modo que los días
      concurridos pesan más que los tranquilos. Los días sin porcentaje quedan fuera de ambas
      sumas. n es el número de viajeros contados.
---*/
SELECT 'city' AS district_id,
       CAST(date_trunc($grain, day) AS TIMESTAMP) AS period,
       100.0 * sum(riders) / nullif(sum(baseline_riders), 0) AS value,
       sum(riders)::DOUBLE                                   AS numerator,
       sum(baseline_riders)::DOUBLE                          AS denominator,
       sum(riders)::BIGINT                                   AS n
FROM transit_ridership_city
WHERE day >= $start AND day < $end AND mode IN ('subway', 'bus') AND unit = 'riders' AND baseline_riders > 0
GROUP BY ALL
