DROP INDEX events_age_idx;
CREATE INDEX events_age_idx ON events (occurred_at);
DROP INDEX events_client_idx;
CREATE INDEX events_client_idx ON events (practice_id, (data ->> 'client_id'), sequence);
DROP INDEX events_type_idx;
CREATE INDEX events_type_idx ON events (practice_id, type, sequence);
DROP INDEX events_sequence_idx;
CREATE UNIQUE INDEX events_sequence_idx ON events (practice_id, sequence);
