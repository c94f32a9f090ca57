DROP FUNCTION audit_purge(uuid, timestamptz);
DROP FUNCTION audit_seal(uuid, integer);
DROP FUNCTION audit_append(uuid, uuid[], timestamptz[], text[], text[], text[], text[], text[], uuid[], uuid[], integer[], text[], text[], jsonb[], integer[]);
DROP TRIGGER audit_purges_no_truncate ON audit_purges;
DROP TRIGGER audit_purges_append_only ON audit_purges;
DROP TRIGGER audit_chain_no_truncate ON audit_chain;
DROP TRIGGER audit_chain_append_only ON audit_chain;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_refuse_change();
DROP INDEX audit_events_resource_idx;
DROP INDEX audit_events_client_idx;
-- Only what the earlier trail held goes back: writes, by their old names.
DELETE FROM audit_events WHERE action IN ('read', 'search', 'export', 'erase') OR outcome >= 300;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
UPDATE audit_events SET resource_id = '00000000-0000-0000-0000-000000000000' WHERE resource_id IS NULL;
ALTER TABLE audit_events
    ALTER COLUMN resource_id SET NOT NULL,
    DROP COLUMN result_count,
    DROP COLUMN query,
    DROP COLUMN source,
    DROP COLUMN outcome,
    DROP COLUMN client_id,
    DROP COLUMN action;
ALTER TABLE audit_events RENAME COLUMN operation TO action;
ALTER TABLE audit_events RENAME COLUMN api_client TO subject;
CREATE INDEX audit_events_resource_idx ON audit_events (practice_id, resource_type, resource_id);
DROP TABLE audit_purges;
DROP TABLE audit_unsealed;
DROP TABLE audit_chain;
DROP TABLE audit_chain_heads;
DROP FUNCTION audit_link(bytea, bigint, uuid, uuid, timestamptz, text, text, text, text, text, uuid, uuid, integer, text, text, jsonb, integer);
