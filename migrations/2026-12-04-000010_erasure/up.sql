-- Erasure of a client's record (GDPR art. 17), legal hold and a practice's
-- retention policy. The erasure state lives on the client row itself: after
-- an erasure the row is a tombstone that keeps only its ids, its dates and
-- the record of the erasure, so the client's id is left in no other table
-- but the audit trail and the `client.erased` event.

ALTER TABLE clients
    -- While true, no erasure runs (a scheduled one waits) and a request is refused.
    ADD COLUMN legal_hold                 boolean     NOT NULL DEFAULT false,
    -- When the client was last discharged: what the retention policy counts from.
    ADD COLUMN discharged_at              timestamptz,
    -- The latest erasure request: scheduled, cancelled or completed.
    ADD COLUMN erasure_state              text        CHECK (erasure_state IN ('scheduled', 'cancelled', 'completed')),
    -- The operator's note (never clinical content, never logged).
    ADD COLUMN erasure_reason             text        CHECK (length(erasure_reason) BETWEEN 1 AND 500),
    ADD COLUMN erasure_requested_at       timestamptz,
    -- The token's subject (an API client id), or attune:retention-policy.
    ADD COLUMN erasure_requested_by       text        CHECK (length(erasure_requested_by) BETWEEN 1 AND 255),
    -- The clinician the requesting token acted for, when it named one.
    ADD COLUMN erasure_requested_by_actor text        CHECK (length(erasure_requested_by_actor) BETWEEN 1 AND 255),
    ADD COLUMN erasure_scheduled_for      timestamptz,
    ADD COLUMN erasure_cancelled_at       timestamptz,
    ADD COLUMN erased_at                  timestamptz;

-- The best the rows know of a discharge before this column: their last
-- change, which is never earlier than the discharge, so a retention policy
-- erases no one sooner than it should.
UPDATE clients SET discharged_at = updated_at WHERE status = 'discharged';

ALTER TABLE clients
    DROP CONSTRAINT clients_status_check,
    ADD CONSTRAINT clients_status_check CHECK (status IN ('active', 'discharged', 'erased')),
    -- A tombstone has no name.
    DROP CONSTRAINT clients_display_name_check,
    ADD CONSTRAINT clients_display_name_check
        CHECK (length(display_name) BETWEEN 1 AND 200 OR (status = 'erased' AND display_name = '')),
    ADD CONSTRAINT clients_discharged_at_check CHECK ((status = 'discharged') = (discharged_at IS NOT NULL)),
    -- Erased exactly when the erasure completed, and then nothing of the client is left.
    ADD CONSTRAINT clients_erased_check CHECK (
        (status = 'erased') = (erased_at IS NOT NULL)
        AND (erased_at IS NOT NULL) = (erasure_state IS NOT DISTINCT FROM 'completed')
        AND (erased_at IS NULL OR (display_name = '' AND external_id IS NULL AND archived_at IS NULL AND NOT legal_hold))),
    ADD CONSTRAINT clients_erasure_request_check CHECK (
        erasure_state IS NULL
        OR (erasure_reason IS NOT NULL AND erasure_requested_at IS NOT NULL
            AND erasure_requested_by IS NOT NULL AND erasure_scheduled_for IS NOT NULL)),
    ADD CONSTRAINT clients_erasure_cancelled_check
        CHECK ((erasure_state IS NOT DISTINCT FROM 'cancelled') = (erasure_cancelled_at IS NOT NULL));

-- The erasure job's queue: due erasures of every practice, soonest first.
CREATE INDEX clients_erasure_due_idx ON clients (erasure_scheduled_for) WHERE erasure_state = 'scheduled';

-- The retention policy's reach: per practice, clients by when care ended
-- (the earlier of discharge and archiving), as the job and the preview ask.
CREATE INDEX clients_retention_idx ON clients (practice_id, (least(discharged_at, archived_at)))
    WHERE erased_at IS NULL;

-- A practice's retention policy. No row, or erase_after_days NULL: off.
CREATE TABLE retention_policies (
    practice_id      uuid        NOT NULL PRIMARY KEY REFERENCES practices (id),
    -- Clients discharged or archived more than this many days ago are
    -- scheduled for erasure (at least a year; at most a century).
    erase_after_days integer     CHECK (erase_after_days BETWEEN 365 AND 36500),
    version          integer     NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
