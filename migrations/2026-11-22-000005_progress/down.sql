CREATE INDEX homework_logs_homework_idx ON homework_logs (practice_id, homework_id, occurred_at);
DROP INDEX homework_logs_adherence_idx;
DROP INDEX assessments_open_idx;
DROP INDEX assessments_instrument_idx;
DROP TABLE local_norms;
DROP TABLE relationship_members;
DROP TABLE relationships;
