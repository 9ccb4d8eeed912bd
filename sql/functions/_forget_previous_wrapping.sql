CREATE FUNCTION @extschema@._forget_previous_wrapping(p_key_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row @extschema@.data_keys%ROWTYPE;
BEGIN
    -- Lets go of the wrapped form a client-proven rewrap kept for undo
    -- (vcf.data_keys.previous_*), when the server can never prove the new
    -- form itself (no plpython companion, e.g. RDS) and the old KEK must stop
    -- opening the key (a local master key file that leaked, an env key). Do
    -- it once the new form has been seen to work (vcfctl keys rewrap checks
    -- it; a reveal or ingest since used it). The extension owner's only (no
    -- grant: not for vcf_key_admin, whose rewrap it would make final).
    -- Returns false when nothing was kept. Audited ('rewrap_forget').
    -- Raises VP002 (no such key).
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'data key % does not exist', p_key_id
            USING ERRCODE = 'VP002', HINT = 'List keys with "vcfctl keys list".';
    END IF;
    IF v_row.previous_wrapped_key IS NULL THEN
        RETURN false;
    END IF;
    UPDATE @extschema@.data_keys
       SET previous_provider = NULL, previous_kek_id = NULL,
           previous_wrapped_key = NULL, previous_replaced_at = NULL
     WHERE key_id = p_key_id;
    PERFORM @extschema@._audit('rewrap_forget', p_key_id::text, true,
        jsonb_build_object('purpose', v_row.purpose, 'kek_id', v_row.kek_id,
                           'forgotten_provider', v_row.previous_provider,
                           'forgotten_kek_id', v_row.previous_kek_id));
    RETURN true;
END
$$;
