-- Events are numbered after they commit, not while their write holds a lock.
--
-- Until now a write took its practice's counter row (a lock held through its
-- commit and its WAL flush) to number its event, so every write of a
-- practice waited for the one before it to reach the disk: under load the
-- writes of one practice went one commit at a time. Now a write inserts its
-- event unnumbered, taking no lock, and `events_sequence` numbers the
-- committed ones in order (time written, then id) under the counter's lock:
-- the feed does so before it reads, and the webhook dispatcher before it
-- fans out. A reader still never finds a smaller number appear after a
-- larger one (numbers go only to events already committed), and a rolled
-- back write never had one.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN sequence DROP NOT NULL;
ALTER TABLE events ADD PRIMARY KEY (practice_id, id);
ALTER TABLE events DROP CONSTRAINT events_practice_id_id_key;
CREATE UNIQUE INDEX events_sequence_idx ON events (practice_id, sequence);
CREATE INDEX events_unnumbered_idx ON events (practice_id, occurred_at, id) WHERE sequence IS NULL;

-- Numbers the practice's committed, unnumbered events (up to p_limit);
-- returns how many.
CREATE FUNCTION events_sequence(p_practice uuid, p_limit integer) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    last_number bigint;
    numbered integer;
BEGIN
    INSERT INTO event_sequences (practice_id, last_sequence) VALUES (p_practice, 0)
        ON CONFLICT (practice_id) DO NOTHING;
    SELECT s.last_sequence INTO last_number FROM event_sequences s WHERE s.practice_id = p_practice FOR UPDATE;
    WITH waiting AS (
        SELECT e.id, row_number() OVER (ORDER BY e.occurred_at, e.id) AS k
          FROM events e
         WHERE e.practice_id = p_practice AND e.sequence IS NULL
         ORDER BY e.occurred_at, e.id
         LIMIT p_limit
    )
    UPDATE events e SET sequence = last_number + w.k
      FROM waiting w
     WHERE e.practice_id = p_practice AND e.id = w.id;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    IF numbered > 0 THEN
        UPDATE event_sequences SET last_sequence = last_number + numbered WHERE practice_id = p_practice;
    END IF;
    RETURN numbered;
END $$;
