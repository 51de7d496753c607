/*---
id: satisfaction_score
domain: satisfaction
label: Resident satisfaction score
unit: "/ 5"
format: ".2f"
direction: higher
target: 4.0
warning: 3.5
cadence: 1d
aggregate: mean
ci: {kind: mean_score, min: 1, max: 5}   # published with a 95 % confidence interval of the mean of 1-5 scores
public: true
per_capita: false
counts: {n: survey_answers, denominator: survey_answers}
grains: [day, week, month]
standing: true    # off target over a complete week is a standing status on /alerts, not an alert episode (README: Standing status)
source: demo_survey
description: >
  How satisfied residents were with how their 311 request was handled, on a scale from 1
  (very dissatisfied) to 5 (very satisfied), averaged over everyone who answered the survey.
  Higher is better.
method: >
  After a request is closed, the resident who made it can answer a short survey.
  We average the scores of the answers received in the period (by the time of the answer)
  by the district of the request. The city value is the average over all answers in the
  city, not an average of district averages. Only a minority of residents answer, and those
  who had a very good or very bad experience answer more often, so treat small differences
  with care, and more so when n (the number of answers) is small. Scores outside 1-5 are
  left out as data errors.
i18n:
  es:
    label: Satisfacción de los vecinos
    description: >
      Qué tan satisfechos quedaron los vecinos con la gestión de su solicitud al 311, en una
      escala de 1 (muy insatisfecho) a 5 (muy satisfecho), como media de todas las personas que
      respondieron la encuesta. Cuanto más alta, mejor.
    method: >
      Cuando se cierra una solicitud, el vecino que la hizo puede responder una breve encuesta.
      Promediamos las puntuaciones de las respuestas recibidas en el periodo (por la fecha de la
      respuesta) según el distrito de la solicitud. El valor de la ciudad es la media de todas
      las respuestas de la ciudad, no una media de las medias de los distritos. Solo responde
      una minoría de los vecinos, y quienes tuvieron una experiencia muy buena o muy mala
      responden más a menudo, así que trate con cuidado las diferencias pequeñas, y más cuando n
      (el número de respuestas) es pequeño. Las puntuaciones fuera de 1-5 se excluyen como
      errores de datos.
---*/
SELECT CASE WHEN grouping(district_id) = 1 THEN 'city' ELSE district_id END AS district_id,
       period,
       sum(score)::DOUBLE / count(*) AS value,
       sum(score)::DOUBLE             AS numerator,
       count(*)::DOUBLE               AS denominator,
       count(*)::BIGINT               AS n
FROM (
    SELECT district_id, date_trunc($grain, responded_at) AS period, score
    FROM satisfaction_responses
    WHERE responded_at >= $start AND responded_at < $end AND score BETWEEN 1 AND 5
) AS t
GROUP BY GROUPING SETS ((district_id, period), (period))
