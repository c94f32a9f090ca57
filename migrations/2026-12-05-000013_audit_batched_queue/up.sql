-- Cheaper read auditing: what an entry costs the database is now the entry
-- itself and little more.
--
-- 1. The queue of entries waiting to be sealed holds one row per written
--    batch (its entry ids as an array), not one row per entry: the group
--    commit writes tens of entries in one statement, and each no longer
--    costs a second row, index entry and delete.
-- 2. The trail's tables drop their foreign keys to `practices`. Each
--    inserted row's check took a KEY SHARE lock on its practice's row; with
--    many concurrent writers of one practice those locks become MultiXacts,
--    and the check cost about as much as the read being audited. Entries
--    are written only by the service, with the practice of a verified
--    token, and practices are never deleted.
-- 3. The index on (resource type, resource id) serves one lookup only: a
--    relationship's entries, found for each partner. It keeps just those.

CREATE TABLE audit_unsealed_batches (
    practice_id uuid   NOT NULL,
    -- The batch's first entry id (entry ids are unique and time-ordered).
    batch_id    uuid   NOT NULL,
    entry_ids   uuid[] NOT NULL CHECK (cardinality(entry_ids) > 0),
    PRIMARY KEY (practice_id, batch_id)
);
INSERT INTO audit_unsealed_batches (practice_id, batch_id, entry_ids)
    SELECT practice_id, min(entry_id::text)::uuid, array_agg(entry_id ORDER BY entry_id) FROM audit_unsealed GROUP BY practice_id;
DROP TABLE audit_unsealed;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_practice_id_fkey;
ALTER TABLE audit_chain DROP CONSTRAINT audit_chain_practice_id_fkey;

DROP INDEX audit_events_resource_idx;
CREATE INDEX audit_events_relationship_idx ON audit_events (practice_id, resource_id)
    WHERE resource_type = 'relationship';

CREATE OR REPLACE FUNCTION audit_append(
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
    INSERT INTO audit_unsealed_batches (practice_id, batch_id, entry_ids) VALUES (p_practice, p_ids[1], p_ids);
    RETURN cardinality(p_ids);
END $$;

-- Sealing moves to the service: it reads a round's entries with their
-- content already serialised here, set-based (`audit_content`), and folds
-- the hashes itself. In PL/pgSQL each link cost a call of the SQL function
-- `audit_link`, planned and run one at a time, and sealing took more of the
-- database's time than the reads being audited. `audit_link` stays, now
-- built on `audit_content`, for the verifier, and hashes exactly as before.
DROP FUNCTION audit_seal(uuid, integer);

CREATE FUNCTION audit_content(
    seq bigint, practice_id uuid, id uuid, occurred_at timestamptz,
    api_client text, actor text, action text, operation text, resource_type text, resource_id uuid,
    client_id uuid, outcome integer, request_id text, source text, query jsonb, result_count integer
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT convert_to(jsonb_build_array(
        seq, practice_id, id, (extract(epoch FROM occurred_at) * 1000000)::bigint, api_client, actor, action,
        operation, resource_type, resource_id, client_id, outcome, request_id, source, query, result_count
    )::text, 'UTF8')
$$;

CREATE OR REPLACE FUNCTION audit_link(
    previous_hash bytea, seq bigint, practice_id uuid, id uuid, occurred_at timestamptz,
    api_client text, actor text, action text, operation text, resource_type text, resource_id uuid,
    client_id uuid, outcome integer, request_id text, source text, query jsonb, result_count integer
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT sha256(previous_hash || audit_content(
        seq, practice_id, id, occurred_at, api_client, actor, action, operation, resource_type, resource_id,
        client_id, outcome, request_id, source, query, result_count))
$$;
