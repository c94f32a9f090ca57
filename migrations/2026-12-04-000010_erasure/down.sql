DROP TABLE retention_policies;
DROP INDEX clients_retention_idx;
DROP INDEX clients_erasure_due_idx;

-- The schema before this migration has no place for a tombstone (a client
-- without a name): the rows of erased clients go, the audit trail keeps
-- their ids.
DELETE FROM clients WHERE status = 'erased';

ALTER TABLE clients
    DROP CONSTRAINT clients_erasure_cancelled_check,
    DROP CONSTRAINT clients_erasure_request_check,
    DROP CONSTRAINT clients_erased_check,
    DROP CONSTRAINT clients_discharged_at_check,
    DROP CONSTRAINT clients_display_name_check,
    ADD CONSTRAINT clients_display_name_check CHECK (length(display_name) BETWEEN 1 AND 200),
    DROP CONSTRAINT clients_status_check,
    ADD CONSTRAINT clients_status_check CHECK (status IN ('active', 'discharged'));

ALTER TABLE clients
    DROP COLUMN erased_at,
    DROP COLUMN erasure_cancelled_at,
    DROP COLUMN erasure_scheduled_for,
    DROP COLUMN erasure_requested_by_actor,
    DROP COLUMN erasure_requested_by,
    DROP COLUMN erasure_requested_at,
    DROP COLUMN erasure_reason,
    DROP COLUMN erasure_state,
    DROP COLUMN discharged_at,
    DROP COLUMN legal_hold;
