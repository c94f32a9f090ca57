-- The audit trail of every access: reads, searches and denied requests as
-- well as writes, append-only and hash-chained per practice.
--
-- An entry is written with the request (a read's before its answer leaves,
-- a write's in the write's own transaction) into `audit_events`, and queued
-- in `audit_unsealed`. A job that runs on one instance at a time seals the
-- queue into each practice's chain, `audit_chain`, in order: entry number
-- 1, 2, 3, ... (`seq`), each `hash` SHA-256 over the previous link's hash
-- and the entry's content (`audit_link`), so an entry edited, removed or
-- slipped in behind the service's back breaks the chain, and
-- `GET /v1/audit-events/verify` names it. Sealing apart from the request
-- keeps requests off the chain's one lock per practice: a practice's reads
-- never wait on each other to be recorded. The chain's head (last number
-- and hash) sits in `audit_chain_heads`.

-- What a link's hash covers, in one place for the sealer and the verifier:
-- the entry's number and every column of the entry, as a JSON array
-- (jsonb's text form is canonical: one spelling per value, NULL distinct
-- from ''), after the previous link's hash. Times count microseconds since
-- the epoch, so the session's time zone cannot change the text.
CREATE FUNCTION audit_link(
    previous_hash bytea, seq bigint, practice_id uuid, id uuid, occurred_at timestamptz,
    api_client text, actor text, action text, operation text, resource_type text, resource_id uuid,
    client_id uuid, outcome integer, request_id text, source text, query jsonb, result_count integer
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT sha256(previous_hash || convert_to(jsonb_build_array(
        seq, practice_id, id, (extract(epoch FROM occurred_at) * 1000000)::bigint, api_client, actor, action,
        operation, resource_type, resource_id, client_id, outcome, request_id, source, query, result_count
    )::text, 'UTF8'))
$$;

CREATE TABLE audit_chain_heads (
    practice_id uuid   NOT NULL PRIMARY KEY REFERENCES practices (id),
    last_seq    bigint NOT NULL CHECK (last_seq >= 0),
    last_hash   bytea  NOT NULL
);

-- The chain: one link per sealed entry.
CREATE TABLE audit_chain (
    practice_id uuid   NOT NULL REFERENCES practices (id),
    seq         bigint NOT NULL CHECK (seq > 0),
    entry_id    uuid   NOT NULL,
    hash        bytea  NOT NULL,
    PRIMARY KEY (practice_id, seq),
    UNIQUE (practice_id, entry_id)
);

-- Entries written and not yet sealed (the sealer takes them off).
CREATE TABLE audit_unsealed (
    practice_id uuid NOT NULL REFERENCES practices (id),
    entry_id    uuid NOT NULL,
    PRIMARY KEY (practice_id, entry_id)
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
    ADD COLUMN action        text,
    ADD COLUMN client_id     uuid,
    ADD COLUMN outcome       integer,
    ADD COLUMN source        text,
    ADD COLUMN query         jsonb,
    ADD COLUMN result_count  integer,
    ALTER COLUMN resource_id DROP NOT NULL;
UPDATE audit_events SET
    action = CASE
        WHEN operation LIKE '%.created' OR operation LIKE '%.assigned' OR operation LIKE '%.registered'
          OR operation LIKE '%.logged' THEN 'create'
        WHEN operation LIKE '%.deleted' OR operation LIKE '%.revoked' OR operation LIKE '%.archived' THEN 'delete'
        ELSE 'update' END,
    -- Recorded inside transactions that committed: they succeeded.
    outcome = 200,
    client_id = CASE WHEN resource_type = 'client' THEN resource_id END;
ALTER TABLE audit_events
    ALTER COLUMN action SET NOT NULL,
    ALTER COLUMN outcome SET NOT NULL,
    ADD CONSTRAINT audit_events_action_check
        CHECK (action IN ('create', 'read', 'search', 'update', 'delete', 'export', 'erase'));
DROP INDEX audit_events_resource_idx;
-- "Who looked at this client", newest first; and by resource.
CREATE INDEX audit_events_client_idx ON audit_events (practice_id, client_id, id) WHERE client_id IS NOT NULL;
CREATE INDEX audit_events_resource_idx ON audit_events (practice_id, resource_type, resource_id, id);

INSERT INTO audit_chain_heads (practice_id, last_seq, last_hash)
    SELECT id, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea FROM practices;
INSERT INTO audit_unsealed (practice_id, entry_id) SELECT practice_id, id FROM audit_events;

-- Writes entries of one practice and queues them for sealing, as one
-- statement (both or neither). A function, so the caller sends one short
-- prepared call and the server keeps the plans.
CREATE FUNCTION audit_append(
    p_practice uuid, p_ids uuid[], p_occurred_at timestamptz[], p_api_client text[], p_actor text[],
    p_action text[], p_operation text[], p_resource_type text[], p_resource_id uuid[], p_client_id uuid[],
    p_outcome integer[], p_request_id text[], p_source text[], p_query jsonb[], p_result_count integer[]
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO audit_events (practice_id, id, occurred_at, api_client, actor, action, operation, resource_type,
                              resource_id, client_id, outcome, request_id, source, query, result_count)
    SELECT p_practice, b.*
      FROM unnest(p_ids, p_occurred_at, p_api_client, p_actor, p_action, p_operation, p_resource_type,
                  p_resource_id, p_client_id, p_outcome, p_request_id, p_source, p_query, p_result_count) AS b;
    INSERT INTO audit_unsealed (practice_id, entry_id) SELECT p_practice, unnest(p_ids);
    RETURN cardinality(p_ids);
END $$;

-- Links up to p_limit of the practice's queued entries into its chain, in
-- order (time written, then id), each after the head; moves the head; takes
-- them off the queue. One pass, one hash per entry. Returns how many.
CREATE FUNCTION audit_seal(p_practice uuid, p_limit integer) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    entry record;
    head_seq bigint;
    head_hash bytea;
    seqs bigint[] := '{}';
    ids uuid[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    INSERT INTO audit_chain_heads (practice_id, last_seq, last_hash)
        VALUES (p_practice, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
        ON CONFLICT (practice_id) DO NOTHING;
    SELECT h.last_seq, h.last_hash INTO head_seq, head_hash
      FROM audit_chain_heads h WHERE h.practice_id = p_practice FOR UPDATE;
    FOR entry IN
        SELECT e.* FROM audit_unsealed u JOIN audit_events e ON e.practice_id = u.practice_id AND e.id = u.entry_id
         WHERE u.practice_id = p_practice
         ORDER BY e.occurred_at, e.id
         LIMIT p_limit
    LOOP
        head_seq := head_seq + 1;
        head_hash := audit_link(head_hash, head_seq, entry.practice_id, entry.id, entry.occurred_at,
            entry.api_client, entry.actor, entry.action, entry.operation, entry.resource_type, entry.resource_id,
            entry.client_id, entry.outcome, entry.request_id, entry.source, entry.query, entry.result_count);
        seqs := seqs || head_seq;
        ids := ids || entry.id;
        hashes := hashes || head_hash;
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_chain (practice_id, seq, entry_id, hash)
        SELECT p_practice, l.seq, l.entry_id, l.hash FROM unnest(seqs, ids, hashes) AS l(seq, entry_id, hash);
    DELETE FROM audit_unsealed WHERE practice_id = p_practice AND entry_id = ANY (ids);
    UPDATE audit_chain_heads SET last_seq = head_seq, last_hash = head_hash
     WHERE practice_id = p_practice;
    RETURN cardinality(ids);
END $$;

-- Append-only: nothing updates or deletes an entry (or a purge record) but
-- the retention purge below, which says so for its own duration. Someone
-- with the database's superuser can still bypass this; the chain is what
-- finds that.
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF current_setting('attune.audit_purge', true) = 'on' AND TG_OP = 'DELETE'
       AND TG_TABLE_NAME IN ('audit_events', 'audit_chain') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_purges_append_only BEFORE UPDATE OR DELETE ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_purges_no_truncate BEFORE TRUNCATE ON audit_purges
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The one way entries leave the trail: a practice's sealed entries older
-- than a time, as a prefix of its chain, with a record of what went and the
-- hash the first kept link follows. Returns how many were removed.
CREATE FUNCTION audit_purge(p_practice uuid, p_older_than timestamptz) RETURNS bigint
LANGUAGE plpgsql
SET attune.audit_purge = 'on'
AS $$
DECLARE
    through bigint;
    anchor bytea;
    removed bigint;
BEGIN
    -- The prefix ends before the first link whose entry is not old enough.
    SELECT min(c.seq) - 1 INTO through FROM audit_chain c
      JOIN audit_events e ON e.practice_id = c.practice_id AND e.id = c.entry_id
     WHERE c.practice_id = p_practice AND e.occurred_at >= p_older_than;
    IF through IS NULL THEN
        SELECT max(seq) INTO through FROM audit_chain WHERE practice_id = p_practice;
    END IF;
    SELECT hash INTO anchor FROM audit_chain WHERE practice_id = p_practice AND seq = through;
    IF anchor IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM audit_events e USING audit_chain c
     WHERE e.practice_id = p_practice AND c.practice_id = p_practice AND c.entry_id = e.id AND c.seq <= through;
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM audit_chain WHERE practice_id = p_practice AND seq <= through;
    INSERT INTO audit_purges (practice_id, purged_through_seq, anchor_hash, removed, older_than)
        VALUES (p_practice, through, anchor, removed, p_older_than);
    RETURN removed;
END $$;
