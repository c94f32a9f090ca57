-- The outbox and the feed. A change and its event are written in one
-- transaction. Each practice numbers its events 1, 2, 3, ... with no gaps:
-- the writer takes the practice's counter row (a row lock held until its
-- transaction ends), so numbers are handed out in commit order and a rolled
-- back write gives its number back. A reader that has seen N therefore never
-- finds a smaller number committed later.
CREATE TABLE event_sequences (
    practice_id   uuid   NOT NULL PRIMARY KEY,
    last_sequence bigint NOT NULL CHECK (last_sequence >= 0)
);

CREATE TABLE events (
    practice_id uuid        NOT NULL,
    sequence    bigint      NOT NULL CHECK (sequence > 0),
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- Ids and states only: never names, answers, scores, notes or reflections.
    data        jsonb       NOT NULL,
    -- Set on events a periodic check raises, so that it raises each once.
    dedupe_key  text,
    PRIMARY KEY (practice_id, sequence),
    UNIQUE (practice_id, id)
);
CREATE INDEX events_type_idx ON events (practice_id, type, sequence);
CREATE UNIQUE INDEX events_dedupe_idx ON events (practice_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX events_age_idx ON events (occurred_at);
