/*---
id: sr_open_backlog
domain: satisfaction
label: Open 311 requests (backlog)
unit: requests
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: level
public: true
per_capita: true
counts: {n: open_requests}
stock: {in: opened_requests, out: closed_requests}
grains: [day, week, month]
source: demo_311
description: >
  How many 311 service requests were still open (made but not yet resolved) at the end of
  each day, week or month. A growing backlog means requests arrive faster than they are
  resolved. Fewer is better.
method: >
  A request counts as open at the end of a period if it was made before the period ended and
  had not been closed by then; requests made in earlier periods and still open are included,
  however old. For the current period the value is the backlog as of the latest data. It is
  a level, not a total: a request open for a whole month counts in every day's backlog, so
  values of different days must not be added up. The city value is the sum over all
  districts. Requests marked closed but without a closing time cannot be placed in time and
  are left out. n is the number of open requests.
i18n:
  es:
    label: Solicitudes al 311 abiertas (pendientes)
    unit: solicitudes
    description: >
      Cuántas solicitudes al 311 seguían abiertas (hechas pero aún no resueltas) al final de
      cada día, semana o mes. Si crecen las pendientes, las solicitudes llegan más rápido de lo
      que se resuelven. Cuantas menos, mejor.
    method: >
      Una solicitud cuenta como abierta al final de un periodo si se hizo antes de que terminara
      el periodo y no se había cerrado entonces; se incluyen las solicitudes de periodos
      anteriores que siguen abiertas, por antiguas que sean. Para el periodo en curso el valor
      es el atraso según los datos más recientes. Es un nivel, no un total: una solicitud
      abierta durante todo un mes cuenta en el atraso de cada día, así que no deben sumarse los
      valores de días distintos. El valor de la ciudad es la suma de todos los distritos. Se
      excluyen las solicitudes marcadas como cerradas sin hora de cierre, porque no pueden
      situarse en el tiempo. n es el número de solicitudes abiertas.
---*/
WITH bounds AS (
    SELECT greatest(date_trunc($grain, min(created_at)), date_trunc($grain, $start::TIMESTAMP)) AS first_period,
           date_trunc($grain, max(greatest(created_at, coalesce(closed_at, created_at))))      AS last_period
    FROM service_requests
), periods AS (
    SELECT period, period + ('1 ' || $grain)::INTERVAL AS period_end
    FROM (
        SELECT unnest(generate_series(first_period, last_period, ('1 ' || $grain)::INTERVAL)) AS period
        FROM bounds
    ) AS s
    WHERE period >= $start AND period < $end
), candidates AS (
    SELECT district_id, created_at, coalesce(closed_at, 'infinity'::TIMESTAMP) AS closed_or_never
    FROM service_requests
    WHERE created_at < $end
      AND (closed_at >= $start OR (closed_at IS NULL AND lower(status) <> 'closed'))
)
SELECT CASE WHEN grouping(c.district_id) = 1 THEN 'city' ELSE c.district_id END AS district_id,
       p.period                                                                 AS period,
       count(*)::DOUBLE                                                         AS value,
       count(*)::DOUBLE                                                         AS numerator,
       NULL::DOUBLE                                                             AS denominator,
       count(*)::BIGINT                                                         AS n
FROM periods AS p
JOIN candidates AS c ON c.created_at < p.period_end AND c.closed_or_never >= p.period_end
GROUP BY GROUPING SETS ((c.district_id, p.period), (p.period))
