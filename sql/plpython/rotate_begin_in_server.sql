CREATE FUNCTION @extschema@.rotate_begin_in_server()
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_new uuid := gen_random_uuid();
    v_key record;
BEGIN
    -- vcf.rotate_begin with a key made inside the server by the provider the
    -- DBA configured (see vcf._server_generate_key): no key leaves the
    -- server. Returns the retiring key's id. Raises what rotate_begin raises,
    -- and what server-side key generation raises when it is not configured.
    SELECT * INTO STRICT v_key FROM @extschema@._server_generate_key(
        v_new, jsonb_build_object('purpose', 'phi', 'database', current_database(),
                                  'key_id', v_new::text));
    RETURN @extschema@.rotate_begin(v_new, v_key.provider, v_key.kek_id, v_key.wrapped_key,
        jsonb_build_object('purpose', 'phi', 'database', current_database(), 'key_id', v_new::text),
        v_key.key_check);
END
$$;
