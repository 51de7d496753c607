/*---
id: waste_tonnage_total
domain: waste
label: Waste collected
unit: t
format: ",.1f"
direction: lower
target: null
warning: null
cadence: 1d
aggregate: sum
public: true
suppress: false   # tonnes weighed by district, as DSNY itself publishes them: no person behind a figure
per_capita: true
counts: {n: waste_tonnage_total_records}
grains: [day, week, month]
source: demo_waste
description: >
  Tonnes of waste the city's collection trucks picked up in the district: rubbish and all
  recycling and organics streams together. Less waste collected per resident is better.
method: >
  Each collection truck load is weighed and recorded by district, day and stream (refuse,
  paper, metal/glass/plastic, organics). We add all streams and the days of the period; the
  city value is the sum over all districts. Only waste collected by the city's own service is
  counted; commercial waste handled by private carters is not. Figures arrive once a day; holidays and storms shift pickups between days, so weekly and
  monthly values are steadier. n is the number of district-day-stream weigh records.
i18n:
  es:
    label: Residuos recogidos
    description: >
      Toneladas de residuos que recogieron los camiones de la ciudad en el distrito: basura y
      todas las fracciones de reciclaje y orgánicos juntas. Cuantos menos residuos por
      habitante, mejor.
    method: >
      Cada carga de camión de recogida se pesa y se registra por distrito, día y fracción
      (basura, papel, metal/vidrio/plástico, orgánicos). Sumamos todas las fracciones y los días
      del periodo; el valor de la ciudad es la suma de todos los distritos. Solo se cuentan los
      residuos recogidos por el servicio propio de la ciudad, no los residuos comerciales que
      gestionan empresas privadas. Las cifras llegan una vez al día; los festivos y las
      tormentas mueven recogidas de un día a otro, así que los valores semanales y mensuales son
      más estables. n es el número de registros de pesaje por distrito, día y fracción.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(tons)::DOUBLE AS value,
       sum(tons)::DOUBLE AS numerator,
       NULL::DOUBLE      AS denominator,
       count(*)::BIGINT  AS n
FROM (
    SELECT district_id, CAST(date_trunc($grain, day) AS TIMESTAMP) AS period, tons
    FROM waste_tonnage
    WHERE day >= $start AND day < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
