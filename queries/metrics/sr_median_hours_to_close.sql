/*---
id: sr_median_hours_to_close
domain: satisfaction
label: Median hours to close a request
unit: h
format: ",.1f"
direction: lower
target: 48
warning: 96
cadence: 1h
aggregate: median
public: true
per_capita: false
counts: {n: closed_requests}
grains: [day, week, month]
standing: true    # off target over a complete week is a standing status on /alerts, not an alert episode (README: Standing status)
source: demo_311
description: >
  How long it took to resolve a typical 311 service request: half of the requests closed in
  the period were closed faster than this, half took longer. Lower is better.
method: >
  For every request closed in the period we take the hours between the moment it was made
  and the moment it was closed, and report the median, by the district of the request. The
  city value is the median over all requests closed in the city, not a median of district
  medians. Requests still open are not included until they close, so a growing backlog of
  old requests is not visible here (see the open backlog). Requests recorded as closed before
  they were opened are left out as data errors. n is the number of requests closed.
i18n:
  es:
    label: Mediana de horas para cerrar una solicitud
    description: >
      Cuánto se tardó en resolver una solicitud típica al 311: la mitad de las solicitudes
      cerradas en el periodo se cerraron más rápido, la otra mitad tardó más. Cuanto más bajo,
      mejor.
    method: >
      Para cada solicitud cerrada en el periodo tomamos las horas entre el momento en que se
      hizo y el momento en que se cerró, y publicamos la mediana, según el distrito de la
      solicitud. El valor de la ciudad es la mediana de todas las solicitudes cerradas en la
      ciudad, no una mediana de las medianas de los distritos. Las solicitudes aún abiertas no
      se incluyen hasta que se cierran, así que aquí no se ve un atraso creciente de solicitudes
      antiguas (vea las solicitudes pendientes). Se excluyen como errores de datos las
      solicitudes registradas como cerradas antes de abrirse. n es el número de solicitudes
      cerradas.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       median(hours)::DOUBLE AS value,
       NULL::DOUBLE          AS numerator,
       NULL::DOUBLE          AS denominator,
       count(*)::BIGINT      AS n
FROM (
    SELECT district_id, date_trunc($grain, closed_at) AS period,
           epoch(closed_at - created_at) / 3600.0 AS hours
    FROM service_requests
    WHERE closed_at >= $start AND closed_at < $end AND closed_at >= created_at
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
