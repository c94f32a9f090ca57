DROP FUNCTION audit_record(uuid, uuid, timestamptz, text, text, text, text, text, uuid, uuid, integer, text, text,
                           jsonb, integer, uuid[], text[], jsonb[]);
