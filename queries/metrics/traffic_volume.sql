/*---
id: traffic_volume
domain: transport
label: Vehicles counted
unit: vehicles
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: false
counts: {n: traffic_volume_records}
grains: [hour, day, week, month]
source: demo_traffic
description: >
  How many vehicles passed the automatic traffic counters on the district's streets. It
  shows how traffic rises and falls over the day and the year; it is not a count of every
  car in the district.
method: >
  Each counter reports the vehicles that passed it in each interval. We add all counts in
  the district and period; the city value is the sum over all districts. A vehicle that
  passes several counters is counted at each of them, so compare a district with itself over
  time rather than with other districts: totals depend on how many counters a district has
  and where they are. For the same reason there is no per-resident view. When a counter is
  out of service the total drops (see the incidents on the chart). n is the number of
  counter reports.
known_issues: >
  Counter outages lower the total without any change in traffic.
i18n:
  es:
    label: Vehículos contados
    unit: vehículos
    description: >
      Cuántos vehículos pasaron por los contadores automáticos de tráfico en las calles del
      distrito. Muestra cómo sube y baja el tráfico a lo largo del día y del año; no es un
      recuento de todos los coches del distrito.
    method: >
      Cada contador informa de los vehículos que pasaron por él en cada intervalo. Sumamos todos
      los recuentos del distrito y del periodo; el valor de la ciudad es la suma de todos los
      distritos. Un vehículo que pasa por varios contadores se cuenta en cada uno, así que
      compare un distrito consigo mismo en el tiempo y no con otros distritos: los totales
      dependen de cuántos contadores tiene un distrito y de dónde están. Por la misma razón no
      hay vista por habitante. Cuando un contador está fuera de servicio el total baja (vea los
      incidentes en el gráfico). n es el número de informes de contador.
    known_issues: >
      Las averías de los contadores bajan el total sin que cambie el tráfico.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(volume)::DOUBLE AS value,
       sum(volume)::DOUBLE AS numerator,
       NULL::DOUBLE        AS denominator,
       count(*)::BIGINT    AS n
FROM (
    SELECT district_id, date_trunc($grain, ts) AS period, volume
    FROM traffic_counts
    WHERE ts >= $start AND ts < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
