/*---
id: sr_opened
domain: satisfaction
label: 311 requests opened
unit: requests
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
counts: {n: opened_requests}
grains: [hour, day, week, month]
alert:
  rules: [anomaly]
  grain: hour
  min_n: 5
  sensitivity: 4.0   # ~4,300 tests a day (60 districts x 24 h x 3 windows): 3.5 gave ~0.3 chance alerts a day
  pending: 1
  hysteresis: 3
  severity: warning
source: demo_311
description: >
  How many service requests residents made to 311 (by phone, online or in the app) about
  problems in the district: noise, street conditions, missed collections and more.
method: >
  Count of 311 service requests of every category, by the hour, day, week or month in which
  they were made and the district of the location reported. The city value is the sum over
  all districts. Several residents reporting the same problem make several requests. More
  requests can mean more problems, but also that more residents know and use 311. n is the
  number of requests.
i18n:
  es:
    label: Solicitudes al 311 recibidas
    unit: solicitudes
    description: >
      Cuántas solicitudes de servicio hicieron los vecinos al 311 (por teléfono, en línea o en
      la aplicación) sobre problemas del distrito: ruido, estado de las calles, recogidas no
      realizadas y más.
    method: >
      Recuento de solicitudes de servicio al 311 de todas las categorías, por la hora, el día,
      la semana o el mes en que se hicieron y el distrito del lugar indicado. El valor de la
      ciudad es la suma de todos los distritos. Varios vecinos que avisan del mismo problema
      hacen varias solicitudes. Más solicitudes pueden significar más problemas, pero también
      que más vecinos conocen y usan el 311. n es el número de solicitudes.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       count(*)::DOUBLE AS value,
       count(*)::DOUBLE AS numerator,
       NULL::DOUBLE     AS denominator,
       count(*)::BIGINT AS n
FROM (
    SELECT district_id, date_trunc($grain, created_at) AS period
    FROM service_requests
    WHERE created_at >= $start AND created_at < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
