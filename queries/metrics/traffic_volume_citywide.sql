/*---
id: traffic_volume_citywide
domain: transport
label: Vehicles per counter-hour, citywide
unit: vehicles/h
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 30d
aggregate: ratio
public: true
per_capita: false
counts: {n: traffic_volume_citywide_records}
grains: [day, week, month]
source: nyc_dot_traffic_counts
description: >
  How many vehicles an automatic traffic counter recorded in an hour, on average, on the street
  segments being counted across the city. The counted streets change from week to week, so this
  is the typical traffic where counts were made, not a city traffic trend. There is no map: the
  counts are known by borough only.
method: >
  The city's transport department places counters on street segments for a few days at a time
  and publishes the vehicles counted per segment, direction and hour (or quarter hour). We add
  the vehicles counted in the period and divide by the number of counter-hours (one segment and
  direction counted for one hour). Which segments are counted changes from week to week, so a
  rise or fall can mean busier streets were counted rather than that traffic grew; read it as
  the typical volume at the counted places, not as a city traffic trend. n is the number of
  counts.
known_issues: >
  The counted segments change between periods; periods without any count have no value.
i18n:
  es:
    label: Vehículos por hora de aforo, toda la ciudad
    unit: vehículos/h
    description: >
      Cuántos vehículos registró de media un contador automático en una hora, en los tramos de
      calle aforados en toda la ciudad. Los tramos aforados cambian de una semana a otra, así
      que es el tráfico típico donde se hicieron aforos, no una tendencia del tráfico de la
      ciudad. No hay mapa: los aforos solo se conocen por distrito municipal (borough).
    method: >
      El departamento de transporte de la ciudad coloca contadores en tramos de calle durante
      unos días y publica los vehículos contados por tramo, sentido y hora (o cuarto de hora).
      Sumamos los vehículos contados en el periodo y dividimos entre el número de horas-contador
      (un tramo y sentido contado durante una hora). Los tramos aforados cambian de una semana a
      otra, así que una subida o bajada puede significar que se aforaron calles más concurridas
      y no que el tráfico creció; léalo como el volumen típico en los lugares aforados, no como
      una tendencia del tráfico de la ciudad. n es el número de recuentos.
    known_issues: >
      Los tramos aforados cambian entre periodos; los periodos sin ningún aforo no tienen valor.
---*/
SELECT 'city' AS district_id,
       CAST(date_trunc($grain, ts) AS TIMESTAMP) AS period,
       sum(volume)::DOUBLE / count(DISTINCT (segment_id, direction, date_trunc('hour', ts))) AS value,
       sum(volume)::DOUBLE AS numerator,
       count(DISTINCT (segment_id, direction, date_trunc('hour', ts)))::DOUBLE AS denominator,
       count(*)::BIGINT AS n
FROM traffic_counts_borough
WHERE ts >= $start AND ts < $end
GROUP BY ALL
