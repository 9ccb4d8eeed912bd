CREATE FUNCTION @extschema@.active_phi_key_id()
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The id of the one active PHI key, or NULL before "vcfctl keys init".
BEGIN ATOMIC
    SELECT key_id FROM @extschema@.data_keys WHERE purpose = 'phi' AND state = 'active';
END;

