-- Functions already distributed stay so: harmless, and Citus offers no undo
-- short of dropping them.
DROP FUNCTION attune_distribute_functions();
