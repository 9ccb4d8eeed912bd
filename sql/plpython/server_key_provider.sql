CREATE FUNCTION @extschema@.server_key_provider()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The provider the DBA configured for in-server unwrapping ('local' or
-- 'aws-kms'), or NULL when it is off: the last valid entry of
-- vcf_pg_loader.server_key_provider in the server's configuration files, as
-- vcf.unlock(key_id) reads it. vcfctl asks, so that it unlocks keys of that
-- provider in the server and sends no key over the connection. SECURITY
-- DEFINER: pg_file_settings is for superusers; only this name is returned.
BEGIN ATOMIC
    SELECT nullif(btrim(f.setting), '')
      FROM pg_catalog.pg_file_settings f
     WHERE pg_catalog.lower(f.name) = 'vcf_pg_loader.server_key_provider' AND f.error IS NULL
     ORDER BY f.seqno DESC LIMIT 1;
END;
