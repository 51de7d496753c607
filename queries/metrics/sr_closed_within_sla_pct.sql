/*---
id: sr_closed_within_sla_pct
domain: satisfaction
label: Requests closed on time
unit: "%"
format: ".1f"
direction: higher
target: 85
warning: 70
cadence: 1h
aggregate: ratio
public: true
per_capita: false
counts: {n: closed_requests, denominator: closed_requests, numerator: on_time_requests, complement: late_requests}
grains: [day, week, month]
standing: true    # off target over a complete week is a standing status on /alerts, not an alert episode (README: Standing status)
source: demo_311
description: >
  The share of 311 service requests closed by their due date. A request gets a due date
  from the service standard of its category. Higher is better.
method: >
  Of the requests closed in the period that had a due date, we count those closed at or
  before it and divide by all of them, times 100, by the district of the request. The city
  value is all on-time closures in the city divided by all closures in the city, not an
  average of district percentages. Requests without a due date are left out. Requests still
  open past their due date are not counted until they close, so a late backlog shows here
  only when it is cleared. n is the number of requests closed with a due date.
i18n:
  es:
    label: Solicitudes cerradas a tiempo
    description: >
      La parte de las solicitudes de servicio al 311 cerradas antes de su fecha límite. Cada
      solicitud recibe una fecha límite según el estándar de servicio de su categoría. Cuanto
      más alta, mejor.
    method: >
      De las solicitudes cerradas en el periodo que tenían fecha límite, contamos las cerradas
      en esa fecha o antes y las dividimos entre todas ellas, por 100, según el distrito de la
      solicitud. El valor de la ciudad son todos los cierres a tiempo de la ciudad divididos
      entre todos sus cierres, no una media de los porcentajes de los distritos. Se excluyen las
      solicitudes sin fecha límite. Las solicitudes que siguen abiertas pasada su fecha límite
      no se cuentan hasta que se cierran, así que un atraso solo aparece aquí cuando se
      resuelve. n es el número de solicitudes cerradas con fecha límite.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(on_time) / count(*) AS value,
       sum(on_time)::DOUBLE             AS numerator,
       count(*)::DOUBLE                 AS denominator,
       count(*)::BIGINT                 AS n
FROM (
    SELECT district_id, date_trunc($grain, closed_at) AS period,
           CASE WHEN closed_at <= due_at THEN 1 ELSE 0 END AS on_time
    FROM service_requests
    WHERE closed_at >= $start AND closed_at < $end AND due_at IS NOT NULL
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
