-- A link a client opens to complete assessments and log homework. The token
-- itself is never stored: only its SHA-256 digest. The token names the
-- practice and the link, so a visit reads one row by its key.
CREATE TABLE client_links (
    practice_id          uuid        NOT NULL,
    id                   uuid        NOT NULL,
    client_id            uuid        NOT NULL,
    token_digest         bytea       NOT NULL CHECK (length(token_digest) = 32),
    -- What it covers: every open assessment / active assignment at each
    -- visit, or the listed ones.
    all_open_assessments boolean     NOT NULL DEFAULT false,
    assessment_ids       uuid[]      NOT NULL DEFAULT '{}',
    all_active_homework  boolean     NOT NULL DEFAULT false,
    homework_ids         uuid[]      NOT NULL DEFAULT '{}',
    language             text        CHECK (language IN ('en', 'es')),
    created_by           text        NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    revoked_at           timestamptz,
    finished_at          timestamptz,
    first_opened_at      timestamptz,
    last_used_at         timestamptz,
    version              integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id),
    CHECK (expires_at > created_at)
);
CREATE INDEX client_links_client_idx ON client_links (practice_id, client_id, id);

-- What was submitted through a link: completed assessments and homework logs.
CREATE TABLE client_link_submissions (
    practice_id   uuid        NOT NULL,
    link_id       uuid        NOT NULL,
    resource_type text        NOT NULL CHECK (resource_type IN ('assessment', 'homework_log')),
    resource_id   uuid        NOT NULL,
    -- The assessment, or the assignment a log belongs to.
    item_id       uuid        NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, link_id, resource_id),
    FOREIGN KEY (practice_id, link_id) REFERENCES client_links (practice_id, id)
);

-- Answers saved with "finish later": not scored, kept until the link that
-- saved them expires (a periodic job deletes them after).
CREATE TABLE assessment_drafts (
    practice_id   uuid        NOT NULL,
    assessment_id uuid        NOT NULL,
    link_id       uuid        NOT NULL,
    answers       jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (practice_id, assessment_id),
    FOREIGN KEY (practice_id, assessment_id) REFERENCES assessments (practice_id, id),
    FOREIGN KEY (practice_id, link_id) REFERENCES client_links (practice_id, id)
);
