-- Practice-wide exports by FHIR Bulk Data Access. An export is a row that
-- any instance may claim (FOR UPDATE SKIP LOCKED, then a lease it renews);
-- its NDJSON files live here too, as chunks, so every instance can serve
-- them and nothing depends on an instance's disk.
CREATE TABLE exports (
    practice_id      uuid        NOT NULL REFERENCES practices (id),
    id               uuid        NOT NULL,
    -- pending: queued, or waiting to be tried again; running: an instance
    -- holds the lease; completed: files ready until expires_at; failed:
    -- error says why; expired: the files are gone, the row stays a while to
    -- answer 410. A cancelled export is deleted.
    state            text        NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed', 'expired')),
    types            text[]      NOT NULL,
    since            timestamptz,
    -- The kick-off request as the manifest's `request` repeats it.
    request          text        NOT NULL,
    requested_by     text        NOT NULL,
    requested_actor  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    -- The snapshot every file was read from (the manifest's transactionTime).
    transaction_time timestamptz,
    finished_at      timestamptz,
    expires_at       timestamptz,
    -- Resources written so far, and how many the snapshot holds.
    progress_done    bigint      NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total   bigint      CHECK (progress_total >= 0),
    -- Why the last attempt stopped (never clinical content).
    error            text,
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- The claim: who holds it (a fresh id per attempt) and until when.
    lease_id         uuid,
    leased_until     timestamptz,
    PRIMARY KEY (practice_id, id),
    CHECK (state <> 'completed' OR (transaction_time IS NOT NULL AND expires_at IS NOT NULL))
);
-- One export at a time per practice.
CREATE UNIQUE INDEX exports_one_open_idx ON exports (practice_id) WHERE state IN ('pending', 'running');
-- What the runner claims next.
CREATE INDEX exports_due_idx ON exports (created_at) WHERE state IN ('pending', 'running');
-- What the purge removes next.
CREATE INDEX exports_expiry_idx ON exports (expires_at) WHERE expires_at IS NOT NULL;

-- One NDJSON file of an export: resources of one type, numbered from 1.
CREATE TABLE export_files (
    practice_id   uuid    NOT NULL,
    export_id     uuid    NOT NULL,
    resource_type text    NOT NULL CHECK (resource_type ~ '^[A-Z][A-Za-z]{1,63}$'),
    part          integer NOT NULL CHECK (part >= 1),
    resources     bigint  NOT NULL CHECK (resources >= 0),
    bytes         bigint  NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (practice_id, export_id, resource_type, part),
    FOREIGN KEY (practice_id, export_id) REFERENCES exports (practice_id, id) ON DELETE CASCADE
);

-- A file's bytes, in chunks of whole lines (about 1 MiB each), so that
-- writing and serving a file of any size holds one chunk at a time.
CREATE TABLE export_chunks (
    practice_id   uuid    NOT NULL,
    export_id     uuid    NOT NULL,
    resource_type text    NOT NULL,
    part          integer NOT NULL,
    seq           integer NOT NULL CHECK (seq >= 1),
    data          bytea   NOT NULL,
    PRIMARY KEY (practice_id, export_id, resource_type, part, seq),
    FOREIGN KEY (practice_id, export_id) REFERENCES exports (practice_id, id) ON DELETE CASCADE
);

-- A client's events, for the client's record (the feed's rows carry the
-- client in their data).
CREATE INDEX events_client_idx ON events (practice_id, (data ->> 'client_id'), sequence);
