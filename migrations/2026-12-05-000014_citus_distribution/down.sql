-- Leaves a Citus cluster's tables distributed (undistributing is an
-- operator's decision, with undistribute_table); on plain PostgreSQL there
-- was nothing to undo.
DROP FUNCTION attune_distribute_schema();
DROP FUNCTION attune_distribute_table(text, text);
DROP FUNCTION attune_reference_tables();
DROP FUNCTION attune_citus();
