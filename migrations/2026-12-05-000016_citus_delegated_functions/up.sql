-- On Citus, the two functions the service calls on its own (outside a
-- transaction) for one practice run where that practice's shard lives: the
-- coordinator hands the whole call to the worker (Citus's function call
-- delegation, keyed on the practice argument) instead of running the
-- function itself and sending each of its statements to the worker.
--   audit_append      the audit writer's batch of read entries;
--   events_sequence   the numbering a feed read or the dispatcher does first.
-- Inside a transaction (a write's own audit entry) a call still runs on the
-- coordinator, as before. `attune migrate` calls attune_distribute_functions()
-- after every run, like attune_distribute_schema(); a no-op without Citus.
CREATE FUNCTION attune_distribute_functions() RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    f regprocedure;
    distributed integer := 0;
BEGIN
    IF NOT attune_citus() THEN
        RETURN 0;
    END IF;
    FOREACH f IN ARRAY ARRAY[
        'audit_append(uuid, uuid[], timestamptz[], text[], text[], text[], text[], text[], uuid[], uuid[], integer[], '
            'text[], text[], jsonb[], integer[])'::regprocedure,
        'events_sequence(uuid, integer)'::regprocedure
    ] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_dist_object
                        WHERE classid = 'pg_proc'::regclass AND objid = f AND distribution_argument_index IS NOT NULL) THEN
            PERFORM create_distributed_function(f, '$1', colocate_with => 'clients');
            distributed := distributed + 1;
        END IF;
    END LOOP;
    RETURN distributed;
END $$;
