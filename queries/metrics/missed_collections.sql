/*---
id: missed_collections
domain: waste
label: Missed collection reports
unit: reports
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
counts: {n: missed_collection_reports}
grains: [day, week, month]
source: demo_311
description: >
  How many times residents reported through 311 that their rubbish, recycling or organics
  were not picked up on the scheduled day. Fewer reports are better.
method: >
  Count of 311 service requests in the category 'Missed Collection', by the day, week or
  month in which they were made and the district of the address reported. The city value is
  the sum over all districts. Not every missed pickup is reported, and one missed street can
  produce several reports, so this measures reported problems, not the exact number of
  missed stops. n is the number of reports.
i18n:
  es:
    label: Avisos de recogida no realizada
    unit: avisos
    description: >
      Cuántas veces los vecinos avisaron por el 311 de que su basura, reciclaje u orgánicos no
      se recogieron el día previsto. Cuantos menos avisos, mejor.
    method: >
      Recuento de solicitudes de servicio al 311 de la categoría «recogida no realizada», por el
      día, la semana o el mes en que se hicieron y el distrito de la dirección indicada. El
      valor de la ciudad es la suma de todos los distritos. No se avisa de todas las recogidas
      no realizadas, y una calle sin recoger puede producir varios avisos, así que esto mide los
      problemas avisados, no el número exacto de paradas no realizadas. n es el número de
      avisos.
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
    WHERE created_at >= $start AND created_at < $end AND category = 'Missed Collection'
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
