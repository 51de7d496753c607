/*---
id: bike_trips
domain: transport
label: Bike-share trips
unit: trips
format: ",.0f"
direction: higher
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
counts: {n: bike_trips}
grains: [hour, day, week, month]
source: demo_bikeshare
description: >
  How many bike-share trips started at stations in the district. More trips mean more
  people choosing the bike; the number rises and falls with the weather and the seasons.
method: >
  Each trip is counted once, in the hour, day, week or month in which it started, and in
  the district of the station where it started (where it ended does not matter). The city
  value is the sum over all districts. There is no target: trip counts depend on how many
  stations a district has. n is the number of trips.
i18n:
  es:
    label: Viajes en bicicleta compartida
    unit: viajes
    description: >
      Cuántos viajes en bicicleta compartida comenzaron en estaciones del distrito. Más viajes
      significan más personas que eligen la bicicleta; la cifra sube y baja con el tiempo y las
      estaciones del año.
    method: >
      Cada viaje se cuenta una vez, en la hora, el día, la semana o el mes en que empezó, y en
      el distrito de la estación donde empezó (no importa dónde terminó). El valor de la ciudad
      es la suma de todos los distritos. No hay meta: el número de viajes depende de cuántas
      estaciones tiene un distrito. n es el número de viajes.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       count(*)::DOUBLE  AS value,
       count(*)::DOUBLE  AS numerator,
       NULL::DOUBLE      AS denominator,
       count(*)::BIGINT  AS n
FROM (
    SELECT district_id, date_trunc($grain, started_at) AS period
    FROM bike_trips
    WHERE started_at >= $start AND started_at < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
