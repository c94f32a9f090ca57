-- An event is written in the transaction of every change it reports, so
-- each index it enters is paid by every write. An event enters the world
-- unnumbered (events_sequence numbers it once committed), so the indexes
-- that order the feed by number need hold only numbered events: as partial
-- indexes, the write no longer enters them, and the numbering does, once.
-- The feed's `sequence > n` implies `sequence IS NOT NULL`, so its plans
-- keep them. The same holds for a client's events: a client's record reads
-- them by number, after numbering what has committed.
--
-- The age index serves one query, the purge of events older than the kept
-- period, and events are written in time order: a block range index
-- answers it at a fraction of a B-tree's cost per write.
--
-- Each statement runs through EXECUTE: on a Citus cluster `events` is
-- distributed, and Citus sends a DDL statement's query text to the workers,
-- which refuse a text holding several commands (the migration's file).
DO $$
BEGIN
    EXECUTE 'DROP INDEX events_sequence_idx';
    EXECUTE 'CREATE UNIQUE INDEX events_sequence_idx ON events (practice_id, sequence) WHERE sequence IS NOT NULL';
    EXECUTE 'DROP INDEX events_type_idx';
    EXECUTE 'CREATE INDEX events_type_idx ON events (practice_id, type, sequence) WHERE sequence IS NOT NULL';
    EXECUTE 'DROP INDEX events_client_idx';
    EXECUTE 'CREATE INDEX events_client_idx ON events (practice_id, (data ->> ''client_id''), sequence) '
            'WHERE sequence IS NOT NULL';
    EXECUTE 'DROP INDEX events_age_idx';
    EXECUTE 'CREATE INDEX events_age_idx ON events USING brin (occurred_at)';
END $$;
