-- The audit trail of every access: reads, searches and denied requests as
-- well as writes, append-only and hash-chained per practice.
--
-- Each practice's entries are numbered 1, 2, 3, ... (`seq`) and each entry's
-- `hash` is SHA-256 over the previous entry's hash and the entry's own
-- content (`audit_link`), so an entry edited, removed or slipped in behind
-- the service's back breaks the chain at that point, and
-- `GET /v1/audit-events/verify` names it. The chain's head (last number and
-- hash) sits in `audit_chain_heads`; an appender holds its row lock until
-- its transaction ends, which orders the practice's entries.

-- What an entry's hash covers, in one place for the appender and the
-- verifier: every column but the hash, as a JSON array (jsonb's text form is
-- canonical: one spelling per value, NULL distinct from ''), after the
-- previous entry's hash. Times count microseconds since the epoch, so the
-- session's time zone cannot change the text.
CREATE FUNCTION audit_link(
    previous_hash bytea, practice_id uuid, seq bigint, id uuid, occurred_at timestamptz,
    api_client text, actor text, action text, operation text, resource_type text, resource_id uuid,
    client_id uuid, outcome integer, request_id text, source text, query jsonb, result_count integer
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT sha256(previous_hash || convert_to(jsonb_build_array(
        practice_id, seq, id, (extract(epoch FROM occurred_at) * 1000000)::bigint, api_client, actor, action,
        operation, resource_type, resource_id, client_id, outcome, request_id, source, query, result_count
    )::text, 'UTF8'))
$$;

CREATE TABLE audit_chain_heads (
    practice_id uuid   NOT NULL PRIMARY KEY REFERENCES practices (id),
    last_seq    bigint NOT NULL CHECK (last_seq >= 0),
    last_hash   bytea  NOT NULL
);

-- Where a retention purge cut the chain: the first kept entry links to the
-- hash of the last removed one, which is kept here.
CREATE TABLE audit_purges (
    practice_id        uuid        NOT NULL REFERENCES practices (id),
    purged_through_seq bigint      NOT NULL,
    anchor_hash        bytea       NOT NULL,
    removed            bigint      NOT NULL,
    older_than         timestamptz NOT NULL,
    purged_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, purged_through_seq)
);

-- The earlier trail (writes only) becomes the start of each practice's chain.
ALTER TABLE audit_events RENAME COLUMN subject TO api_client;
ALTER TABLE audit_events RENAME COLUMN action TO operation;
ALTER TABLE audit_events
    ADD COLUMN seq           bigint,
    ADD COLUMN action        text,
    ADD COLUMN client_id     uuid,
    ADD COLUMN outcome       integer,
    ADD COLUMN source        text,
    ADD COLUMN query         jsonb,
    ADD COLUMN result_count  integer,
    ADD COLUMN hash          bytea,
    ALTER COLUMN resource_id DROP NOT NULL;
UPDATE audit_events SET
    action = CASE
        WHEN operation LIKE '%.created' OR operation LIKE '%.assigned' OR operation LIKE '%.registered'
          OR operation LIKE '%.logged' THEN 'create'
        WHEN operation LIKE '%.deleted' OR operation LIKE '%.revoked' OR operation LIKE '%.archived' THEN 'delete'
        ELSE 'update' END,
    -- Recorded inside transactions that committed: they succeeded.
    outcome = 200,
    client_id = CASE WHEN resource_type = 'client' THEN resource_id END,
    seq = numbered.seq
FROM (SELECT practice_id, id, row_number() OVER (PARTITION BY practice_id ORDER BY occurred_at, id) AS seq
        FROM audit_events) numbered
WHERE audit_events.practice_id = numbered.practice_id AND audit_events.id = numbered.id;

INSERT INTO audit_chain_heads (practice_id, last_seq, last_hash)
    SELECT id, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea FROM practices;

DO $$
DECLARE
    entry record;
    previous bytea;
    current_practice uuid;
BEGIN
    FOR entry IN SELECT * FROM audit_events ORDER BY practice_id, seq LOOP
        IF current_practice IS DISTINCT FROM entry.practice_id THEN
            current_practice := entry.practice_id;
            previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;
        previous := audit_link(previous, entry.practice_id, entry.seq, entry.id, entry.occurred_at, entry.api_client,
            entry.actor, entry.action, entry.operation, entry.resource_type, entry.resource_id, entry.client_id,
            entry.outcome, entry.request_id, entry.source, entry.query, entry.result_count);
        UPDATE audit_events SET hash = previous WHERE practice_id = entry.practice_id AND seq = entry.seq;
        UPDATE audit_chain_heads SET last_seq = entry.seq, last_hash = previous WHERE practice_id = entry.practice_id;
    END LOOP;
END $$;

ALTER TABLE audit_events
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN action SET NOT NULL,
    ALTER COLUMN outcome SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT audit_events_action_check
        CHECK (action IN ('create', 'read', 'search', 'update', 'delete', 'export', 'erase')),
    DROP CONSTRAINT audit_events_pkey,
    ADD PRIMARY KEY (practice_id, seq),
    ADD CONSTRAINT audit_events_id_key UNIQUE (practice_id, id);
DROP INDEX audit_events_resource_idx;
-- "Who looked at this client": newest first within one client's entries.
CREATE INDEX audit_events_client_idx ON audit_events (practice_id, client_id, seq) WHERE client_id IS NOT NULL;
CREATE INDEX audit_events_resource_idx ON audit_events (practice_id, resource_type, resource_id, seq);

-- Append-only: nothing updates or deletes an entry (or a purge record) but
-- the retention purge below, which says so for its own duration. Someone
-- with the database's superuser can still bypass this; the chain is what
-- finds that.
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF current_setting('attune.audit_purge', true) = 'on' AND TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_purges_append_only BEFORE UPDATE OR DELETE ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_purges_no_truncate BEFORE TRUNCATE ON audit_purges
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The one way entries leave the trail: a practice's entries older than a
-- time, as a prefix of its chain, with a record of what went and the hash
-- the first kept entry links to. Returns how many were removed.
CREATE FUNCTION audit_purge(p_practice uuid, p_older_than timestamptz) RETURNS bigint
LANGUAGE plpgsql
SET attune.audit_purge = 'on'
AS $$
DECLARE
    through bigint;
    anchor bytea;
    removed bigint;
BEGIN
    -- The prefix ends before the first entry that is not old enough.
    SELECT coalesce(min(seq) - 1, max(seq)) INTO through FROM audit_events
     WHERE practice_id = p_practice AND occurred_at >= p_older_than;
    IF through IS NULL THEN
        SELECT max(seq) INTO through FROM audit_events WHERE practice_id = p_practice;
    END IF;
    SELECT hash INTO anchor FROM audit_events WHERE practice_id = p_practice AND seq = through;
    IF anchor IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM audit_events WHERE practice_id = p_practice AND seq <= through;
    GET DIAGNOSTICS removed = ROW_COUNT;
    INSERT INTO audit_purges (practice_id, purged_through_seq, anchor_hash, removed, older_than)
        VALUES (p_practice, through, anchor, removed, p_older_than);
    RETURN removed;
END $$;
