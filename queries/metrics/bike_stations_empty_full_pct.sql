/*---
id: bike_stations_empty_full_pct
domain: transport
label: Bike stations empty or full
unit: "%"
format: ".1f"
direction: lower
target: 5
warning: 10
cadence: 1h
aggregate: ratio
public: true
per_capita: false
counts: {n: bike_stations_empty_full_pct_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold]
  grain: hour
  min_n: 20
  pending: 2
  hysteresis: 2
source: demo_bike_status
description: >
  How often a bike-share station could not serve a rider: it had no bike to rent (empty) or
  no free dock to return one (full). Lower is better.
method: >
  Stations report how many bikes and free docks they have, many times an hour. We count
  the reports showing 0 bikes or 0 free docks and divide by all reports in the period, times
  100. Broken bikes and docks count as unavailable, as the station reports them. Reports from
  stations with no docks in service (capacity 0) are left out. The city value is all
  empty-or-full reports in the city divided by all reports in the city, not an average of
  district percentages. Because reports are snapshots, this is the share of station-time
  empty or full only if stations report at regular intervals. n is the number of reports.
i18n:
  es:
    label: Estaciones de bicicletas vacías o llenas
    description: >
      Con qué frecuencia una estación de bicicleta compartida no pudo atender a un usuario: no
      tenía bicicletas para alquilar (vacía) o no tenía anclajes libres para devolverlas
      (llena). Cuanto más bajo, mejor.
    method: >
      Las estaciones informan muchas veces por hora de cuántas bicicletas y anclajes libres
      tienen. Contamos los informes con 0 bicicletas o 0 anclajes libres y los dividimos entre
      todos los informes del periodo, por 100. Las bicicletas y anclajes averiados cuentan como
      no disponibles, tal como los informa la estación. Se excluyen los informes de estaciones
      sin anclajes en servicio (capacidad 0). El valor de la ciudad son todos los informes de
      estación vacía o llena de la ciudad divididos entre todos los informes de la ciudad, no
      una media de los porcentajes de los distritos. Como los informes son instantáneas, esto es
      la parte del tiempo de estación vacía o llena solo si las estaciones informan a intervalos
      regulares. n es el número de informes.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(empty_or_full) / count(*) AS value,
       sum(empty_or_full)::DOUBLE              AS numerator,
       count(*)::DOUBLE                        AS denominator,
       count(*)::BIGINT                        AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period,
           CASE WHEN bikes_available <= 0 OR docks_available <= 0 THEN 1 ELSE 0 END AS empty_or_full
    FROM bike_station_status
    WHERE ts >= $start AND ts < $end AND capacity > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
