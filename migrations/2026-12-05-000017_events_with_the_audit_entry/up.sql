-- A write's events ride in the statement that records its audit entry.
-- Each event used to be an INSERT of its own, one more round trip inside
-- the write's transaction (two for an assessment completed on creation),
-- while the transaction held its row locks. The audit entry is recorded
-- last in every write that publishes events, so the events join it:
-- the same transaction as before, one statement fewer per event.
--
-- One entry (a write records exactly one) and any number of events, in the
-- order given: their ids are time-ordered, and numbering goes by them.
-- The entry's two inserts are `audit_append`'s for a single row, written
-- out rather than called: the nested call, with its one-element arrays and
-- unnest, cost about 12 us more per write (pgbench, one connection, three
-- alternations: 8.3-9.4k calls a second against 9.7-10.1k).
CREATE FUNCTION audit_record(
    p_practice uuid, p_id uuid, p_occurred_at timestamptz, p_api_client text, p_actor text,
    p_action text, p_operation text, p_resource_type text, p_resource_id uuid, p_client_id uuid,
    p_outcome integer, p_request_id text, p_source text, p_query jsonb, p_result_count integer,
    p_event_ids uuid[], p_event_types text[], p_event_data jsonb[]
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO audit_events (practice_id, id, occurred_at, api_client, actor, action, operation, resource_type,
                              resource_id, client_id, outcome, request_id, source, query, result_count)
    VALUES (p_practice, p_id, p_occurred_at, p_api_client, p_actor, p_action, p_operation, p_resource_type,
            p_resource_id, p_client_id, p_outcome, p_request_id, p_source, p_query, p_result_count);
    INSERT INTO audit_unsealed_batches (practice_id, batch_id, entry_ids) VALUES (p_practice, p_id, ARRAY[p_id]);
    IF cardinality(p_event_ids) > 0 THEN
        INSERT INTO events (practice_id, id, type, data)
        SELECT p_practice, e.id, e.type, e.data FROM unnest(p_event_ids, p_event_types, p_event_data) AS e(id, type, data);
    END IF;
    RETURN cardinality(p_event_ids);
END $$;
