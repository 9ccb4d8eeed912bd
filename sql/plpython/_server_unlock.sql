CREATE FUNCTION @extschema@._server_unlock(p_key_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_result record;
BEGIN
    -- What vcf.unlock(key_id) does, for vcf._try_unlocked_key: unwraps the
    -- data key inside the server with the provider the DBA configured,
    -- checks its key check value, keeps it for this transaction
    -- (vcf._server_unlocked_key) and audits it ('unlock', via 'server'). A
    -- no-op when it is unlocked already. Returns false, doing nothing, when
    -- server-side unwrapping is not configured. Raises VP002 (unknown or
    -- destroyed key), VP003 (does not unwrap: wrong master key, altered
    -- row), VP008 (misconfigured, unsafe key or credentials file, provider
    -- error); each refusal is audited in an autonomous transaction first
    -- (by vcf._server_unwrap). Granted to no one.
    v_result := @extschema@._server_unwrap(p_key_id);
    IF v_result.o_sqlstate IS NOT NULL THEN
        RAISE EXCEPTION '%', v_result.o_message
            USING ERRCODE = v_result.o_sqlstate, HINT = coalesce(v_result.o_hint, '');
    END IF;
    RETURN v_result.o_unlocked;
END
$$;
