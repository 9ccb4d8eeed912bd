CREATE FUNCTION @extschema@._key_setting(p_key_id uuid)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- Name of the transaction-local setting that holds an unlocked key.
RETURN 'vcf_pg_loader.unlocked_' || replace(p_key_id::text, '-', '');

