-- One statement per EXECUTE, for Citus (see up.sql).
DO $$
BEGIN
    EXECUTE 'DROP INDEX events_age_idx';
    EXECUTE 'CREATE INDEX events_age_idx ON events (occurred_at)';
    EXECUTE 'DROP INDEX events_client_idx';
    EXECUTE 'CREATE INDEX events_client_idx ON events (practice_id, (data ->> ''client_id''), sequence)';
    EXECUTE 'DROP INDEX events_type_idx';
    EXECUTE 'CREATE INDEX events_type_idx ON events (practice_id, type, sequence)';
    EXECUTE 'DROP INDEX events_sequence_idx';
    EXECUTE 'CREATE UNIQUE INDEX events_sequence_idx ON events (practice_id, sequence)';
END $$;
