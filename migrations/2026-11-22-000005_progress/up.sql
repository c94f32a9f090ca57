-- Clients linked for joint work, typically a couple.
CREATE TABLE relationships (
    practice_id uuid        NOT NULL REFERENCES practices (id),
    id          uuid        NOT NULL,
    kind        text        NOT NULL CHECK (kind ~ '^[a-z0-9_]{1,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, id)
);

CREATE TABLE relationship_members (
    practice_id     uuid NOT NULL,
    relationship_id uuid NOT NULL,
    client_id       uuid NOT NULL,
    PRIMARY KEY (practice_id, relationship_id, client_id),
    FOREIGN KEY (practice_id, relationship_id) REFERENCES relationships (practice_id, id) ON DELETE CASCADE,
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id)
);
-- "Which relationships is this client in?"
CREATE INDEX relationship_members_client_idx ON relationship_members (practice_id, client_id, relationship_id);

-- A practice's own norms for an instrument version, frozen when it opted in,
-- so reliable change does not drift with every new administration.
CREATE TABLE local_norms (
    practice_id   uuid             NOT NULL REFERENCES practices (id),
    instrument_id uuid             NOT NULL REFERENCES instruments (id),
    subscale      text             NOT NULL,
    n             integer          NOT NULL CHECK (n >= 30),
    mean          double precision NOT NULL,
    sd            double precision NOT NULL CHECK (sd > 0),
    alpha         double precision NOT NULL CHECK (alpha > 0 AND alpha < 1),
    computed_at   timestamptz      NOT NULL,
    PRIMARY KEY (practice_id, instrument_id, subscale)
);

-- Practice norms read every completed administration of one instrument version.
CREATE INDEX assessments_instrument_idx ON assessments (practice_id, instrument_id) WHERE status = 'completed';

-- The overdue flag looks for a client's open assignments only.
CREATE INDEX assessments_open_idx ON assessments (practice_id, client_id, due_on) WHERE status = 'assigned';

-- Adherence counts done practices per assignment and time range; carrying
-- `done` in the index lets that be an index-only scan.
CREATE INDEX homework_logs_adherence_idx ON homework_logs (practice_id, homework_id, occurred_at) INCLUDE (done);
DROP INDEX homework_logs_homework_idx;
