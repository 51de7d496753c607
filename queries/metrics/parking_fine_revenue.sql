/*---
id: parking_fine_revenue
domain: parking
label: Parking fines issued
unit: "$"
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
  The total amount of the fines written on the parking tickets issued in the district. It
  is the amount billed, not the money the city actually received.
method: >
  Sum of the fine printed on each parking ticket, by the day, week or month the ticket was
  issued and the district where the vehicle was parked; the city value is the sum over all
  districts. Tickets whose fine is not known (an unknown violation code) are left out.
  Reductions, dismissals, late-payment penalties and unpaid tickets are not taken into
  account, so the money collected is lower. n is the number of tickets with a known fine.
i18n:
  es:
    label: Importe de multas de estacionamiento
    description: >
      El importe total de las multas de estacionamiento emitidas en el distrito. Es lo
      facturado, no el dinero que la ciudad cobró realmente.
    method: >
      Suma del importe impreso en cada multa de estacionamiento, por el día, la semana o el mes
      en que se puso y el distrito donde estaba aparcado el vehículo; el valor de la ciudad es
      la suma de todos los distritos. Se excluyen las multas de importe desconocido (un código
      de infracción desconocido). No se tienen en cuenta las reducciones, anulaciones, recargos
      por demora ni las multas sin pagar, así que el dinero cobrado es menor. n es el número de
      multas con importe conocido.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(fine)::DOUBLE AS value,
       sum(fine)::DOUBLE AS numerator,
       NULL::DOUBLE      AS denominator,
       count(*)::BIGINT  AS n
FROM (
    SELECT district_id, date_trunc($grain, issued_at) AS period, fine
    FROM parking_citations
    WHERE issued_at >= $start AND issued_at < $end AND fine IS NOT NULL
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
