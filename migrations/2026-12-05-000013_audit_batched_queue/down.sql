CREATE TABLE audit_unsealed (
    practice_id uuid NOT NULL REFERENCES practices (id),
    entry_id    uuid NOT NULL,
    PRIMARY KEY (practice_id, entry_id)
);
INSERT INTO audit_unsealed (practice_id, entry_id)
    SELECT b.practice_id, u.entry_id FROM audit_unsealed_batches b CROSS JOIN LATERAL unnest(b.entry_ids) AS u(entry_id);
DROP TABLE audit_unsealed_batches;

ALTER TABLE audit_events ADD CONSTRAINT audit_events_practice_id_fkey FOREIGN KEY (practice_id) REFERENCES practices (id);
ALTER TABLE audit_chain ADD CONSTRAINT audit_chain_practice_id_fkey FOREIGN KEY (practice_id) REFERENCES practices (id);

DROP INDEX audit_events_relationship_idx;
CREATE INDEX audit_events_resource_idx ON audit_events (practice_id, resource_type, resource_id, id);

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
    INSERT INTO audit_unsealed (practice_id, entry_id) SELECT p_practice, unnest(p_ids);
    RETURN cardinality(p_ids);
END $$;

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

CREATE OR REPLACE FUNCTION audit_link(
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
DROP FUNCTION audit_content(bigint, uuid, uuid, timestamptz, text, text, text, text, text, uuid, uuid, integer, text, text, jsonb, integer);
