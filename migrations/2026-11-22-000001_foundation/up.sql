-- The tenant. Every table holding practice data carries practice_id, and every
-- index that serves a list leads with it, so the schema can later be
-- distributed by practice.
CREATE TABLE practices (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Credentials of an integration. The secret is stored as an argon2 PHC string.
CREATE TABLE api_clients (
    id                uuid        PRIMARY KEY,
    practice_id       uuid        NOT NULL REFERENCES practices (id),
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash       text        NOT NULL,
    scopes            text[]      NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at timestamptz,
    revoked_at        timestamptz
);
CREATE INDEX api_clients_practice_idx ON api_clients (practice_id, id);

-- The people a practice treats. No clinical content lives here.
CREATE TABLE clients (
    practice_id  uuid        NOT NULL REFERENCES practices (id),
    id           uuid        NOT NULL,
    external_id  text        CHECK (length(external_id) BETWEEN 1 AND 128),
    display_name text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    status       text        NOT NULL CHECK (status IN ('active', 'discharged')),
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    archived_at  timestamptz,
    PRIMARY KEY (practice_id, id)
);
-- An integrator's own id names one live client of the practice; an archived
-- client frees it.
CREATE UNIQUE INDEX clients_external_id_idx
    ON clients (practice_id, external_id)
    WHERE external_id IS NOT NULL AND archived_at IS NULL;

-- Stored answers to POSTs carrying an Idempotency-Key, scoped by practice.
-- The row is inserted in the same transaction as the write it guards, so a
-- concurrent retry waits on it and a failed write leaves no key behind.
CREATE TABLE idempotency_keys (
    practice_id      uuid        NOT NULL REFERENCES practices (id),
    key              text        NOT NULL,
    request_hash     bytea       NOT NULL,
    response_status  smallint,
    response_body    text,
    response_headers jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Who did what: every write records the API client (subject) and, when the
-- token names one, the integrator's clinician (actor). Ids only.
CREATE TABLE audit_events (
    practice_id   uuid        NOT NULL REFERENCES practices (id),
    id            uuid        NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    subject       text        NOT NULL,
    actor         text,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   uuid        NOT NULL,
    request_id    text,
    PRIMARY KEY (practice_id, id)
);
CREATE INDEX audit_events_resource_idx ON audit_events (practice_id, resource_type, resource_id);
