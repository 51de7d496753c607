/*---
id: transit_riders_citywide
domain: transport
label: Transit riders, citywide
unit: riders
format: ",.0f"
direction: higher
target: null
warning: null
cadence: 1d
aggregate: sum
public: true
per_capita: false
counts: {n: transit_riders_citywide_records}
grains: [day, week, month]
source: nyc_mta_ridership
description: >
  How many rides were taken on the subway and buses across the whole city, for operators
  that publish citywide totals only (no district figures, so there is no map).
method: >
  The operator reports estimated riders per day and mode for the whole city. We add the
  subway and bus riders of the days in the period (rail, paratransit and road crossings are
  other units and services and are left out). A person who rides twice is counted twice and
  a transfer can be counted in both modes. Figures arrive once a day. n is the number of
  riders counted.
i18n:
  es:
    label: Viajeros del transporte público, toda la ciudad
    unit: viajeros
    description: >
      Cuántos viajes se hicieron en metro y autobús en toda la ciudad, para operadores que solo
      publican totales de la ciudad (sin cifras por distrito, por eso no hay mapa).
    method: >
      El operador informa de los viajeros estimados por día y modo para toda la ciudad. Sumamos
      los viajeros de metro y autobús de los días del periodo (el tren, el transporte adaptado y
      los cruces por carretera son otras unidades y servicios y quedan fuera). Una persona que
      viaja dos veces se cuenta dos veces y un transbordo puede contarse en ambos modos. Las
      cifras llegan una vez al día. n es el número de viajeros contados.
---*/
SELECT 'city' AS district_id,
       CAST(date_trunc($grain, day) AS TIMESTAMP) AS period,
       sum(riders)::DOUBLE AS value,
       sum(riders)::DOUBLE AS numerator,
       NULL::DOUBLE        AS denominator,
       sum(riders)::BIGINT AS n
FROM transit_ridership_city
WHERE day >= $start AND day < $end AND mode IN ('subway', 'bus') AND unit = 'riders'
GROUP BY ALL
