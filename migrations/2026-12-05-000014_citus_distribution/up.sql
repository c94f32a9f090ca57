-- On a Citus cluster (the `citus` extension present in this database), the
-- schema distributes itself: every practice-owned table hash-distributed on
-- practice_id and colocated with `clients`, so that all of one practice's
-- rows live on one shard group and each of its requests is routed to one
-- worker; `practices`, `api_clients`, `instruments` and `exercises` (read by
-- every practice, or looked up before the practice is known) as reference
-- tables, copied to every node. Foreign keys are all kept. On plain
-- PostgreSQL these functions do nothing and the schema is what it was.
--
-- `attune migrate` calls attune_distribute_schema() after every run, so a
-- database that gains Citus later is distributed by the next migrate.
--
-- A FUTURE MIGRATION THAT ADDS A TABLE keeps both shapes by creating the
-- table without its foreign keys, then calling
--     SELECT attune_distribute_table('the_table');   -- or 'reference'
-- and only then adding the foreign keys with ALTER TABLE. (Citus refuses a
-- foreign key between a plain table and a distributed one, so the keys
-- cannot come first; on plain PostgreSQL the call does nothing.) A
-- practice-owned table has practice_id NOT NULL leading its primary key and
-- every unique key, and its foreign keys to other practice-owned tables
-- include practice_id: what Citus needs to enforce them within a shard.

CREATE FUNCTION attune_citus() RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') $$;

-- The tables every practice reads: copied to every node.
CREATE FUNCTION attune_reference_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['practices', 'api_clients', 'instruments', 'exercises'] $$;

-- Distributes one table: `kind` 'distributed' (on practice_id, colocated
-- with clients) or 'reference'. Does nothing without Citus or when the
-- table is distributed already. The caller's foreign keys to and from it
-- must be added after (see above).
CREATE FUNCTION attune_distribute_table(p_table text, p_kind text DEFAULT 'distributed') RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT attune_citus() THEN
        RETURN;
    END IF;
    IF p_kind NOT IN ('distributed', 'reference') THEN
        RAISE EXCEPTION 'attune_distribute_table: kind must be distributed or reference, not %', p_kind;
    END IF;
    IF EXISTS (SELECT 1 FROM citus_tables WHERE table_name = p_table::regclass) THEN
        RETURN;
    END IF;
    -- The trail's append-only triggers only raise: safe to run on shards.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Tables, keys and data created in this transaction are then visible to
    -- the statements that follow it in the same transaction.
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    IF p_kind = 'reference' THEN
        PERFORM create_reference_table(p_table);
    ELSIF p_table = 'clients' THEN
        PERFORM create_distributed_table(p_table, 'practice_id');
    ELSE
        PERFORM create_distributed_table(p_table, 'practice_id', colocate_with => 'clients');
    END IF;
END $$;

-- Distributes every table not distributed yet: the reference tables, then
-- `clients`, then every other table with a practice_id column. Foreign keys
-- that touch a table about to be distributed are dropped first and added
-- back after (Citus cannot distribute a table that a plain table
-- references, nor one that references a plain table). Answers how many
-- tables it distributed; 0 without Citus.
CREATE FUNCTION attune_distribute_schema() RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    pending text[];
    t text;
    fk record;
BEGIN
    IF NOT attune_citus() THEN
        RETURN 0;
    END IF;
    SELECT array_agg(c.relname::text ORDER BY c.relname) INTO pending
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       AND (c.relname = ANY (attune_reference_tables())
            OR EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped))
       AND NOT EXISTS (SELECT 1 FROM citus_tables d WHERE d.table_name = c.oid)
       -- A reference table's copy on this node (shards are named after their table).
       AND NOT EXISTS (SELECT 1 FROM pg_dist_shard s WHERE c.relname = s.logicalrelid::regclass::text || '_' || s.shardid);
    IF pending IS NULL THEN
        RETURN 0;
    END IF;
    CREATE TEMP TABLE attune_set_aside_keys ON COMMIT DROP AS
        SELECT f.conrelid::regclass::text AS tbl, f.conname::text AS name, pg_get_constraintdef(f.oid) AS def
          FROM pg_constraint f
         WHERE f.contype = 'f' AND f.connamespace = 'public'::regnamespace
           AND (f.conrelid::regclass::text = ANY (pending) OR f.confrelid::regclass::text = ANY (pending));
    FOR fk IN SELECT * FROM attune_set_aside_keys LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', fk.tbl, fk.name);
    END LOOP;
    FOREACH t IN ARRAY attune_reference_tables() LOOP
        IF t = ANY (pending) THEN
            PERFORM attune_distribute_table(t, 'reference');
        END IF;
    END LOOP;
    IF 'clients' = ANY (pending) THEN
        PERFORM attune_distribute_table('clients');
    END IF;
    FOREACH t IN ARRAY pending LOOP
        IF t <> 'clients' AND NOT t = ANY (attune_reference_tables()) THEN
            PERFORM attune_distribute_table(t);
        END IF;
    END LOOP;
    FOR fk IN SELECT * FROM attune_set_aside_keys LOOP
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
    RETURN cardinality(pending);
END $$;

SELECT attune_distribute_schema();
