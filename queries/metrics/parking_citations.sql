/*---
id: parking_citations
domain: parking
label: Parking tickets issued
unit: tickets
format: ",.0f"
direction: lower
target: null
warning: null
cadence: 1h
aggregate: sum
public: true
per_capita: true
counts: {n: parking_tickets}
grains: [day, week, month]
source: demo_citations
description: >
  How many parking tickets enforcement officers issued in the district. The number reflects
  both how often drivers break parking rules and how much enforcement there was, so a rise
  is not necessarily worse parking behaviour.
method: >
  Count of parking citations by the day, week or month in which they were issued and the
  district where the vehicle was parked. The city value is the sum over all districts.
  Tickets later dismissed or cancelled are still counted. Districts with shops and offices
  get many more tickets than residential ones, so the per-resident view overstates them.
  n is the number of tickets.
i18n:
  es:
    label: Multas de estacionamiento emitidas
    unit: multas
    description: >
      Cuántas multas de estacionamiento pusieron los agentes en el distrito. La cifra refleja
      tanto la frecuencia de las infracciones como la intensidad de la vigilancia, así que un
      aumento no significa necesariamente peor comportamiento.
    method: >
      Recuento de multas de estacionamiento por el día, la semana o el mes en que se pusieron y
      el distrito donde estaba aparcado el vehículo. El valor de la ciudad es la suma de todos
      los distritos. Las multas anuladas o canceladas después siguen contando. Los distritos con
      comercios y oficinas reciben muchas más multas que los residenciales, así que la vista por
      habitante los exagera. n es el número de multas.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       count(*)::DOUBLE AS value,
       count(*)::DOUBLE AS numerator,
       NULL::DOUBLE     AS denominator,
       count(*)::BIGINT AS n
FROM (
    SELECT district_id, date_trunc($grain, issued_at) AS period
    FROM parking_citations
    WHERE issued_at >= $start AND issued_at < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
