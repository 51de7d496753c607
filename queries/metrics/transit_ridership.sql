/*---
id: transit_ridership
domain: transport
label: Transit riders
unit: riders
format: ",.0f"
direction: higher
target: null
warning: null
cadence: 1d
aggregate: sum
public: true
per_capita: true
counts: {n: transit_ridership_records}
grains: [day, week, month]
source: demo_transit
description: >
  How many rides were taken on the subway and buses in the district, as counted by the
  transit operator. It shows how much people rely on public transport, day by day.
method: >
  The transit operator reports riders per district, day and mode (subway, bus). We add the
  modes and the days of the period. A person who rides twice is counted twice, and a
  transfer between modes can be counted in both. The city value is the sum over all
  districts. Figures arrive once a day, so today is not included until tomorrow. n is the
  number of riders counted.
i18n:
  es:
    label: Viajeros del transporte público
    unit: viajeros
    description: >
      Cuántos viajes se hicieron en metro y autobús en el distrito, según el operador de
      transporte. Muestra cuánto dependen las personas del transporte público, día a día.
    method: >
      El operador de transporte informa de los viajeros por distrito, día y modo (metro,
      autobús). Sumamos los modos y los días del periodo. Una persona que viaja dos veces se
      cuenta dos veces, y un transbordo entre modos puede contarse en ambos. El valor de la
      ciudad es la suma de todos los distritos. Las cifras llegan una vez al día, así que hoy no
      se incluye hasta mañana. n es el número de viajeros contados.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(riders)::DOUBLE AS value,
       sum(riders)::DOUBLE AS numerator,
       NULL::DOUBLE        AS denominator,
       sum(riders)::BIGINT AS n
FROM (
    SELECT district_id, CAST(date_trunc($grain, day) AS TIMESTAMP) AS period, riders
    FROM transit_ridership
    WHERE day >= $start AND day < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
