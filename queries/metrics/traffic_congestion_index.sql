/*---
id: traffic_congestion_index
domain: transport
label: Traffic congestion index
unit: "%"
format: ".1f"
direction: lower
target: 20
warning: 30
cadence: 1h
aggregate: ratio
public: true
per_capita: false
counts: {n: traffic_congestion_index_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold]
  grain: day
  min_n: 20
  pending: 2
  hysteresis: 3
source: demo_traffic
description: >
  How much slower traffic moved than on empty roads: 0 means traffic flowed at free-flow
  speed, 25 means vehicles lost a quarter of their free-flow speed on average. Lower is better.
method: >
  Each counter reports the vehicles that passed, their average speed and the street's
  free-flow speed (the speed traffic moves at when the road is nearly empty). For each report we take the
  share of free-flow speed lost, 1 - speed / free-flow speed (0 when traffic was at or above
  free-flow speed), and average it over the period weighting each report by its number of
  vehicles, so busy hours and streets count more. The value is that average times 100. The
  city value is computed the same way over all counters in the city, not as an average of
  district values. Reports without a speed, a free-flow speed or any vehicles are left out.
  n is the number of counter reports used.
i18n:
  es:
    label: Índice de congestión del tráfico
    description: >
      Cuánto más lento circuló el tráfico que con las calles vacías: 0 significa circulación a
      velocidad libre, 25 significa que los vehículos perdieron de media una cuarta parte de esa
      velocidad. Cuanto más bajo, mejor.
    method: >
      Cada contador informa de los vehículos que pasaron, su velocidad media y la velocidad
      libre de la calle (la velocidad del tráfico cuando la vía está casi vacía). Para cada
      informe tomamos la parte de la velocidad libre perdida, 1 - velocidad / velocidad libre (0
      cuando el tráfico iba a la velocidad libre o más), y la promediamos en el periodo
      ponderando cada informe por su número de vehículos, de modo que las horas y calles
      concurridas cuentan más. El valor es esa media por 100. El valor de la ciudad se calcula
      igual sobre todos los contadores de la ciudad, no como media de los valores de los
      distritos. Se excluyen los informes sin velocidad, sin velocidad libre o sin vehículos. n
      es el número de informes de contador usados.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(volume * speed_lost) / nullif(sum(volume), 0) AS value,
       sum(volume * speed_lost)::DOUBLE                           AS numerator,
       sum(volume)::DOUBLE                                        AS denominator,
       count(*)::BIGINT                                           AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, volume::DOUBLE AS volume,
           greatest(0.0, 1.0 - speed_kmh / free_flow_kmh) AS speed_lost
    FROM traffic_counts
    WHERE ts >= $start AND ts < $end
      AND volume > 0 AND speed_kmh IS NOT NULL AND speed_kmh >= 0 AND free_flow_kmh > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
