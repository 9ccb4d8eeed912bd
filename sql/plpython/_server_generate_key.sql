CREATE FUNCTION @extschema@._server_generate_key(p_key_id uuid, p_context jsonb)
RETURNS TABLE (provider text, kek_id text, wrapped_key bytea, key_check bytea)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_result record;
BEGIN
    -- A fresh 64-byte data key from the server's provider (local: random
    -- bytes wrapped under the master key file; aws-kms: GenerateDataKey with
    -- NumberOfBytes = 64 under vcf_pg_loader.aws_kms_key_id, else the KMS key
    -- of the active PHI key), bound to p_context. The plaintext stays in the
    -- server, unlocked for this transaction under p_key_id
    -- (vcf._server_unlocked_key); only the wrapped form and its key check
    -- value (= vcf._key_check of the key) are returned, for vcf.key_register.
    -- Raises VP008 when server-side unwrapping is not configured or the
    -- provider fails (audited as 'key_generate'). Granted to no one.
    v_result := @extschema@._server_generate(p_key_id, p_context);
    IF v_result.o_sqlstate IS NOT NULL THEN
        RAISE EXCEPTION '%', v_result.o_message
            USING ERRCODE = v_result.o_sqlstate, HINT = coalesce(v_result.o_hint, '');
    END IF;
    RETURN QUERY SELECT v_result.o_provider, v_result.o_kek_id, v_result.o_wrapped_key, v_result.o_key_check;
END
$$;
