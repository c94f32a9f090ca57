DROP FUNCTION events_sequence(uuid, integer);
DROP INDEX events_unnumbered_idx;
DROP INDEX events_sequence_idx;
-- Events never numbered get numbers after the practice's last.
WITH waiting AS (
    SELECT e.practice_id, e.id,
           coalesce(s.last_sequence, 0) + row_number() OVER (PARTITION BY e.practice_id ORDER BY e.occurred_at, e.id)
               AS number
      FROM events e LEFT JOIN event_sequences s ON s.practice_id = e.practice_id
     WHERE e.sequence IS NULL
)
UPDATE events e SET sequence = w.number FROM waiting w WHERE e.practice_id = w.practice_id AND e.id = w.id;
INSERT INTO event_sequences (practice_id, last_sequence)
    SELECT practice_id, max(sequence) FROM events GROUP BY practice_id
    ON CONFLICT (practice_id) DO UPDATE SET last_sequence = greatest(event_sequences.last_sequence, excluded.last_sequence);
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN sequence SET NOT NULL;
ALTER TABLE events ADD PRIMARY KEY (practice_id, sequence);
ALTER TABLE events ADD CONSTRAINT events_practice_id_id_key UNIQUE (practice_id, id);
