/*---
id: recycling_diversion_pct
domain: waste
label: Recycling diversion rate
unit: "%"
format: ".1f"
direction: higher
target: 25
warning: 18
cadence: 1d
aggregate: ratio
min_n: 1      # a share of everything weighed (one record per stream), not a sample: no minimum beyond one record
public: true
suppress: false   # tonnes weighed by district, as DSNY itself publishes them: no person behind a figure
per_capita: false
counts: {n: recycling_diversion_pct_records}
grains: [day, week, month]
alert:
  rules: [threshold]
  grain: week
  baseline_days: 56
  min_n: 20
  pending: 1
  hysteresis: 2
source: demo_waste
description: >
  The share of collected waste that was recycled or composted instead of going to landfill
  or incineration. Higher is better.
method: >
  Of all tonnes collected in the district and period (refuse, paper, metal/glass/plastic
  and organics), we take the tonnes of paper, metal/glass/plastic and organics and divide by
  all tonnes, times 100. The city value is the city's recycled tonnes divided by the city's
  total tonnes, not an average of district rates, so districts that produce more waste weigh
  more. The rate measures what was set out separately; recycling later rejected at the
  sorting plant still counts as diverted. n is the number of district-day-stream weigh
  records.
i18n:
  es:
    label: Tasa de reciclaje
    description: >
      La parte de los residuos recogidos que se recicló o compostó en lugar de ir al vertedero o
      a incineración. Cuanto más alta, mejor.
    method: >
      De todas las toneladas recogidas en el distrito y el periodo (basura, papel,
      metal/vidrio/plástico y orgánicos), tomamos las toneladas de papel, metal/vidrio/plástico
      y orgánicos y las dividimos entre todas las toneladas, por 100. El valor de la ciudad son
      las toneladas recicladas de la ciudad divididas entre sus toneladas totales, no una media
      de las tasas de los distritos, así que los distritos que producen más residuos pesan más.
      La tasa mide lo que se separó; el reciclaje rechazado después en la planta de
      clasificación sigue contando como desviado. n es el número de registros de pesaje por
      distrito, día y fracción.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       100.0 * sum(diverted) / nullif(sum(tons), 0) AS value,
       sum(diverted)::DOUBLE                        AS numerator,
       sum(tons)::DOUBLE                            AS denominator,
       count(*)::BIGINT                             AS n
FROM (
    SELECT district_id, CAST(date_trunc($grain, day) AS TIMESTAMP) AS period, tons,
           CASE WHEN lower(stream) IN ('paper', 'mgp', 'organics') THEN tons ELSE 0.0 END AS diverted
    FROM waste_tonnage
    WHERE day >= $start AND day < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
