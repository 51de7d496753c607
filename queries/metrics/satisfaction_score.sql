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
