CREATE FUNCTION @extschema@.unlock(p_key_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Makes a data key usable by this extension until the current
    -- transaction ends, unwrapping it inside the server with the provider
    -- the DBA configured (vcf_pg_loader.server_key_provider in the server's
    -- configuration files; a session's SET is ignored). The key never
    -- becomes readable from SQL: it stays in this backend's PL/Python memory
    -- and only the extension's own functions use it. SECURITY DEFINER: the
    -- configuration (pg_file_settings) and vcf.data_keys are the owner's.
    -- Raises VP008 (not configured, unsafe master key or credentials file,
    -- provider error), VP002 (unknown or destroyed key), VP003 (does not
    -- unwrap or fails its key check value); every refusal is audited in an
    -- autonomous transaction first.
    IF NOT @extschema@._server_unlock(p_key_id) THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
            '{"sqlstate": "VP008", "via": "server", "refused": "server-side key unwrapping is not configured"}');
        RAISE EXCEPTION 'server-side key unwrapping is not configured'
            USING ERRCODE = 'VP008',
                  HINT = 'Ask the DBA to configure vcf_pg_loader.server_key_provider (docs/security.md), '
                         'or unlock with vcf.unlock(key_id, key) from the control plane.';
    END IF;
END
$$;
