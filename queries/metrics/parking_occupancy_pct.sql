/*---
id: parking_occupancy_pct
domain: parking
label: Parking occupancy
unit: "%"
format: ".1f"
direction: lower
target: 85
warning: 95
cadence: 1h
aggregate: ratio
min_n: 1      # each report counts every space of one garage or zone: a census of the monitored spaces, not a sample
public: true
per_capita: false
counts: {n: parking_occupancy_pct_records}
grains: [hour, day, week, month]
alert:
  rules: [threshold, anomaly, forecast, no_data]
  grain: hour
  min_n: 1
  sensitivity: 4.5
  pending: {threshold: 3, anomaly: 2, forecast: 2}   # one report out of the ordinary is confirmed by the next
  hysteresis: 2
  severity: warning
  horizon: 3
  no_data: 2
  trials: true
source: demo_parking
description: >
  How full the monitored garages and kerbside parking zones were: the share of spaces
  occupied. Around 85 % is the usual goal (busy, yet a driver still finds a free space
  quickly); above it, drivers circle looking for a space. Low values are not a problem in
  themselves, so the status only flags occupancy above the goal.
method: >
  Sensors in each garage or zone report the number of occupied spaces and the number of
  spaces several times an hour. We add the occupied spaces over all reports in the district
  and period and divide by the sum of spaces, times 100. An occupied count above the number of
  spaces (sensor error, or cars parked illegally) is capped at the number of spaces; reports
  from facilities with no spaces are left out. The city value is the sum of occupied spaces
  over the sum of spaces in the city, so large garages weigh more than small zones; it is not
  an average of district percentages. Only facilities with sensors are included. n is the
  number of sensor reports.
i18n:
  es:
    label: Ocupación del estacionamiento
    description: >
      Qué tan llenos estuvieron los garajes y zonas de estacionamiento en la calle controlados:
      la parte de plazas ocupadas. La meta habitual es en torno al 85 % (mucho uso, pero un
      conductor aún encuentra plaza rápido); por encima, los conductores dan vueltas buscando
      plaza. Los valores bajos no son un problema en sí, por eso el estado solo señala la
      ocupación por encima de la meta.
    method: >
      Los sensores de cada garaje o zona informan varias veces por hora del número de plazas
      ocupadas y del número de plazas. Sumamos las plazas ocupadas de todos los informes del
      distrito y del periodo y dividimos entre la suma de plazas, por 100. Una ocupación por
      encima del número de plazas (error del sensor o coches mal aparcados) se limita al número
      de plazas; se excluyen los informes de instalaciones sin plazas. El valor de la ciudad es
      la suma de plazas ocupadas entre la suma de plazas de la ciudad, así que los garajes
      grandes pesan más que las zonas pequeñas; no es una media de los porcentajes de los
      distritos. Solo se incluyen las instalaciones con sensores. n es el número de informes de
      sensor.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(occupied) / sum(capacity) AS value,
       sum(occupied)::DOUBLE                  AS numerator,
       sum(capacity)::DOUBLE                  AS denominator,
       count(*)::BIGINT                       AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, capacity::DOUBLE AS capacity,
           least(greatest(occupied, 0), capacity)::DOUBLE AS occupied
    FROM parking_occupancy
    WHERE ts >= $start AND ts < $end AND capacity > 0
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
