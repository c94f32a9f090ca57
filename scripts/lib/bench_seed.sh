# shellcheck shell=bash
# Seeding for scripts/bench (sourced by its progress and Citus parts).
#
# seed_histories PREFIX COUNT WEEKS DAYS: COUNT clients named PREFIX-n, each
# with WEEKS weekly administrations of both built-in instruments and three
# assignments logged daily for DAYS days (every fifth day marked not done).
seed_histories() {
    "${seed_psql[@]}" <<SQL
INSERT INTO clients (practice_id, id, external_id, display_name, status)
  SELECT '$seed_practice', gen_random_uuid(), '$1-' || g, 'History ' || g, 'active' FROM generate_series(1, $2) g;
CREATE TEMP TABLE seed AS
  SELECT c.id AS client_id, i.id AS instrument_id, i.key AS instrument_key, gen_random_uuid() AS id,
         now() - make_interval(weeks => w) AS at,
         round((4 + 2.5 * sin(w / 9.0 + c.n))::numeric, 2)::float8 AS s1,
         round((4 + 2.0 * cos(w / 13.0 + c.n))::numeric, 2)::float8 AS s2,
         round((4 + 1.5 * sin(w / 17.0))::numeric, 2)::float8 AS s3
    FROM (SELECT id, row_number() OVER () AS n FROM clients WHERE practice_id = '$seed_practice' AND external_id LIKE '$1-%') c
    CROSS JOIN generate_series(0, $3 - 1) w
    CROSS JOIN instruments i WHERE i.practice_id IS NULL;
INSERT INTO assessments (practice_id, id, client_id, instrument_id, status, answers, result, version, created_at, updated_at, completed_at)
  SELECT '$seed_practice', id, client_id, instrument_id, 'completed', '[]',
         jsonb_build_object('subscales', '[]'::jsonb, 'classification', jsonb_build_object('explanation', 'seeded', 'label',
           CASE WHEN instrument_key = 'attachment_lean_short_form' THEN
             CASE WHEN s1 >= 4 AND s2 >= 4 THEN 'fearful' WHEN s1 >= 4 THEN 'anxious' WHEN s2 >= 4 THEN 'avoidant' ELSE 'secure' END
           ELSE
             CASE WHEN s2 - s1 > 0.75 THEN 'leans_dependent' WHEN s1 - s2 > 0.75 THEN 'leans_independent' ELSE 'interdependent' END
           END)),
         2, at, at, at
    FROM seed;
INSERT INTO assessment_scores (practice_id, assessment_id, client_id, instrument_id, instrument_key, subscale, score, completed_at)
  SELECT '$seed_practice', s.id, s.client_id, s.instrument_id, s.instrument_key, v.key, v.score, s.at
    FROM seed s CROSS JOIN LATERAL (VALUES
      ('attachment_lean_short_form', 'anxiety', s.s1), ('attachment_lean_short_form', 'avoidance', s.s2),
      ('interdependence_balance', 'over_independence', s.s1), ('interdependence_balance', 'over_dependence', s.s2),
      ('interdependence_balance', 'mutuality', s.s3)) v(instrument_key, key, score)
   WHERE v.instrument_key = s.instrument_key;
CREATE TEMP TABLE seed_homework AS
  SELECT c.id AS client_id, e.id AS exercise_id, gen_random_uuid() AS id, x.cadence
    FROM clients c
    CROSS JOIN (VALUES ('ask_for_small_help', 3), ('delight_in_solo_time', 2), ('weekly_check_in', 1)) x(key, cadence)
    JOIN exercises e ON e.key = x.key AND e.practice_id IS NULL
   WHERE c.practice_id = '$seed_practice' AND c.external_id LIKE '$1-%';
INSERT INTO homework (practice_id, id, client_id, exercise_id, cadence_per_week, starts_on, status)
  SELECT '$seed_practice', id, client_id, exercise_id, cadence, current_date - $4, 'active' FROM seed_homework;
INSERT INTO homework_logs (practice_id, id, homework_id, client_id, occurred_at, done, fields)
  SELECT '$seed_practice', gen_random_uuid(), h.id, h.client_id, (current_date - $4 + d) + time '09:00', d % 5 <> 0, '{}'
    FROM seed_homework h CROSS JOIN generate_series(0, $4 - 1) d;
ANALYZE;
SQL
}
