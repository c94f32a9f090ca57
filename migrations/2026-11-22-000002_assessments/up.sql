-- Questionnaire definitions. practice_id NULL marks a built-in instrument,
-- shared by every practice; a practice's own are visible to it alone.
-- Versions are immutable: a change is a new row under the same key.
CREATE TABLE instruments (
    id          uuid        PRIMARY KEY,
    practice_id uuid        REFERENCES practices (id),
    key         text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    title       text        NOT NULL,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX instruments_builtin_version_idx ON instruments (key, version) WHERE practice_id IS NULL;
CREATE UNIQUE INDEX instruments_practice_version_idx ON instruments (practice_id, key, version)
    WHERE practice_id IS NOT NULL;

-- One administration of an instrument to one client.
CREATE TABLE assessments (
    practice_id   uuid        NOT NULL,
    id            uuid        NOT NULL,
    client_id     uuid        NOT NULL,
    instrument_id uuid        NOT NULL REFERENCES instruments (id),
    status        text        NOT NULL CHECK (status IN ('assigned', 'completed', 'cancelled')),
    due_on        date,
    answers       jsonb,
    result        jsonb,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    cancelled_at  timestamptz,
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL AND result IS NOT NULL))
);
CREATE INDEX assessments_client_idx ON assessments (practice_id, client_id, id);

-- Subscale scores of completed assessments, one row each, laid out for
-- progress queries: a client's series of one subscale is one index range.
CREATE TABLE assessment_scores (
    practice_id    uuid             NOT NULL,
    assessment_id  uuid             NOT NULL,
    client_id      uuid             NOT NULL,
    instrument_id  uuid             NOT NULL REFERENCES instruments (id),
    instrument_key text             NOT NULL,
    subscale       text             NOT NULL,
    score          double precision NOT NULL,
    completed_at   timestamptz      NOT NULL,
    PRIMARY KEY (practice_id, assessment_id, subscale),
    FOREIGN KEY (practice_id, assessment_id) REFERENCES assessments (practice_id, id)
);
CREATE INDEX assessment_scores_progress_idx
    ON assessment_scores (practice_id, client_id, instrument_key, subscale, completed_at);
