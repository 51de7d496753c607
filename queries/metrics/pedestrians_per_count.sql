/*---
id: pedestrians_per_count
domain: transport
label: Pedestrians per count
unit: people
format: ",.0f"
direction: higher
target: null
warning: null
cadence: 183d
aggregate: ratio
min_n: 3      # a mean over fewer than 3 count sessions is one street on one day
public: true
per_capita: false
suppress: false   # n is the number of count sessions; each figure is thousands of anonymous passers-by
counts: {n: pedestrian_count_sessions, denominator: pedestrian_count_sessions}
grains: [month]
source: nyc_dot_pedestrian_counts
description: >
  How many people walked past a pedestrian count point in one count session (a weekday morning
  or evening, or a Saturday midday), on average, at the district's count points. Counts are made
  twice a year. Higher means livelier streets.
method: >
  Counters stand at fixed points twice a year (May or June, and September or October) for three
  sessions: a weekday morning, a weekday evening and a Saturday midday. We add the people counted
  at the district's points in the month's sessions and divide by the number of sessions counted.
  The city value pools every point. Districts with more count points on busy avenues score
  higher, so compare a district with itself over the years. Points on bridges lie outside every
  district and are counted in no district (they are listed on the data page). n is the number
  of sessions counted.
known_issues: >
  Only the month of a count is published, not its day; weather on the day changes the count.
i18n:
  es:
    label: Peatones por aforo
    unit: personas
    description: >
      Cuántas personas pasaron a pie por un punto de aforo en una sesión (mañana o tarde de un
      día laborable, o mediodía del sábado), de media, en los puntos del distrito. Los aforos se
      hacen dos veces al año. Más alto significa calles más vivas.
    method: >
      Los aforadores se sitúan en puntos fijos dos veces al año (mayo o junio, y septiembre u
      octubre) durante tres sesiones: una mañana laborable, una tarde laborable y un mediodía de
      sábado. Sumamos las personas contadas en los puntos del distrito en las sesiones del mes y
      dividimos entre el número de sesiones contadas. El valor de la ciudad reúne todos los
      puntos. Los distritos con más puntos en avenidas concurridas puntúan más alto, así que
      compare un distrito consigo mismo a lo largo de los años. Los puntos en puentes quedan
      fuera de todo distrito y no se cuentan en ninguno (aparecen en la página de datos). n es
      el número de sesiones contadas.
    known_issues: >
      Solo se publica el mes de un aforo, no su día; el tiempo que hizo ese día cambia el
      recuento.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(pedestrians)::DOUBLE / count(*) AS value,
       sum(pedestrians)::DOUBLE AS numerator,
       count(*)::DOUBLE AS denominator,
       count(*)::BIGINT AS n
FROM (
    SELECT district_id, CAST(date_trunc($grain, day) AS TIMESTAMP) AS period, pedestrians
    FROM pedestrian_counts
    WHERE day >= $start AND day < $end
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
